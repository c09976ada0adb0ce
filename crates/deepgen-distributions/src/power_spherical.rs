//! The power spherical distribution (De Cao & Aziz 2020, "The Power Spherical
//! distribution", arXiv:2006.04437): a stable, rejection-free alternative to the
//! von Mises–Fisher distribution on the unit hypersphere.

use burn::tensor::{Device, Tensor};
use deepgen_tensor::numerics::host::{digamma, lgamma};
use deepgen_tensor::rng::HostRng;

use crate::gamma::{beta_from_log_gammas, gamma_log, gamma_log_grad};
use crate::sphere::{
    householder_reflect, log_sphere_surface_area, tangent_embed_with_sine, uniform_sphere_noise,
};
use crate::{
    DistShape, Distribution, Entropy, KlDivergence, Result, Rsample, UniformSphere, check,
};

const NAME: &str = "PowerSpherical";

/// A batch of power spherical distributions on `S^{m−1} ⊂ Rᵐ` (`m ≥ 2`).
///
/// **Parameterisation**: mean direction `loc` μ (`[B, m]`, rows of unit norm —
/// normalise an unconstrained vector yourself, e.g. `p / ‖p‖`, so the gradient
/// flows through the normalisation) and concentration `concentration` κ ≥ 0
/// (`[B]`).
///
/// **Density** (surface measure): `p(x) = N(κ, m)·(1 + μᵀx)^κ` with
/// `ln N = −[(α+β) ln 2 + β ln π + lgamma(α) − lgamma(α+β)]`,
/// `α = (m−1)/2 + κ`, `β = (m−1)/2`. (Derivation: with `t = μᵀx = 2z − 1`,
/// `∫(1+μᵀx)^κ dx = |S^{m−2}|·∫(1+t)^κ(1−t²)^{(m−3)/2} dt = 2^{α+β}π^β Γ(α)/Γ(α+β)`.)
/// κ = 0 is the uniform distribution; `z = (1 + μᵀx)/2 ~ Beta(α, β)`.
///
/// **Sampling** (reparameterised, no rejection): `z ~ Beta(α, β)`, `t = 2z − 1`,
/// `v ~ U(S^{m−2})`, `y = [t, √(1−t²)·v]`, `x = H(μ)·y` with
/// [`householder_reflect`]. The Beta draw is `z = X/(X+Y)`, `X ~ Gamma(α)`,
/// `Y ~ Gamma(β)` on the host in f64; its gradient in κ is the exact implicit
/// reparameterisation gradient `∂z/∂κ = z(1−z)·∂ ln X/∂α`
/// ([`gamma_log_grad`](crate::gamma::gamma_log_grad), Figurnov et al. 2018) —
/// the analogue of the reference implementation's `Beta.rsample` in PyTorch.
/// It enters the graph through the surrogate `t + g·(κ − detach(κ))` (value
/// unchanged, gradient `g = ∂t/∂κ`); μ is an ordinary pathwise gradient through
/// `H(μ)`. `t` and `√(1−t²) = 2√(z(1−z))` are formed in f64 before the f32
/// upload, so samples near the pole keep their tangent component.
///
/// **Precision**: `ln N`, the entropy and their κ-derivatives are computed on the
/// host in f64 at construction (from the host copy of κ the argument checks read)
/// and enter the graph through the same surrogate, so they do not suffer from the
/// `f32` cancellation of `lgamma(α) − lgamma(α+β)` at large κ.
#[derive(Debug, Clone)]
pub struct PowerSpherical {
    /// Mean direction μ, `[B, m]`, unit rows.
    pub loc: Tensor<2>,
    /// Concentration κ ≥ 0, `[B]`.
    pub concentration: Tensor<1>,
    kappa: Vec<f64>,
    log_norm: Vec<f64>,
    dlog_norm: Vec<f64>,
    entropy: Vec<f64>,
    dentropy: Vec<f64>,
    shape: DistShape,
}

