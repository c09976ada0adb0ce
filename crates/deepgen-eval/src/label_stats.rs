//! What the classifier says about a set of *unconditional* samples: how the predicted digits
//! are spread (a generator that drops modes has an unbalanced histogram) and how confident the
//! classifier is (blurry or malformed digits get low confidence). Every image-generating family
//! reports these beside the Fréchet distance.

use burn::tensor::Device;
use burn::tensor::activation::softmax;

use crate::EvalError;
use crate::classifier::{IMAGE_PIXELS, MnistClassifier, NUM_CLASSES};
use crate::inference::{INFERENCE_BATCH, image_count, images_tensor};

/// Label statistics of a set of samples; see the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelStats {
    /// Fraction of samples predicted as each digit (`NUM_CLASSES` entries, summing to 1).
    pub histogram: Vec<f64>,
    /// Entropy of that histogram in nats (ln 10 ≈ 2.303 for perfectly balanced labels).
    pub entropy: f64,
    /// `entropy / ln 10` ∈ [0, 1] (1: balanced).
    pub balance: f64,
    /// Mean over samples of the largest softmax probability (the classifier's confidence).
    pub mean_confidence: f64,
}

/// The [`LabelStats`] of `images` (`N × 784` pixels in `[0, 1]`) under `model`, in batches.
///
/// # Errors
/// [`EvalError::Shape`] if the length is not a positive multiple of 784.
pub fn label_stats(
    model: &MnistClassifier,
    images: &[f32],
    device: &Device,
) -> Result<LabelStats, EvalError> {
    let n = image_count(images, "label_stats: `images`")?;
    let mut counts = [0usize; NUM_CLASSES];
    let mut confidence = 0.0f64;
    for chunk in images.chunks(INFERENCE_BATCH * IMAGE_PIXELS) {
        let logits = model.forward(images_tensor(chunk, device));
        let probs: Vec<f32> = softmax(logits, 1)
            .into_data()
            .try_to_vec::<f32>()
            .expect("the classifier's logits are f32");
        for row in probs.chunks_exact(NUM_CLASSES) {
            let (arg, p) = row
                .iter()
                .enumerate()
                .fold((0, f32::MIN), |a, (i, &p)| if p > a.1 { (i, p) } else { a });
            counts[arg] += 1;
            confidence += f64::from(p);
        }
    }
    let histogram: Vec<f64> = counts.iter().map(|&c| c as f64 / n as f64).collect();
    let entropy = -histogram
        .iter()
        .filter(|&&p| p > 0.0)
        .map(|&p| p * p.ln())
        .sum::<f64>();
    Ok(LabelStats {
        balance: entropy / (NUM_CLASSES as f64).ln(),
        histogram,
        entropy,
        mean_confidence: confidence / n as f64,
    })
}
