//! [`FusedAdam`]: Burn's Adam update, bit for bit, in one pass over each parameter on flex.
//!
//! Burn's [`Adam`] (burn-optim 0.22.1, `optim/adam.rs`) updates a parameter with 13 tensor
//! operations — `m·β₁ + g·(1−β₁)`, `v·β₂ + g²·(1−β₂)`, `(m·c) / (√v + ε·√(1−β₂ᵗ))`, `·lr`,
//! `p − …` — each a full pass over memory, and flex runs element-wise operations on the calling
//! thread only. On the MLP VAE's training step that optimizer phase took 5.9 of 15.3 ms
//! (docs/performance.md). [`FusedAdam`] does the same arithmetic per element, **the same `f32`
//! operations in the same order with the same `f32` scalars** (`1 − β`, `βᵗ` by `powi`,
//! `c = √(1 − β₂ᵗ)/(1 − β₁ᵗ)`, `ε·√(1 − β₂ᵗ)`, the learning rate rounded to `f32`), in one loop:
//! in place when the parameter and moments are not shared, split over rayon's threads for large
//! parameters (element-wise, so the split cannot change a bit). Its results are identical to
//! Burn's to the last bit (tested over several steps), and its state is Burn's own
//! [`AdamState`], so records and checkpoints are interchangeable between the two.
//!
//! Everything the loop does not cover goes to Burn's [`Adam`] unchanged: other backends (wgpu,
//! ndarray, CUDA), non-`f32` parameters, AMSGrad and weight decay.
//!
//! Written by hand: Burn 0.22 has no fused optimizer kernel for flex, and the gain needs one
//! loop over the raw buffers, which only a backend-specific kernel can give.

use burn::backend::flex::FlexTensor;
use burn::backend::{BackendTensor, DispatchDevice, DispatchTensor, DispatchTensorKind};
use burn::config::Config;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::tensor::{DType, Device, Tensor, TensorData};
use deepgen_tensor::{ConfigError, Validate};
use rayon::prelude::*;

/// Parameters with at least this many elements are split over rayon's threads.
const PARALLEL_MIN: usize = 1 << 15;
/// Elements per rayon task.
const CHUNK: usize = 1 << 13;

/// Configuration of [`FusedAdam`]: the fields and defaults of Burn's [`AdamConfig`] (without
/// its gradient clipping, which deepgen's trainer does itself, see [`grad`](crate::grad)).
#[derive(Config, Debug)]
pub struct FusedAdamConfig {
    /// `β₁`, the decay of the first moment.
    #[config(default = 0.9)]
    pub beta_1: f32,
    /// `β₂`, the decay of the second moment.
    #[config(default = 0.999)]
    pub beta_2: f32,
    /// `ε`, added to `√v̂` (Burn's default 1e-5, PyTorch's 1e-8).
    #[config(default = 1e-5)]
    pub epsilon: f32,
    /// AMSGrad (Reddi et al. 2018); runs Burn's unfused update.
    #[config(default = false)]
    pub amsgrad: bool,
    /// L2 weight decay added to the gradient; runs Burn's unfused update.
    pub weight_decay: Option<WeightDecayConfig>,
}

impl Validate for FusedAdamConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "FusedAdamConfig";
        for (field, beta) in [("beta_1", self.beta_1), ("beta_2", self.beta_2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(ConfigError::new(
                    C,
                    field,
                    format!("must be in [0, 1), got {beta}"),
                ));
            }
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return Err(ConfigError::new(
                C,
                "epsilon",
                format!("must be finite and > 0, got {}", self.epsilon),
            ));
        }
        Ok(())
    }
}

impl FusedAdamConfig {
    /// The optimizer for one parameter group (what
    /// [`ModuleOptimizer::with_group`] takes).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_build(&self) -> Result<FusedAdam, ConfigError> {
        self.validate()?;
        let mut burn = AdamConfig::new()
            .with_beta_1(self.beta_1)
            .with_beta_2(self.beta_2)
            .with_epsilon(self.epsilon)
            .with_amsgrad(self.amsgrad);
        if let Some(decay) = &self.weight_decay {
            burn = burn.with_weight_decay(Some(decay.clone()));
        }
        Ok(FusedAdam {
            burn: burn.build(),
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            fusable: !self.amsgrad && self.weight_decay.is_none(),
        })
    }

    /// The optimizer for a whole module (what [`Trainer::fit`](crate::Trainer::fit) and
    /// [`Run::fit`](crate::Run::fit) take).
    ///
    /// # Panics
    /// If the config is invalid (see [`FusedAdamConfig::try_build`]).
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.try_build().unwrap_or_else(|e| panic!("{e}")))
    }
}

/// Adam with one fused, multi-threaded loop per parameter on flex; see the
/// [module docs](self).
#[derive(Clone)]
pub struct FusedAdam {
    burn: Adam,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    fusable: bool,
}