/// The host-drawn randomness of one [`PowerSpherical`] sample of the batch.
///
/// `rsample_from_noise` is a deterministic function of these fields and of the
/// parameters: `z = X/(X+Y)` from the two log-Gamma draws, `v` as given. The
/// Gamma draws are the noise (rather than `z`) because the implicit gradient of
/// `z` in κ is that of `X`; it is evaluated at the distribution's current κ, so the
/// noise should come from [`Rsample::sample_noise`] of the same distribution (or
/// from any coupling with the right marginals, e.g. Gamma quantiles of common
/// uniforms).
#[derive(Debug, Clone)]
pub struct PowerSphericalNoise {
    /// `ln X_b`, `X_b ~ Gamma(α_b)` with `α_b = (m−1)/2 + κ_b`, length `B`.
    pub log_gamma_alpha: Vec<f64>,
    /// `ln Y_b`, `Y_b ~ Gamma(β)` with `β = (m−1)/2`, length `B`.
    pub log_gamma_beta: Vec<f64>,
    /// Tangent directions `v`, uniform on `S^{m−2}`, `[B, m−1]`.
    pub direction: Tensor<2>,
}

/// Trigamma `ψ₁(x) = d²/dx² ln Γ(x)` for `x > 0` in f64: the recurrence
/// `ψ₁(x) = ψ₁(x+1) + 1/x²` up to `x ≥ 12`, then the asymptotic series
/// `1/x + 1/(2x²) + Σ_k B_{2k}/x^{2k+1}` through `B₁₂` (next term < 1e-15
/// relative at `x = 12`).
fn trigamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 12.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    // B2/x³ + B4/x⁵ + … + B12/x¹³ in Horner form in 1/x².
    let mut poly = -691.0 / 2730.0;
    for c in [5.0 / 66.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 1.0 / 6.0] {
        poly = poly * inv2 + c;
    }
    acc + inv + 0.5 * inv2 + inv * inv2 * poly
}

/// Host-side f64 quantities of one row, `(ln N, ∂ln N/∂κ, H, ∂H/∂κ)`.
fn host_terms(kappa: f64, m: usize) -> (f64, f64, f64, f64) {
    let beta = (m as f64 - 1.0) / 2.0;
    let alpha = beta + kappa;
    let ln2 = std::f64::consts::LN_2;
    let log_norm = -((alpha + beta) * ln2 + beta * std::f64::consts::PI.ln() + lgamma(alpha)
        - lgamma(alpha + beta));
    // E[ln(1 + μᵀx)] = E[ln 2z] = ln 2 + ψ(α) − ψ(α+β) = −∂ln N/∂κ.
    let e_log = ln2 + digamma(alpha) - digamma(alpha + beta);
    let entropy = -log_norm - kappa * e_log;
    // ∂H/∂κ = e_log − e_log − κ·∂e_log/∂κ.
    let dentropy = -kappa * (trigamma(alpha) - trigamma(alpha + beta));
    (log_norm, -e_log, entropy, dentropy)
}

impl PowerSpherical {
    /// Builds the distribution from μ (`loc`, `[B, m]`, `m ≥ 2`, every row of unit
    /// norm within 1e-4) and κ (`concentration`, `[B]`, finite, ≥ 0).
    ///
    /// Errors: `Shape` naming `loc` (zero-sized or `m < 2`) or `concentration`
    /// (not `[B]`); `InvalidParameter` naming `loc` (non-finite or not unit norm)
    /// or `concentration` (negative or non-finite). Reads κ and μ to the host
    /// (two device syncs) for the checks and the f64 terms.
    pub fn new(loc: Tensor<2>, concentration: Tensor<1>) -> Result<Self> {
        let check::SphereParams {
            batch,
            dim: m,
            kappa,
        } = check::sphere_params(NAME, &loc, &concentration)?;
        let (mut log_norm, mut dlog_norm, mut entropy, mut dentropy) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for &k in &kappa {
            let (a, b, c, d) = host_terms(k, m);
            log_norm.push(a);
            dlog_norm.push(b);
            entropy.push(c);
            dentropy.push(d);
        }
        Ok(Self {
            loc,
            concentration,
            kappa,
            log_norm,
            dlog_norm,
            entropy,
            dentropy,
            shape: DistShape::vector(batch, m),
        })
    }

