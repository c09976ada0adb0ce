//! Ancestral sampling in raster order with temperature.
//!
//! Position `(i, j)` needs one pass of the trunk over rows `0 ..= i` only (every output row
//! depends on rows at or above it, see [`super::causal`]; the conditioning features are
//! computed once on the whole map and cropped alike) and of the 1×1 head at `(i, j)` only.
//! The categorical draws are made on the host from a [`HostRng`] in f64, so a seed gives the
//! same maps on every backend (up to ties in the backend's f32 logits).

use burn::tensor::{Device, Int, Tensor, TensorData};
use deepgen_tensor::HostRng;

use super::GatedPixelCnn;

impl GatedPixelCnn {
    /// Draws `n` maps of `size = [H, W]` symbols, one position at a time in raster order
    /// (`H·W` network passes), from the logits divided by `temperature`.
    ///
    /// `class`: one label per sample (length `n`), exactly when the model is class-conditional;
    /// `cond`: the conditioning maps, exactly when it is spatially conditioned. A tiny
    /// temperature gives greedy (arg-max) decoding.
    ///
    /// # Shapes
    /// - cond: `[n, C_cond, H, W]`
    /// - output: `[n, H, W]` symbols in `0..K`
    ///
    /// # Panics
    /// If `temperature` is not finite and positive, `class` has another length than `n` or a
    /// label `≥ num_classes`, or the conditioning does not fit the model (as in
    /// [`forward`](Self::forward)).
    #[allow(clippy::too_many_arguments)]
    pub fn sample(
        &self,
        n: usize,
        size: [usize; 2],
        class: Option<&[usize]>,
        cond: Option<Tensor<4>>,
        temperature: f64,
        rng: &mut HostRng,
        device: &Device,
    ) -> Tensor<3, Int> {
        assert!(
            temperature.is_finite() && temperature > 0.0,
            "GatedPixelCnn::sample: temperature must be finite and positive, got {temperature}"
        );
        let [height, width] = size;
        let k = self.num_symbols();
        let class = class.map(|labels| {
            assert_eq!(
                labels.len(),
                n,
                "GatedPixelCnn::sample: one class per sample expected"
            );
            if let Some(&bad) = labels.iter().find(|&&l| l >= self.num_classes().max(1)) {
                panic!(
                    "GatedPixelCnn::sample: class {bad} out of range for a model with {} classes",
                    self.num_classes()
                );
            }
            let data: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(data, [n]), device)
        });
        let mut symbols = vec![0i64; n * height * width];
        let to_tensor = |s: &[i64]| {
            Tensor::<3, Int>::from_data(TensorData::new(s.to_vec(), [n, height, width]), device)
        };
        if n == 0 || height == 0 || width == 0 {
            return to_tensor(&symbols);
        }
        let features = self.condition(&to_tensor(&symbols), class.as_ref(), cond);
        let mut probs = vec![0f64; k];
        for i in 0..height {
            let feats = features.as_ref().map(|f| f.clone().narrow(2, 0, i + 1));
            for j in 0..width {
                let x = to_tensor(&symbols).narrow(1, 0, i + 1);
                let h = self.trunk(x, class.as_ref(), feats.as_ref());
                let h = h.narrow(2, i, 1).narrow(3, j, 1);
                let logits: Vec<f32> = self
                    .head(h)
                    .reshape([n, k])
                    .into_data()
                    .try_to_vec_as::<f32>()
                    .expect("f32 logits");
                for s in 0..n {
                    let draw =
                        categorical(&logits[s * k..(s + 1) * k], temperature, &mut probs, rng);
                    symbols[(s * height + i) * width + j] = draw as i64;
                }
            }
        }
        to_tensor(&symbols)
    }
}

/// One draw from `softmax(logits / temperature)`, computed in f64 (`probs` is scratch space
/// of the same length). Exactly one `rng.uniform()` per draw.
fn categorical(logits: &[f32], temperature: f64, probs: &mut [f64], rng: &mut HostRng) -> usize {
    let max = logits
        .iter()
        .map(|&l| f64::from(l) / temperature)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for (p, &l) in probs.iter_mut().zip(logits) {
        *p = (f64::from(l) / temperature - max).exp();
        total += *p;
    }
    let u = rng.uniform() * total;
    let mut acc = 0.0;
    for (s, &p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return s;
        }
    }
    // Rounding left `u` at the very top: the last symbol with positive probability.
    probs.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}
