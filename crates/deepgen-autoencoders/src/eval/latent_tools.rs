//! Tools around a trained latent-variable model: reconstructions, latent
//! interpolation (linear and spherical), latent traversals, and the number of
//! active units.
//!
//! They work on any model implementing [`LatentCodec`] (encode to the posterior
//! mean, decode to the likelihood mean), so every VAE variant gets them.

use burn::tensor::{Device, Tensor, TensorData};

pub use crate::models::variational::LatentCodec;

/// Reconstructions decode(encode_mean(x)) of `x` (`[B, D]`), `[B, D]`.
pub fn reconstruct<M: LatentCodec>(model: &M, x: Tensor<2>) -> Tensor<2> {
    model.decode_mean(model.encode_mean(x))
}

/// Linear interpolation (1−t)·z₀ + t·z₁ at `steps` evenly spaced t ∈ [0, 1], `[steps, L]`.
///
/// # Panics
/// If `z0` and `z1` differ in length or `steps < 2`.
pub fn lerp(z0: &[f64], z1: &[f64], steps: usize, device: &Device) -> Tensor<2> {
    path(z0, z1, steps, device, |a, b, t| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (1.0 - t) * x + t * y)
            .collect()
    })
}

/// Spherical interpolation (Shoemake 1985; White 2016 for VAE latents):
/// sin((1−t)Ω)/sin Ω · z₀ + sin(tΩ)/sin Ω · z₁ with cos Ω = z₀·z₁/(‖z₀‖‖z₁‖), at `steps`
/// evenly spaced t ∈ [0, 1], `[steps, L]`. Falls back to [`lerp`] when the vectors are
/// (anti-)parallel within 1e-7 (sin Ω ≈ 0) or one of them is zero.
///
/// # Panics
/// If `z0` and `z1` differ in length or `steps < 2`.
pub fn slerp(z0: &[f64], z1: &[f64], steps: usize, device: &Device) -> Tensor<2> {
    path(z0, z1, steps, device, |a, b, t| {
        let na = a.iter().map(|v| v * v).sum::<f64>().sqrt();
        let nb = b.iter().map(|v| v * v).sum::<f64>().sqrt();
        let cos = if na > 0.0 && nb > 0.0 {
            (a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>() / (na * nb)).clamp(-1.0, 1.0)
        } else {
            1.0
        };
        let omega = cos.acos();
        let s = omega.sin();
        if s.abs() < 1e-7 {
            return a
                .iter()
                .zip(b)
                .map(|(x, y)| (1.0 - t) * x + t * y)
                .collect();
        }
        let (wa, wb) = (((1.0 - t) * omega).sin() / s, (t * omega).sin() / s);
        a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect()
    })
}

fn path(
    z0: &[f64],
    z1: &[f64],
    steps: usize,
    device: &Device,
    f: impl Fn(&[f64], &[f64], f64) -> Vec<f64>,
) -> Tensor<2> {
    assert_eq!(
        z0.len(),
        z1.len(),
        "interpolation: `z0` and `z1` differ in length"
    );
    assert!(steps >= 2, "interpolation: `steps` must be at least 2");
    let l = z0.len();
    let v: Vec<f32> = (0..steps)
        .flat_map(|i| f(z0, z1, i as f64 / (steps - 1) as f64))
        .map(|x| x as f32)
        .collect();
    Tensor::from_data(TensorData::new(v, [steps, l]), device)
}

/// Latent traversal: for each latent dimension in `dims`, `base` with that coordinate set
/// to each of `values`; row-major `[dims.len() · values.len(), L]` (one grid row per dim).
///
/// # Panics
/// If a dimension is out of range.
pub fn traversal(base: &[f64], dims: &[usize], values: &[f64], device: &Device) -> Tensor<2> {
    let l = base.len();
    let mut v = Vec::with_capacity(dims.len() * values.len() * l);
    for &d in dims {
        assert!(
            d < l,
            "traversal: dimension {d} out of range for latent size {l}"
        );
        for &val in values {
            let mut z = base.to_vec();
            z[d] = val;
            v.extend(z.iter().map(|x| *x as f32));
        }
    }
    Tensor::from_data(TensorData::new(v, [dims.len() * values.len(), l]), device)
}

/// Activity of each latent dimension: A_u = Cov_x(E_q[z_u | x]), the variance over the data of
/// the posterior mean (Burda et al. 2016, §5.2). A unit is *active* when A_u > 0.01.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveUnits {
    /// A_u per latent dimension.
    pub activity: Vec<f64>,
    /// Dimensions with A_u > `threshold`.
    pub active: usize,
    /// The threshold used (0.01 in the paper).
    pub threshold: f64,
}

/// [`ActiveUnits`] of `model` over `batches` of inputs (each `[B, D]`), variance in f64
/// (Welford) over all rows.
pub fn active_units<M: LatentCodec>(
    model: &M,
    batches: impl IntoIterator<Item = Tensor<2>>,
    threshold: f64,
) -> ActiveUnits {
    let l = model.latent_dim();
    let (mut n, mut mean, mut m2) = (0usize, vec![0.0f64; l], vec![0.0f64; l]);
    for x in batches {
        let mu: Vec<f64> = model
            .encode_mean(x)
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .expect("posterior means convert to f64");
        for row in mu.chunks(l) {
            n += 1;
            for (u, v) in row.iter().enumerate() {
                let d = v - mean[u];
                mean[u] += d / n as f64;
                m2[u] += d * (v - mean[u]);
            }
        }
    }
    let activity: Vec<f64> = m2
        .iter()
        .map(|s| if n > 1 { s / (n - 1) as f64 } else { 0.0 })
        .collect();
    let active = activity.iter().filter(|a| **a > threshold).count();
    ActiveUnits {
        activity,
        active,
        threshold,
    }
}
