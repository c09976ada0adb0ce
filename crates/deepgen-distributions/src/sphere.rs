//! Geometry of the unit hypersphere `S^{m−1} = {x ∈ Rᵐ : ‖x‖ = 1}` shared by the
//! directional distributions ([`UniformSphere`](crate::UniformSphere),
//! [`PowerSpherical`](crate::PowerSpherical), von Mises–Fisher).
//!
//! Samplers of rotationally symmetric distributions around a mean direction μ
//! all follow one recipe:
//! 1. draw the cosine `w = μᵀx ∈ [−1, 1]` from the distribution's marginal;
//! 2. draw a tangent direction `v` uniform on `S^{m−2}` ([`uniform_directions`]);
//! 3. build `y = [w, √(1−w²)·v]` around the north pole `e₁` ([`tangent_embed`]);
//! 4. rotate `e₁` onto μ with an orthogonal map ([`householder_reflect`]).
//!
//! Step 4 is differentiable in μ, steps 1 and 3 in `w`, so gradients flow to
//! both parameters. [`log_sphere_surface_area`] gives the normaliser of the
//! uniform distribution.

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_tensor::numerics::host::lgamma;
use deepgen_tensor::rng::HostRng;
use rayon::prelude::*;

/// ln |S^{m−1}| = ln(2 π^{m/2} / Γ(m/2)), the log surface area of the unit sphere
/// in `Rᵐ`, in f64 on the host (via deepgen-tensor's `lgamma`).
///
/// `m = 1` gives ln 2 (the two points ±1), `m = 2` ln 2π, `m = 3` ln 4π; `m = 0`
/// gives `−inf` (the empty sphere). For large `m` the area shrinks
/// super-exponentially (`m = 100`: ≈ e^{−86.6}), hence the log.
pub fn log_sphere_surface_area(m: usize) -> f64 {
    let half = m as f64 / 2.0;
    std::f64::consts::LN_2 + half * std::f64::consts::PI.ln() - lgamma(half)
}

/// Row-wise orthogonal map taking the north pole `e₁ = (1, 0, …, 0)` to `mu`:
/// returns `H(μ_b)·x_b` for every row `b` of `mu` and `x` (both `[B, m]`).
///
/// **Formula.** With the sign `s = +1` if `μ₁ ≤ 0` and `s = −1` if `μ₁ > 0`,
///
/// `H(μ) = s·(I − 2uuᵀ/uᵀu)`, `u = e₁ − s·μ`,
///
/// i.e. `Hx = s·(x − 2u(uᵀx)/(uᵀu))`. For unit μ, `uᵀu = 2(1 − sμ₁)` and
/// `(I − 2uuᵀ/uᵀu)e₁ = e₁ − u = sμ`, so `He₁ = μ`.
///
/// **Why the sign switch.** The textbook reflection `u = e₁ − μ` (`s = +1`)
/// divides by `‖e₁ − μ‖² = 2(1 − μ₁)`, which is 0 at `μ = e₁` and loses all
/// precision near it. Reflecting through `u = e₁ + μ` instead maps `e₁` to `−μ`,
/// which the extra sign flip `s = −1` corrects; its denominator `2(1 + μ₁)`
/// vanishes only at `μ = −e₁`. Picking the branch from the sign of `μ₁` keeps
/// `uᵀu ≥ 1` always (`u₁ = 1 + |μ₁|`), so the map is finite with full precision
/// everywhere, including `μ = ±e₁` exactly: `H(e₁) = −(I − 2e₁e₁ᵀ) =
/// diag(1, −1, …, −1)` and `H(−e₁) = I − 2e₁e₁ᵀ = diag(−1, 1, …, 1)`.
///
/// **Properties** (for any μ, not only unit ones): `H` is symmetric and
/// orthogonal, `H² = I` (so it also maps μ back to `e₁`), and it preserves norms
/// and inner products. The branch `s` is chosen from the detached value of μ₁, so
/// `H` is differentiable in μ (and linear in `x`) on each side of `μ₁ = 0`; at
/// `μ₁ = 0` the map jumps between two rotations that both take `e₁` to μ. For a
/// sample `y` whose law is invariant under rotations fixing `e₁` (all samplers of
/// this module's recipe), both branches give the same distribution of `Hy`, and
/// the pathwise gradient of `E[f(Hy)]` in μ is unbiased on either side.
///
/// # Panics
/// If the shapes of `mu` and `x` differ (Burn's broadcast check).
pub fn householder_reflect(mu: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
    let [b, m] = mu.dims();
    let device = mu.device();
    let positive = mu.clone().detach().narrow(1, 0, 1).greater_elem(0.0); // [B, 1]
    let s = Tensor::<2>::ones([b, 1], &device).mask_fill(positive, -1.0);
    let mut e1 = vec![0.0f32; m];
    e1[0] = 1.0;
    let e1 = Tensor::<2>::from_data(TensorData::new(e1, [1, m]), &device);
    let u = e1 - mu * s.clone(); // e₁ − sμ
    let uu = u.clone().square().sum_dim(1); // [B, 1], ≥ 1
    let ux = (u.clone() * x.clone()).sum_dim(1); // [B, 1]
    (x - u * (ux * 2.0 / uu)) * s
}

