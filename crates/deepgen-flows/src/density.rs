//! Flows as distributions: base distribution + transform.
//!
//! [`NormalizingFlow`] is implemented by the complete flows ([`VectorFlow`](crate::VectorFlow),
//! [`MultiScaleFlow`](crate::MultiScaleFlow)). The base is the standard normal
//! ([`StandardNormal`]) over all elements of the latent, which has the data's shape. Learned
//! priors (Glow's split priors) are part of the transform (a conditional affine map of the
//! factored-out half, see [`SplitPrior`](crate::SplitPrior)), so the base stays parameter-free
//! and temperature sampling scales one noise tensor.
//!
//! ```text
//! ln p(x | c) = ln N(f(x; c); 0, I) + ln|det ∂f/∂x|        (forward = data → latent)
//! x = f⁻¹(T·ε; c),   ε ~ N(0, I)                            (sampling at temperature T)
//! ```
//!
//! **Distribution traits.** `deepgen_distributions`' [`Distribution`] describes a *batch* of
//! distributions with a fixed batch size and no context argument, while a flow module is a
//! family of conditional densities for any batch. [`NormalizingFlow::distribution`] binds a
//! batch size, a context and a temperature, and the resulting [`FlowDistribution`] implements
//! [`Distribution`] (`log_prob`, `sample`) and [`Rsample`] (`rsample`, with the base noise
//! exposed) for vectors (`Value = Tensor<2>`) and images (`Value = Tensor<4>`) alike.

use burn::tensor::{Device, Tensor};
use deepgen_distributions::{
    DistShape, Distribution, Rsample, StandardNormal, standard_normal_log_prob,
};
use deepgen_tensor::rng::HostRng;

use crate::bijection::{Bijection, flatten_rows};

/// A density flow: a [`Bijection`] (data → latent) with a standard-normal base; see the
/// [module docs](self).
pub trait NormalizingFlow<const R: usize>: Bijection<R> {
    /// The shape of `n` samples, `[n, ...event]`.
    fn sample_shape(&self, n: usize) -> [usize; R];

    /// The device of the parameters.
    fn flow_device(&self) -> Device;

    /// `ln p(x | context)` per batch row (differentiable).
    ///
    /// # Shapes
    /// - x: `[batch, ...event]`
    /// - context: `[batch, context_dim]` (`None` when unconditioned)
    /// - output: `[batch]`
    fn log_prob(&self, x: Tensor<R>, context: Option<&Tensor<2>>) -> Tensor<1> {
        let (z, ladj) = self.forward_and_ladj(x, context);
        standard_normal_log_prob(flatten_rows(z)) + ladj
    }

    /// Base noise `T·ε`, `ε ~ N(0, I)` drawn on the host.
    ///
    /// # Shapes
    /// - output: `[n, ...event]`
    fn sample_noise(&self, n: usize, temperature: f64, rng: &mut HostRng) -> Tensor<R> {
        let shape = self.sample_shape(n);
        let m: usize = shape[1..].iter().product();
        let base =
            StandardNormal::new(n, m, &self.flow_device()).expect("n ≥ 1 and a non-empty event");
        base.sample_noise(rng)
            .mul_scalar(temperature)
            .reshape(shape)
    }

    /// `x = f⁻¹(ε)` and `ln p(x)` (the model's density, computed along the sampling path as
    /// `ln N(ε) − ln|det ∂x/∂ε|`; differentiable).
    ///
    /// # Shapes
    /// - noise: `[n, ...event]`
    /// - output: `x` `[n, ...event]` and `ln p(x)` `[n]`
    fn sample_from_noise(
        &self,
        noise: Tensor<R>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        let log_base = standard_normal_log_prob(flatten_rows(noise.clone()));
        let (x, ladj) = self.inverse_and_ladj(noise, context);
        (x, log_base - ladj)
    }

    /// `n` reparameterised samples (differentiable in the parameters).
    ///
    /// # Shapes
    /// - context: `[n, context_dim]` (`None` when unconditioned)
    /// - output: `[n, ...event]`
    fn rsample(&self, n: usize, context: Option<&Tensor<2>>, rng: &mut HostRng) -> Tensor<R> {
        self.inverse(self.sample_noise(n, 1.0, rng), context)
    }

    /// `n` samples at temperature `temperature` (the base noise scaled by it; Glow samples at
    /// 0.7), detached.
    ///
    /// # Shapes
    /// - context: `[n, context_dim]` (`None` when unconditioned)
    /// - output: `[n, ...event]`
    fn sample_with_temperature(
        &self,
        n: usize,
        temperature: f64,
        context: Option<&Tensor<2>>,
        rng: &mut HostRng,
    ) -> Tensor<R> {
        self.inverse(self.sample_noise(n, temperature, rng), context)
            .detach()
    }

    /// `n` samples at temperature 1, detached.
    ///
    /// # Shapes
    /// - context: `[n, context_dim]` (`None` when unconditioned)
    /// - output: `[n, ...event]`
    fn sample(&self, n: usize, context: Option<&Tensor<2>>, rng: &mut HostRng) -> Tensor<R> {
        self.sample_with_temperature(n, 1.0, context, rng)
    }

    /// The flow as a batch of `batch` distributions conditioned on `context` (temperature 1;
    /// see [`FlowDistribution::with_temperature`]).
    fn distribution(
        &self,
        batch: usize,
        context: Option<Tensor<2>>,
    ) -> FlowDistribution<'_, Self, R>
    where
        Self: Sized,
    {
        FlowDistribution {
            flow: self,
            batch,
            context,
            temperature: 1.0,
        }
    }
}

/// A flow bound to a batch size, a context and a sampling temperature: implements
/// [`Distribution`] and [`Rsample`] (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct FlowDistribution<'a, F, const R: usize> {
    flow: &'a F,
    batch: usize,
    context: Option<Tensor<2>>,
    temperature: f64,
}

impl<F, const R: usize> FlowDistribution<'_, F, R> {
    /// Samples (`sample`, `rsample`) at temperature `t` (`log_prob` is unaffected: it is the
    /// model's density).
    pub fn with_temperature(mut self, t: f64) -> Self {
        self.temperature = t;
        self
    }
}

impl<F: NormalizingFlow<R>, const R: usize> Distribution for FlowDistribution<'_, F, R> {
    type Value = Tensor<R>;

    fn shape(&self) -> DistShape {
        DistShape {
            batch: vec![self.batch],
            event: self.flow.sample_shape(1)[1..].to_vec(),
        }
    }

    fn device(&self) -> Device {
        self.flow.flow_device()
    }

    fn log_prob(&self, value: Tensor<R>) -> Tensor<1> {
        self.flow.log_prob(value, self.context.as_ref())
    }

    fn sample(&self, rng: &mut HostRng) -> Tensor<R> {
        self.rsample(rng).detach()
    }
}

impl<F: NormalizingFlow<R>, const R: usize> Rsample for FlowDistribution<'_, F, R> {
    /// `T·ε`, `ε ~ N(0, I)`, `[batch, ...event]`.
    type Noise = Tensor<R>;

    fn sample_noise(&self, rng: &mut HostRng) -> Tensor<R> {
        self.flow.sample_noise(self.batch, self.temperature, rng)
    }

    fn rsample_from_noise(&self, noise: Tensor<R>) -> Tensor<R> {
        self.flow.inverse(noise, self.context.as_ref())
    }
}