/// The scalars of one step at `time` (≥ 1), computed exactly as Burn's `AdaptiveMomentum`.
#[derive(Debug, Clone, Copy)]
struct StepScalars {
    beta_1: f32,
    beta_2: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    combined: f32,
    eps: f32,
    lr: f32,
}

impl StepScalars {
    fn new(adam: &FusedAdam, time: usize, lr: LearningRate) -> Self {
        let time = time as i32;
        let bias_correction2_sqrt = (1.0 - adam.beta_2.powi(time)).sqrt();
        Self {
            beta_1: adam.beta_1,
            beta_2: adam.beta_2,
            one_minus_beta_1: 1.0 - adam.beta_1,
            one_minus_beta_2: 1.0 - adam.beta_2,
            combined: bias_correction2_sqrt / (1.0 - adam.beta_1.powi(time)),
            eps: adam.epsilon * bias_correction2_sqrt,
            // Burn scales by `lr` through `mul_scalar`, which flex rounds to the element type.
            lr: lr as f32,
        }
    }

    /// One element: the moments are updated in place (`first`: they hold nothing yet), the
    /// parameter is returned.
    #[inline(always)]
    fn update(&self, p: f32, g: f32, m: &mut f32, v: &mut f32, first: bool) -> f32 {
        let g_m = g * self.one_minus_beta_1;
        let g_v = (g * g) * self.one_minus_beta_2;
        if first {
            *m = g_m;
            *v = g_v;
        } else {
            *m = *m * self.beta_1 + g_m;
            *v = *v * self.beta_2 + g_v;
        }
        let step = (*m * self.combined) / (v.sqrt() + self.eps);
        p - step * self.lr
    }
}

/// A stretch of a parameter, its gradient and its two moments (equal lengths).
struct Chunk<'a> {
    p: &'a mut [f32],
    g: &'a [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
}

