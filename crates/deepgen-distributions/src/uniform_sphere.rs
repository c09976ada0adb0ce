//! The uniform distribution on the unit hypersphere `S^{m−1} ⊂ Rᵐ`.

use burn::tensor::{Device, Tensor};
use deepgen_tensor::rng::HostRng;

use crate::sphere::{log_sphere_surface_area, uniform_sphere_noise};
use crate::{DistShape, Distribution, Entropy, Result, Rsample, check};

/// `batch` independent uniform distributions on `S^{m−1} = {x ∈ Rᵐ : ‖x‖ = 1}`
/// (`m = dim ≥ 2`), with no parameter tensors — the usual prior of hyperspherical
/// VAEs.
///
/// Density with respect to the surface measure: `p(x) = 1/|S^{m−1}|`, where
/// `|S^{m−1}| = 2π^{m/2}/Γ(m/2)` ([`log_sphere_surface_area`]).
#[derive(Debug, Clone)]
pub struct UniformSphere {
    batch: usize,
    dim: usize,
    device: Device,
    log_area: f64,
}

impl UniformSphere {
    /// `batch ≥ 1` uniform distributions on the unit sphere in `R^dim`, `dim ≥ 2`
    /// (errors name `batch` / `dim`).
    pub fn new(batch: usize, dim: usize, device: &Device) -> Result<Self> {
        check::scalar(
            "UniformSphere",
            "batch",
            batch as f64,
            "must be ≥ 1",
            |b| b >= 1.0,
        )?;
        check::scalar(
            "UniformSphere",
            "dim",
            dim as f64,
            "must be ≥ 2 (the sphere S^{dim−1} lives in R^dim)",
            |d| d >= 2.0,
        )?;
        Ok(Self {
            batch,
            dim,
            device: device.clone(),
            log_area: log_sphere_surface_area(dim),
        })
    }

    /// Ambient dimension `m` (samples are `[B, m]`).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of batch elements `B`.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// ln |S^{m−1}| = ln(2π^{m/2}/Γ(m/2)) in f64.
    pub fn log_area(&self) -> f64 {
        self.log_area
    }
}

impl Distribution for UniformSphere {
    /// Unit vectors, `[B, m]`.
    type Value = Tensor<2>;

    fn shape(&self) -> DistShape {
        DistShape::vector(self.batch, self.dim)
    }

    fn device(&self) -> Device {
        self.device.clone()
    }

    /// `−ln |S^{m−1}|` for every row, `[B]` (the value is not checked to lie on
    /// the sphere; it only supplies the batch size and device). Panics if `x` is
    /// not `[B, m]`.
    fn log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        assert_eq!(
            x.dims(),
            [self.batch, self.dim],
            "UniformSphere::log_prob: value shape"
        );
        Tensor::full([self.batch], -self.log_area, &x.device())
    }

    /// Normalised standard Gaussian vectors, drawn on the host in f64.
    fn sample(&self, rng: &mut HostRng) -> Tensor<2> {
        self.sample_noise(rng)
    }
}

impl Rsample for UniformSphere {
    /// The sample itself (there are no parameters to differentiate).
    type Noise = Tensor<2>;

    fn sample_noise(&self, rng: &mut HostRng) -> Tensor<2> {
        uniform_sphere_noise(rng, [self.batch, self.dim], &self.device)
    }

    fn rsample_from_noise(&self, noise: Tensor<2>) -> Tensor<2> {
        noise
    }
}

impl Entropy for UniformSphere {
    /// `ln |S^{m−1}|` (the maximum entropy on the sphere).
    fn entropy(&self) -> Tensor<1> {
        Tensor::full([self.batch], self.log_area, &self.device)
    }
}