    /// Ambient dimension `m`.
    pub fn dim(&self) -> usize {
        self.shape.event_numel()
    }

    /// `β = (m−1)/2`, the second Beta parameter of `z = (1 + μᵀx)/2`.
    pub fn beta_param(&self) -> f64 {
        (self.dim() as f64 - 1.0) / 2.0
    }

    /// `α_b = (m−1)/2 + κ_b` on the host, the first Beta parameter of
    /// `z = (1 + μᵀx)/2`.
    pub fn alpha_param(&self) -> Vec<f64> {
        let beta = self.beta_param();
        self.kappa.iter().map(|k| beta + k).collect()
    }

    /// `ln N(κ, m) = −[(α+β) ln 2 + β ln π + lgamma(α) − lgamma(α+β)]`, `[B]`
    /// (f64 on the host; gradient in κ `−[ln 2 + ψ(α) − ψ(α+β)]`).
    pub fn log_normalizer(&self) -> Tensor<1> {
        check::surrogate(&self.log_norm, &self.dlog_norm, &self.concentration)
    }

    /// Mean resultant length `E[μᵀx] = (α−β)/(α+β) = κ/(κ + m − 1)`, `[B]`
    /// (from `E[z] = α/(α+β)`; differentiable in κ).
    pub fn mean_resultant_length(&self) -> Tensor<1> {
        let k = self.concentration.clone();
        k.clone() / (k + (self.dim() as f64 - 1.0))
    }

    /// Mean `E[x] = (κ/(κ + m − 1))·μ`, `[B, m]`.
    pub fn mean(&self) -> Tensor<2> {
        self.loc.clone() * self.mean_resultant_length().unsqueeze_dim::<2>(1)
    }
}

impl Distribution for PowerSpherical {
    /// Unit vectors, `[B, m]`.
    type Value = Tensor<2>;

    fn shape(&self) -> DistShape {
        self.shape.clone()
    }

    fn device(&self) -> Device {
        self.loc.device()
    }

    /// `ln N(κ, m) + κ·ln(1 + μᵀx)`, `[B]` (`x` is assumed to be on the sphere).
    ///
    /// `ln(1 + μᵀx)` is `log1p`. At the antipode (`μᵀx ≤ −1` after rounding) the
    /// result is `−inf` for κ > 0 and `ln N` for κ = 0 (no `0·(−inf)` NaN), with
    /// finite gradients.
    fn log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        let dot = (self.loc.clone() * x).sum_dim(1).squeeze_dim::<1>(1);
        let antipode = dot.clone().lower_equal_elem(-1.0);
        let log1p = dot.mask_fill(antipode.clone(), 0.0).log1p();
        let kappa = self.concentration.clone();
        let zero_density = antipode.bool_and(kappa.clone().greater_elem(0.0));
        let term = (kappa * log1p).mask_fill(zero_density, f32::NEG_INFINITY);
        self.log_normalizer() + term
    }

    fn sample(&self, rng: &mut HostRng) -> Tensor<2> {
        self.rsample(rng).detach()
    }
}

impl Rsample for PowerSpherical {
    type Noise = PowerSphericalNoise;