/// [`StepScalars::update`] over a [`Chunk`], the `first` branch hoisted out of the loop.
#[inline(always)]
fn update_loop(s: &StepScalars, c: Chunk<'_>, first: bool) {
    let Chunk { p, g, m, v } = c;
    if first {
        for (((p, g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
            *p = s.update(*p, *g, m, v, true);
        }
    } else {
        for (((p, g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
            *p = s.update(*p, *g, m, v, false);
        }
    }
}

/// `$name`: [`update_loop`] compiled with the target feature `$feature`, so the loop is
/// vectorised with that instruction set.
macro_rules! update_loop_with {
    ($name:ident, $feature:literal, $doc:literal) => {
        #[doc = $doc]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feature)]
        fn $name(s: &StepScalars, c: Chunk<'_>, first: bool) {
            update_loop(s, c, first)
        }
    };
}

update_loop_with!(
    update_loop_avx512,
    "avx512f",
    "[`update_loop`] compiled for AVX-512 (16 lanes)."
);
update_loop_with!(
    update_loop_avx2,
    "avx2",
    "[`update_loop`] compiled for AVX2 (8 lanes)."
);

/// [`update_loop`] with the widest vectors the CPU has (picked at run time, as flex does).
/// Vector `sqrt`, division, multiplication and addition are IEEE-exact like their scalar
/// forms, and Rust never contracts `a·b + c` into a fused multiply-add, so every width gives
/// the same bits.
fn update_slices(s: &StepScalars, c: Chunk<'_>, first: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked on the line above).
            return unsafe { update_loop_avx512(s, c, first) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked on the line above).
            return unsafe { update_loop_avx2(s, c, first) };
        }
    }
    update_loop(s, c, first)
}

/// Whether `t` is an `f32` tensor on a flex device without autodiff (where the loop applies).
fn on_flex_f32<const D: usize>(t: &Tensor<D>) -> bool {
    t.dtype() == DType::F32
        && !t.device().is_autodiff()
        && matches!(t.device().as_dispatch(), DispatchDevice::Flex(_))
}

/// The flex tensor behind `t` (see [`on_flex_f32`]), contiguous from offset 0.
fn flex_of<const D: usize>(t: Tensor<D>) -> FlexTensor {
    let flex = match t.into_dispatch().kind {
        DispatchTensorKind::Flex(BackendTensor::Float(f)) => f,
        other => unreachable!("FusedAdam: checked to be a flex float tensor, got {other:?}"),
    };
    if flex.is_contiguous() && flex.layout().start_offset() == 0 {
        flex
    } else {
        flex.to_contiguous()
    }
}

fn tensor_of<const D: usize>(flex: FlexTensor) -> Tensor<D> {
    Tensor::from_dispatch(DispatchTensor {
        kind: DispatchTensorKind::Flex(BackendTensor::Float(flex)),
        autodiff: Default::default(),
    })
}

/// The first `n` elements of `t`'s storage, copied first if the storage is shared.
fn values_mut(t: &mut FlexTensor, n: usize) -> &mut [f32] {
    &mut t.storage_mut::<f32>()[..n]
}

impl FusedAdam {
    /// The fused step (the caller has checked that every tensor is an `f32` flex tensor of
    /// the parameter's shape).
    fn fused_step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdamState<D>>,
    ) -> (Tensor<D>, AdamState<D>) {
        let shape = tensor.dims();
        let n: usize = shape.iter().product();
        let (time, m, v) = match state {
            Some(s) => (
                s.momentum.time + 1,
                Some(flex_of(s.momentum.moment_1)),
                Some(flex_of(s.momentum.moment_2)),
            ),
            None => (1, None, None),
        };
        let first = m.is_none();
        let zeros = || FlexTensor::from_data(TensorData::new(vec![0.0f32; n], shape.to_vec()));
        let (mut m, mut v) = (m.unwrap_or_else(zeros), v.unwrap_or_else(zeros));
        let mut p = flex_of(tensor);
        let g = flex_of(grad);
        let s = StepScalars::new(self, time, lr);
        {
            let g = &g.storage::<f32>()[..n];
            let (p, m, v) = (
                values_mut(&mut p, n),
                values_mut(&mut m, n),
                values_mut(&mut v, n),
            );
            let run = |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
                update_slices(&s, Chunk { p, g, m, v }, first)
            };
            if n >= PARALLEL_MIN {
                p.par_chunks_mut(CHUNK)
                    .zip(g.par_chunks(CHUNK))
                    .zip(m.par_chunks_mut(CHUNK))
                    .zip(v.par_chunks_mut(CHUNK))
                    // Leaves of at most 4 chunks: rayon's default leaves are a quarter of
                    // the work each with 2 threads, and the last one ran alone.
                    .with_max_len(4)
                    .for_each(|(((p, g), m), v)| run(p, g, m, v));
            } else {
                run(p, g, m, v);
            }
        }
        let momentum = AdaptiveMomentumState::new(time, tensor_of(m), tensor_of(v));
        (tensor_of(p), AdamState::new(momentum))
    }

    /// Whether a step on `param` (a parameter as the optimizer sees it: without autodiff)
    /// runs the fused loop; `false` means Burn's update (another backend or dtype, AMSGrad,
    /// weight decay).
    pub fn fuses<const D: usize>(&self, param: &Tensor<D>) -> bool {
        self.fusable && on_flex_f32(param)
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let fused = self.fuses(&tensor)
            && on_flex_f32(&grad)
            && tensor.dims() == grad.dims()
            && state.as_ref().is_none_or(|s| {
                on_flex_f32(&s.momentum.moment_1)
                    && on_flex_f32(&s.momentum.moment_2)
                    && s.momentum.moment_1.dims() == tensor.dims()
                    && s.momentum.moment_2.dims() == tensor.dims()
                    && s.momentum.max_moment_2.is_none()
            });
        if fused {
            let (tensor, state) = self.fused_step(lr, tensor, grad, state);
            (tensor, Some(state))
        } else {
            self.burn.step(lr, tensor, grad, state)
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every vector width gives the bits of the plain loop (parameters and both moments, the
    /// first step and a later one), on inputs spanning many magnitudes, zeros and a length that
    /// is not a multiple of any vector width.
    /// One update of `(p, m, v)` in place.
    type Update<'a> = dyn Fn(&mut [f32], &mut [f32], &mut [f32]) + 'a;

    #[test]
    fn every_vector_width_gives_the_same_bits() {
        let n = 1003;
        let vals = |seed: u32| -> Vec<f32> {
            (0..n as u32)
                .map(|i| {
                    let h = i
                        .wrapping_mul(2_654_435_761)
                        .wrapping_add(seed.wrapping_mul(97));
                    let mantissa = (h % 2000) as f32 / 1000.0 - 1.0;
                    mantissa * 10f32.powi((h % 13) as i32 - 8)
                })
                .collect()
        };
        let adam = FusedAdamConfig::new().try_build().expect("valid");
        let (p0, g) = (vals(1), vals(2));
        let (m0, v0) = (vals(3), vals(4).iter().map(|x| x * x).collect::<Vec<_>>());
        for (time, first) in [(1, true), (7, false)] {
            let s = StepScalars::new(&adam, time, 1.3e-3);
            let run = |f: &Update| {
                let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
                f(&mut p, &mut m, &mut v);
                [p, m, v].map(|x| x.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
            };
            let plain = run(&|p, m, v| update_loop(&s, Chunk { p, g: &g, m, v }, first));
            let picked = run(&|p, m, v| update_slices(&s, Chunk { p, g: &g, m, v }, first));
            assert_eq!(plain, picked, "time {time}: the run-time pick");
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 is supported (checked above).
                let avx2 = run(&|p, m, v| unsafe {
                    update_loop_avx2(&s, Chunk { p, g: &g, m, v }, first)
                });
                assert_eq!(plain, avx2, "time {time}: AVX2");
            }
            assert!(plain[0] != p0.iter().map(|f| f.to_bits()).collect::<Vec<_>>());
        }
    }
}
