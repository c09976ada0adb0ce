//! Training tasks and the examples' drivers: [`vq_task`] trains a VQ autoencoder,
//! [`symbol_maps`] trains a PixelCNN on maps of symbols (VQ codes or binarised pixels).

pub mod pixelcnn_mnist;
pub mod symbol_maps;
pub mod vq_example;
pub mod vq_task;

use deepgen_train::TrainError;

/// MNIST's classes (the class-conditional priors' labels).
pub const MNIST_CLASSES: usize = 10;

/// The sampling flags every VQ example shares: `--temperature` finite and positive, `--class`
/// only with `--class-conditional` and a digit.
///
/// # Errors
/// [`TrainError::Config`] naming the flag.
pub fn check_sampling_flags(
    temperature: f64,
    class: Option<usize>,
    class_conditional: bool,
) -> Result<(), TrainError> {
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(TrainError::config(
            "temperature",
            format!("must be finite and positive, got {temperature}"),
        ));
    }
    match class {
        Some(_) if !class_conditional => Err(TrainError::config(
            "class",
            "needs --class-conditional (an unconditional model has no classes)",
        )),
        Some(k) if k >= MNIST_CLASSES => Err(TrainError::config(
            "class",
            format!("must be a digit in 0..=9, got {k}"),
        )),
        _ => Ok(()),
    }
}
