//! Batched inference of the classifier on host images.
//!
//! Images cross the host/device boundary as flat `f32` slices of
//! `N × 784` pixels in `[0, 1]`, row-major per image, which is what every
//! deepgen sampler returns. Inference runs in batches of [`INFERENCE_BATCH`]
//! on whatever device the model lives on (a plain, non-autodiff device for
//! evaluation).

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::EvalError;
use crate::classifier::{IMAGE_PIXELS, IMAGE_SIDE, MnistClassifier};

/// Images per forward pass during evaluation.
pub const INFERENCE_BATCH: usize = 500;

/// Converts MNIST bytes (0–255) to pixels in `[0, 1]`.
pub fn bytes_to_unit(pixels: &[u8]) -> Vec<f32> {
    pixels.iter().map(|&p| p as f32 / 255.0).collect()
}

/// The number of images in a flat `N × 784` slice.
///
/// # Errors
/// [`EvalError::Shape`] if the length is not a multiple of 784 or is zero;
/// [`EvalError::NonFinite`] if a pixel is NaN or infinite.
pub fn image_count(images: &[f32], what: &'static str) -> Result<usize, EvalError> {
    if images.is_empty() || !images.len().is_multiple_of(IMAGE_PIXELS) {
        return Err(EvalError::Shape {
            what,
            expected: format!("N × {IMAGE_PIXELS} pixels (N ≥ 1 images of 28×28, in [0, 1])"),
            got: format!("{} values", images.len()),
        });
    }
    if images.iter().any(|x| !x.is_finite()) {
        return Err(EvalError::NonFinite { what });
    }
    Ok(images.len() / IMAGE_PIXELS)
}

/// A `[B, 1, 28, 28]` tensor from `B × 784` host pixels.
pub fn images_tensor(images: &[f32], device: &Device) -> Tensor<4> {
    let b = images.len() / IMAGE_PIXELS;
    Tensor::from_data(
        TensorData::new(images.to_vec(), [b, 1, IMAGE_SIDE, IMAGE_SIDE]),
        device,
    )
}

/// A `[B]` integer tensor of class labels.
pub fn labels_tensor(labels: &[u8], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Tensor::from_data(TensorData::new(v, [labels.len()]), device)
}

/// Feature-layer activations of every image, `N × feature_dim` row-major.
///
/// # Errors
/// As [`image_count`].
pub fn batched_features(
    model: &MnistClassifier,
    images: &[f32],
    device: &Device,
) -> Result<Vec<f32>, EvalError> {
    let n = image_count(images, "features: `images`")?;
    let mut out = Vec::with_capacity(n * model.feature_dim());
    for chunk in images.chunks(INFERENCE_BATCH * IMAGE_PIXELS) {
        let f = model.features(images_tensor(chunk, device));
        out.extend(read_f32(f.into_data()));
    }
    Ok(out)
}

/// The arg-max class of every image.
///
/// # Errors
/// As [`image_count`].
pub fn batched_predictions(
    model: &MnistClassifier,
    images: &[f32],
    device: &Device,
) -> Result<Vec<u8>, EvalError> {
    let n = image_count(images, "classify: `images`")?;
    let mut out = Vec::with_capacity(n);
    for chunk in images.chunks(INFERENCE_BATCH * IMAGE_PIXELS) {
        let pred = model.forward(images_tensor(chunk, device)).argmax(1);
        let data = pred.into_data();
        let v = data
            .try_into_vec_as::<i64>()
            .expect("argmax yields integers convertible to i64");
        out.extend(v.into_iter().map(|c| c as u8));
    }
    Ok(out)
}

/// Fraction of `predicted[i] == wanted[i]`.
pub fn agreement(predicted: &[u8], wanted: &[u8]) -> f64 {
    let hits = predicted.iter().zip(wanted).filter(|(p, w)| p == w).count();
    hits as f64 / predicted.len().max(1) as f64
}

/// Test accuracy of `model` on MNIST-format bytes (`labels.len()` images).
///
/// # Errors
/// [`EvalError::Shape`] if `images` does not hold `labels.len()` 28×28 images.
pub fn accuracy_on_bytes(
    model: &MnistClassifier,
    images: &[u8],
    labels: &[u8],
    device: &Device,
) -> Result<f64, EvalError> {
    if images.len() != labels.len() * IMAGE_PIXELS || labels.is_empty() {
        return Err(EvalError::Shape {
            what: "accuracy: `images` and `labels`",
            expected: format!(
                "{} × {IMAGE_PIXELS} pixel bytes for {} labels",
                labels.len(),
                labels.len()
            ),
            got: format!("{} bytes", images.len()),
        });
    }
    let mut hits = 0usize;
    // Convert per chunk: the whole test set as f32 is 31 MB, no need to hold it.
    for (img, lab) in images
        .chunks(INFERENCE_BATCH * IMAGE_PIXELS)
        .zip(labels.chunks(INFERENCE_BATCH))
    {
        let pred = batched_predictions(model, &bytes_to_unit(img), device)?;
        hits += pred.iter().zip(lab).filter(|(p, l)| p == l).count();
    }
    Ok(hits as f64 / labels.len() as f64)
}

fn read_f32(data: TensorData) -> Vec<f32> {
    data.try_into_vec_as::<f32>()
        .expect("float tensors convert to f32")
}