    /// Per row: `ln X ~ ln Gamma(α_b)` then `ln Y ~ ln Gamma(β)`
    /// ([`gamma_log`](crate::gamma::gamma_log)); then all tangent directions
    /// `v ~ U(S^{m−2})`.
    fn sample_noise(&self, rng: &mut HostRng) -> PowerSphericalNoise {
        let beta = self.beta_param();
        let mut log_gamma_alpha = Vec::with_capacity(self.kappa.len());
        let mut log_gamma_beta = Vec::with_capacity(self.kappa.len());
        for &k in &self.kappa {
            log_gamma_alpha.push(gamma_log(rng, beta + k));
            log_gamma_beta.push(gamma_log(rng, beta));
        }
        let direction =
            uniform_sphere_noise(rng, [self.kappa.len(), self.dim() - 1], &self.device());
        PowerSphericalNoise {
            log_gamma_alpha,
            log_gamma_beta,
            direction,
        }
    }

    /// `x = H(μ)·[t, s·v]` with `z = X/(X+Y)`, `t = 2z − 1`, `s = 2√(z(1−z))`
    /// (all f64 on the host), carrying the implicit gradients
    /// `∂t/∂κ = (s²/2)·g` and `∂s/∂κ = −(t·s/2)·g`, `g = ∂ ln X/∂α` (from
    /// `∂z/∂κ = z(1−z)·g`).
    ///
    /// # Panics
    /// If the noise does not have `B` entries and `[B, m−1]` directions.
    fn rsample_from_noise(&self, noise: PowerSphericalNoise) -> Tensor<2> {
        let b = self.kappa.len();
        assert_eq!(noise.log_gamma_alpha.len(), b, "{NAME}: noise batch size");
        assert_eq!(noise.log_gamma_beta.len(), b, "{NAME}: noise batch size");
        assert_eq!(
            noise.direction.dims(),
            [b, self.dim() - 1],
            "{NAME}: noise direction shape"
        );
        let alpha = self.alpha_param();
        let (mut t, mut s, mut dt, mut ds) = (
            Vec::with_capacity(b),
            Vec::with_capacity(b),
            Vec::with_capacity(b),
            Vec::with_capacity(b),
        );
        let draws = noise.log_gamma_alpha.iter().zip(&noise.log_gamma_beta);
        for ((&lx, &ly), &a) in draws.zip(&alpha) {
            let (z, zc) = beta_from_log_gammas(lx, ly);
            let ti = z - zc;
            let si = 2.0 * (z * zc).sqrt();
            let g = gamma_log_grad(lx, a);
            t.push(ti);
            s.push(si);
            dt.push(0.5 * si * si * g);
            ds.push(-0.5 * ti * si * g);
        }
        let t = check::surrogate(&t, &dt, &self.concentration);
        let s = check::surrogate(&s, &ds, &self.concentration);
        let y = tangent_embed_with_sine(t, s, noise.direction);
        householder_reflect(self.loc.clone(), y)
    }
}

impl Entropy for PowerSpherical {
    /// `H = −ln N − κ·(ln 2 + ψ(α) − ψ(α+β))` (De Cao & Aziz 2020, from
    /// `E[ln(1 + μᵀx)] = E[ln 2z]`, `z ~ Beta(α, β)`), f64 on the host; gradient
    /// in κ `−κ·(ψ₁(α) − ψ₁(α+β))`.
    fn entropy(&self) -> Tensor<1> {
        check::surrogate(&self.entropy, &self.dentropy, &self.concentration)
    }
}

impl KlDivergence<UniformSphere> for PowerSpherical {
    /// `KL(p ‖ U(S^{m−1})) = −H(p) + ln |S^{m−1}|` (closed form, since
    /// `ln q = −ln |S^{m−1}|` is constant). Panics if the dimensions or batch
    /// sizes differ.
    fn kl_divergence(&self, q: &UniformSphere) -> Tensor<1> {
        assert_eq!(
            q.dim(),
            self.dim(),
            "PowerSpherical ‖ UniformSphere: dims differ"
        );
        assert_eq!(
            q.batch(),
            self.kappa.len(),
            "PowerSpherical ‖ UniformSphere: batch sizes differ"
        );
        self.entropy().neg() + log_sphere_surface_area(self.dim())
    }
}
