//! Fréchet distance between Gaussians fitted to two feature sets.
//!
//! For `N(μ₁, Σ₁)` and `N(μ₂, Σ₂)` the squared 2-Wasserstein (Fréchet)
//! distance is
//!
//! ```text
//! FD = |μ₁ − μ₂|² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}
//! ```
//!
//! (Dowson & Landau 1982). This is the formula behind FID (Heusel et al.
//! 2017); `pytorch-fid` writes the last term as `tr sqrtm(Σ₁Σ₂)`, which has the
//! same eigenvalues. Here it is evaluated with two symmetric
//! eigendecompositions ([`SymmetricEigen`]) in f64, so the matrix under the
//! square root stays symmetric positive semi-definite and no complex
//! round-off appears.

use serde::{Deserialize, Serialize};

use crate::EvalError;
use crate::eigen::SymmetricEigen;

/// Mean and (unbiased) covariance of a set of feature vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianStats {
    /// Feature dimension `d`.
    pub dim: usize,
    /// Number of feature vectors the statistics were computed from.
    pub count: usize,
    /// Mean vector, length `d`.
    pub mean: Vec<f64>,
    /// Covariance, row-major `d × d`, normalised by `count − 1`.
    pub cov: Vec<f64>,
}

/// Fits a Gaussian to `n` feature vectors of dimension `d` stored row-major in
/// `features` (`n × d`): the mean and the unbiased covariance (`n − 1` in the
/// denominator, as `numpy.cov`), accumulated in f64 with a two-pass algorithm.
///
/// # Errors
/// [`EvalError::Shape`] if `features.len() != n * d`, if `n < 2` (no
/// covariance) or `d == 0`; [`EvalError::NonFinite`] if a feature is NaN or
/// infinite.
pub fn feature_stats(features: &[f32], n: usize, d: usize) -> Result<GaussianStats, EvalError> {
    if features.len() != n * d || n < 2 || d == 0 {
        return Err(EvalError::Shape {
            what: "feature_stats: `features` (n × d, n ≥ 2, d ≥ 1)",
            expected: format!("n × d = {n} × {d} = {} values", n * d),
            got: format!("{} values", features.len()),
        });
    }
    if features.iter().any(|x| !x.is_finite()) {
        return Err(EvalError::NonFinite {
            what: "feature_stats: `features`",
        });
    }
    let mut mean = vec![0.0f64; d];
    for row in features.chunks_exact(d) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += x as f64;
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let mut cov = vec![0.0f64; d * d];
    let mut centred = vec![0.0f64; d];
    for row in features.chunks_exact(d) {
        for ((c, &x), m) in centred.iter_mut().zip(row).zip(&mean) {
            *c = x as f64 - m;
        }
        for i in 0..d {
            let ci = centred[i];
            let out = &mut cov[i * d + i..(i + 1) * d];
            for (o, &cj) in out.iter_mut().zip(&centred[i..]) {
                *o += ci * cj;
            }
        }
    }
    let denom = (n - 1) as f64;
    for i in 0..d {
        for j in i..d {
            let v = cov[i * d + j] / denom;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    Ok(GaussianStats {
        dim: d,
        count: n,
        mean,
        cov,
    })
}

/// The Fréchet distance between `N(a.mean, a.cov)` and `N(b.mean, b.cov)`
/// (see the module docs for the formula). Always ≥ 0 up to rounding; 0 for
/// identical statistics; symmetric in its arguments.
///
/// Tiny negative eigenvalues (round-off in singular covariances) are clamped
/// to zero before square roots.
///
/// # Errors
/// [`EvalError::Shape`] if the two statistics have different dimensions or
/// inconsistent vector lengths, and the errors of [`SymmetricEigen::new`].
pub fn frechet_distance(a: &GaussianStats, b: &GaussianStats) -> Result<f64, EvalError> {
    let d = a.dim;
    let checks = [
        (
            a,
            "frechet_distance: first statistics (mean length d, cov d × d)",
        ),
        (
            b,
            "frechet_distance: second statistics (same d as the first, mean length d, cov d × d)",
        ),
    ];
    for (s, what) in checks {
        if s.dim != d || s.mean.len() != d || s.cov.len() != d * d {
            return Err(EvalError::Shape {
                what,
                expected: format!("d = {d}: mean of {d} and cov of {} values", d * d),
                got: format!(
                    "d = {}, mean of {}, cov of {}",
                    s.dim,
                    s.mean.len(),
                    s.cov.len()
                ),
            });
        }
    }
    let mean_term: f64 = a
        .mean
        .iter()
        .zip(&b.mean)
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    let trace = |c: &[f64]| (0..d).map(|i| c[i * d + i]).sum::<f64>();

    // Σ₁^{1/2}, then M = Σ₁^{1/2} Σ₂ Σ₁^{1/2} (symmetric PSD).
    let root_a = SymmetricEigen::new(&a.cov, d)?.apply(|x| x.max(0.0).sqrt());
    let tmp = matmul(&root_a, &b.cov, d);
    let m = matmul(&tmp, &root_a, d);
    let cross: f64 = SymmetricEigen::new(&m, d)?
        .values
        .iter()
        .map(|&x| x.max(0.0).sqrt())
        .sum();

    Ok(mean_term + trace(&a.cov) + trace(&b.cov) - 2.0 * cross)
}

/// Row-major `d × d` product.
fn matmul(x: &[f64], y: &[f64], d: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * d];
    for i in 0..d {
        for k in 0..d {
            let xik = x[i * d + k];
            if xik == 0.0 {
                continue;
            }
            let row = &y[k * d..(k + 1) * d];
            for (o, &ykj) in out[i * d..(i + 1) * d].iter_mut().zip(row) {
                *o += xik * ykj;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepgen_tensor::HostRng;

    fn stats(mean: &[f64], cov: &[f64]) -> GaussianStats {
        GaussianStats {
            dim: mean.len(),
            count: 100,
            mean: mean.to_vec(),
            cov: cov.to_vec(),
        }
    }

    // Reference values: /tmp/evalref/fd_ref.py, SciPy 1.17.1 / NumPy 2.4.6, with
    // pytorch-fid 0.3.0's `calculate_frechet_distance` (scipy.linalg.sqrtm of Σ₁Σ₂).
    const X1: [f32; 18] = [
        0.1, 1.2, -0.3, 0.7, 0.2, 0.5, -0.4, 0.9, 1.1, 1.5, -0.6, 0.0, 0.3, 0.3, -0.8, 0.9, 1.7,
        0.4,
    ];
    const X2: [f32; 21] = [
        1.0, 0.0, 0.2, 0.4, -1.1, 0.6, 2.0, 0.5, -0.2, 1.3, 0.8, 1.4, -0.5, 0.1, 0.9, 0.8, -0.3,
        -1.0, 1.1, 1.0, 0.3,
    ];
    const A4: [f64; 16] = [
        2.0, 0.3, -0.4, 0.1, 0.3, 1.5, 0.2, 0.0, -0.4, 0.2, 1.0, 0.25, 0.1, 0.0, 0.25, 0.8,
    ];
    const B4: [f64; 16] = [
        1.2, -0.5, 0.1, 0.3, -0.5, 2.5, 0.4, -0.2, 0.1, 0.4, 0.9, 0.05, 0.3, -0.2, 0.05, 1.7,
    ];
    const MU_A: [f64; 4] = [0.5, -1.0, 0.25, 2.0];
    const MU_B: [f64; 4] = [0.0, 0.5, -0.75, 1.5];

    #[test]
    fn stats_match_numpy() {
        // X1.astype(float32).astype(float64): X1.mean(0), np.cov(X1, rowvar=False).
        let s = feature_stats(&X1, 6, 3).unwrap();
        let mean = [0.5166666619479656, 0.6166666770974795, 0.15000000099341074];
        let cov = [
            0.44166666304071756,
            -0.2583333394676448,
            -0.09300000796218723,
            -0.2583333394676448,
            0.6696667053500822,
            0.12299999422828337,
            -0.09300000796218723,
            0.12299999422828337,
            0.4430000163316728,
        ];
        for (g, w) in s.mean.iter().zip(mean) {
            assert!((g - w).abs() < 1e-15, "mean {g} vs {w}");
        }
        for (g, w) in s.cov.iter().zip(cov) {
            assert!((g - w).abs() < 1e-15, "cov {g} vs {w}");
        }
        assert_eq!((s.dim, s.count), (3, 6));
    }

    #[test]
    fn matches_pytorch_fid_on_sample_sets() {
        // fid(X1.mean(0), np.cov(X1.T), X2.mean(0), np.cov(X2.T)) = 0.6833387902678485
        let a = feature_stats(&X1, 6, 3).unwrap();
        let b = feature_stats(&X2, 7, 3).unwrap();
        let fd = frechet_distance(&a, &b).unwrap();
        assert!((fd - 0.6833387902678485).abs() < 1e-12, "fd = {fd}");
    }

    #[test]
    fn matches_pytorch_fid_on_given_covariances() {
        // fid(MU_A, A4, MU_B, B4) = 4.508591270495426
        let fd = frechet_distance(&stats(&MU_A, &A4), &stats(&MU_B, &B4)).unwrap();
        assert!((fd - 4.508591270495426).abs() < 1e-12, "fd = {fd}");
        // Singular second covariance diag(1, 0, 2, 0). Exact value from mpmath 1.4.1 at
        // 50 digits (/tmp/evalref/fd_mp.py: tr sqrt(D^{1/2} A D^{1/2}) on the rank-2 block):
        // 6.4511911200148381952. pytorch-fid/scipy sqrtm gives 6.451191120014839 (with a
        // "Matrix is singular" warning); a NumPy eigh formula that clips negative
        // eigenvalues gives 6.451191065809981, 5e-8 off: the zero eigenvalues must come
        // out accurately, which the Jacobi method does.
        let b2 = [
            1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        ];
        let fd = frechet_distance(&stats(&MU_A, &A4), &stats(&MU_B, &b2)).unwrap();
        assert!(
            (fd - 6.451_191_120_014_838).abs() < 1e-12,
            "fd = {fd} (mpmath reference)"
        );
    }

    #[test]
    fn zero_for_identical_and_symmetric() {
        let a = stats(&MU_A, &A4);
        let b = stats(&MU_B, &B4);
        let aa = frechet_distance(&a, &a).unwrap();
        assert!(aa.abs() < 1e-12, "FD(a, a) = {aa}");
        let ab = frechet_distance(&a, &b).unwrap();
        let ba = frechet_distance(&b, &a).unwrap();
        assert!((ab - ba).abs() < 1e-12, "FD(a,b) = {ab}, FD(b,a) = {ba}");

        // Larger, nearly singular case: 64-dim features from 50 samples (rank ≤ 49).
        let mut rng = HostRng::seed_from_u64(7);
        let f: Vec<f32> = (0..50 * 64).map(|_| rng.normal() as f32).collect();
        let s = feature_stats(&f, 50, 64).unwrap();
        let ss = frechet_distance(&s, &s).unwrap();
        let scale: f64 = (0..64).map(|i| s.cov[i * 64 + i]).sum();
        // Clamped eigenvalues of a rank-deficient PSD matrix: error ~ sqrt(ε)·scale.
        assert!(ss.abs() < 1e-6 * scale, "FD(s, s) = {ss} (trace {scale})");
    }

    #[test]
    fn one_dimensional_closed_form() {
        // FD(N(μ₁,σ₁²), N(μ₂,σ₂²)) = (μ₁ − μ₂)² + (σ₁ − σ₂)².
        for (m1, s1, m2, s2) in [
            (0.0, 1.0, 0.0, 1.0),
            (1.5, 0.5, -0.5, 2.0),
            (3.0, 0.1, 3.0, 4.0),
        ] {
            let fd =
                frechet_distance(&stats(&[m1], &[s1 * s1]), &stats(&[m2], &[s2 * s2])).unwrap();
            let want: f64 = (m1 - m2) * (m1 - m2) + (s1 - s2) * (s1 - s2);
            assert!((fd - want).abs() < 1e-12, "fd = {fd}, closed form {want}");
        }
    }

    #[test]
    fn commuting_covariances_closed_form() {
        // Diagonal covariances: FD = |Δμ|² + Σᵢ (σ₁ᵢ − σ₂ᵢ)².
        let s1 = [1.0, 4.0, 0.25];
        let s2 = [9.0, 1.0, 0.0];
        let diag = |s: &[f64; 3]| {
            let mut c = vec![0.0; 9];
            for i in 0..3 {
                c[i * 3 + i] = s[i];
            }
            c
        };
        let fd = frechet_distance(
            &stats(&[0.0; 3], &diag(&s1)),
            &stats(&[1.0, 0.0, 0.0], &diag(&s2)),
        )
        .unwrap();
        let want = 1.0 + (1.0 - 3.0f64).powi(2) + (2.0 - 1.0f64).powi(2) + 0.5f64.powi(2);
        assert!((fd - want).abs() < 1e-12, "fd = {fd}, want {want}");
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(matches!(
            feature_stats(&[1.0; 5], 2, 3),
            Err(EvalError::Shape { .. })
        ));
        assert!(matches!(
            feature_stats(&[1.0; 3], 1, 3),
            Err(EvalError::Shape { .. })
        ));
        assert!(matches!(
            feature_stats(&[1.0, f32::NAN, 0.0, 1.0], 2, 2),
            Err(EvalError::NonFinite { .. })
        ));
        let err = frechet_distance(&stats(&MU_A, &A4), &stats(&[0.0], &[1.0])).unwrap_err();
        assert!(err.to_string().contains("second"), "{err}");
    }
}
