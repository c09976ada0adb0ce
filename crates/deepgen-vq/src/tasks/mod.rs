//! Training tasks and the examples' drivers: [`vq_task`] trains a VQ autoencoder,
//! [`symbol_maps`] trains a PixelCNN on maps of symbols (VQ codes or binarised pixels).

pub mod pixelcnn_mnist;
pub mod symbol_maps;
pub mod vq_example;
pub mod vq_task;