/// `x = [w, √(1 − w²)·v]` row-wise: the point at cosine `w` from the north pole
/// `e₁` in the tangent direction `v`.
///
/// `w`: `[B]`, cosines in `[−1, 1]`; `v`: `[B, m−1]`, unit vectors (uniform on
/// `S^{m−2}` for the samplers); returns `[B, m]`, on the unit sphere when `v` is.
///
/// `1 − w²` is evaluated as `(1 − w)(1 + w)` (no cancellation near |w| = 1) and
/// clamped at 0. Where it is 0 (|w| ≥ 1) the square root and its gradient are set
/// to 0, so gradients stay finite (the true derivative of `√(1 − w²)` is infinite
/// there). Samplers that know `√(1 − w²)` more accurately than `f32` can compute it
/// (e.g. `2√(z(1−z))` for `w = 2z − 1`) should use [`tangent_embed_with_sine`].
pub fn tangent_embed(w: Tensor<1>, v: Tensor<2>) -> Tensor<2> {
    let r = ((w.clone().neg() + 1.0) * (w.clone() + 1.0)).clamp_min(0.0);
    let zero = r.clone().lower_equal_elem(0.0);
    let sine = r.mask_fill(zero.clone(), 1.0).sqrt().mask_fill(zero, 0.0);
    tangent_embed_with_sine(w, sine, v)
}

/// `x = [w, sine·v]` row-wise, with the caller supplying `sine = √(1 − w²)`
/// (`[B]`) — e.g. computed on the host in f64 with its own gradient. Shapes as in
/// [`tangent_embed`].
pub fn tangent_embed_with_sine(w: Tensor<1>, sine: Tensor<1>, v: Tensor<2>) -> Tensor<2> {
    let w = w.unsqueeze_dim::<2>(1); // [B, 1]
    let sine = sine.unsqueeze_dim::<2>(1);
    Tensor::cat(vec![w, v * sine], 1)
}

/// `batch` independent directions uniform on `S^{dim−1}`, row-major `[batch, dim]`
/// in f64: normalised standard Gaussian vectors (a Gaussian draw is rotationally
/// invariant, so its direction is uniform; Muller 1959). A zero-norm draw (which
/// has probability zero) is redrawn. For `dim = 1` the directions are ±1.
///
/// The rows are drawn in fixed blocks of [`SAMPLER_BLOCK_ROWS`], each from its own
/// stream `HostRng::derive(key, block)` with `key` the one output taken from `rng`, and
/// the blocks run on rayon's threads. The normals are ziggurat draws
/// ([`HostRng::normal_ziggurat`]), whose consumption of random bits varies, so one
/// stream could not be split by position; with a stream per block the result depends
/// only on the seed, never on the thread count or the scheduling. `rng` advances by
/// exactly one output whatever `batch` and `dim` are.
///
/// # Panics
/// If `dim == 0`.
pub fn uniform_directions(rng: &mut HostRng, batch: usize, dim: usize) -> Vec<f64> {
    assert!(dim > 0, "uniform_directions: `dim` must be ≥ 1");
    let key = rng.next_u64();
    let mut out = vec![0.0f64; batch * dim];
    out.par_chunks_mut(SAMPLER_BLOCK_ROWS * dim)
        .enumerate()
        .for_each(|(block, rows)| {
            let mut stream = HostRng::derive(key, block as u64);
            for row in rows.chunks_mut(dim) {
                loop {
                    row.iter_mut().for_each(|r| *r = stream.normal_ziggurat());
                    let norm = row.iter().map(|r| r * r).sum::<f64>().sqrt();
                    if norm > 0.0 && norm.is_finite() {
                        row.iter_mut().for_each(|r| *r /= norm);
                        break;
                    }
                }
            }
        });
    out
}

/// Rows per block (and random stream) of the host samplers that run on rayon
/// ([`uniform_directions`] and Wood's vMF cosines,
/// [`wood_cosines`](crate::vmf_sampler::wood_cosines)). Part of the definition of their
/// draws: changing it changes every seeded direction and cosine.
pub const SAMPLER_BLOCK_ROWS: usize = 1024;

/// [`uniform_directions`] uploaded as an f32 tensor `[batch, dim]`.
///
/// # Panics
/// If `dim == 0`.
pub fn uniform_sphere_noise(rng: &mut HostRng, shape: [usize; 2], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = uniform_directions(rng, shape[0], shape[1])
        .into_iter()
        .map(|x| x as f32)
        .collect();
    Tensor::from_data(TensorData::new(v, shape), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The draw depends on the seed only: one thread, three threads and the global pool give
    /// the same bits (several blocks, a partial block, `dim = 1`, nothing), the caller's
    /// generator advances by exactly one output, and consecutive calls differ (`dim > 1`; ±1 rows
    /// can repeat by chance).
    #[test]
    fn directions_do_not_depend_on_the_thread_count() {
        let draw = |threads: usize, batch: usize, dim: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut rng = HostRng::seed_from_u64(11);
            let v = pool.install(|| uniform_directions(&mut rng, batch, dim));
            (v, rng)
        };
        for (batch, dim) in [(0, 3), (1, 1), (7, 1), (5000, 7), (2049, 64)] {
            let (one, rng_one) = draw(1, batch, dim);
            let (three, rng_three) = draw(3, batch, dim);
            let mut rng = HostRng::seed_from_u64(11);
            let global = uniform_directions(&mut rng, batch, dim);
            assert_eq!(one.len(), batch * dim);
            for other in [&three, &global] {
                assert!(
                    one.iter()
                        .zip(other)
                        .all(|(x, y)| x.to_bits() == y.to_bits()),
                    "[{batch}, {dim}]: values differ between thread counts"
                );
            }
            let mut after_one = HostRng::seed_from_u64(11);
            after_one.next_u64();
            assert_eq!(rng_one, after_one, "[{batch}, {dim}]: not one output");
            assert_eq!(rng_three, after_one);
            assert_eq!(rng, after_one);
            if batch > 0 && dim > 1 {
                let again = uniform_directions(&mut rng, batch, dim);
                assert_ne!(one, again, "[{batch}, {dim}]: consecutive calls repeat");
            }
        }
    }
}
