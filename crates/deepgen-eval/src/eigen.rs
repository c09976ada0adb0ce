//! Symmetric eigendecomposition in f64 on the host (cyclic Jacobi).
//!
//! The Fréchet distance needs the square root of covariance matrices of at
//! most a few hundred dimensions. The cyclic Jacobi method (Golub & Van Loan,
//! *Matrix Computations*, 4th ed., §8.5) is simple, unconditionally convergent
//! for symmetric matrices, and computes small eigenvalues to high *relative*
//! accuracy, which matters for the nearly singular covariances of ReLU
//! features. A 128×128 matrix takes well under a second.

use crate::EvalError;

/// Maximum number of full sweeps before giving up. Jacobi converges
/// quadratically; 10–15 sweeps are typical for 128×128, so reaching this
/// limit means the input was not a finite symmetric matrix.
const MAX_SWEEPS: usize = 100;

/// Eigenvalues and eigenvectors of a real symmetric matrix: `A = V diag(λ) Vᵀ`.
#[derive(Debug, Clone, PartialEq)]
pub struct SymmetricEigen {
    /// Matrix order `n`.
    pub n: usize,
    /// Eigenvalues in ascending order.
    pub values: Vec<f64>,
    /// Orthonormal eigenvectors, row-major `n × n`; column `j` belongs to `values[j]`.
    pub vectors: Vec<f64>,
}

impl SymmetricEigen {
    /// Decomposes the symmetric row-major `n × n` matrix `a`.
    ///
    /// Only symmetry up to rounding is assumed: the matrix is symmetrised as
    /// `(A + Aᵀ)/2` first.
    ///
    /// # Errors
    /// [`EvalError::Shape`] if `a.len() != n * n`, [`EvalError::NonFinite`] if
    /// an entry is NaN or infinite, [`EvalError::NoConvergence`] if the
    /// iteration does not converge (not expected for finite input).
    pub fn new(a: &[f64], n: usize) -> Result<Self, EvalError> {
        if a.len() != n * n {
            return Err(EvalError::Shape {
                what: "SymmetricEigen::new: matrix `a`",
                expected: format!("{n}×{n} = {} entries", n * n),
                got: format!("{} entries", a.len()),
            });
        }
        if a.iter().any(|x| !x.is_finite()) {
            return Err(EvalError::NonFinite {
                what: "SymmetricEigen::new: matrix `a`",
            });
        }
        let mut m = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                m[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
            }
        }
        let mut v = vec![0.0; n * n];
        for i in 0..n {
            v[i * n + i] = 1.0;
        }

        let total: f64 = m.iter().map(|x| x * x).sum();
        let mut converged = n <= 1 || total == 0.0;
        let mut sweep = 0;
        while !converged && sweep < MAX_SWEEPS {
            sweep += 1;
            let off: f64 = (0..n)
                .flat_map(|p| ((p + 1)..n).map(move |q| (p, q)))
                .map(|(p, q)| 2.0 * m[p * n + q] * m[p * n + q])
                .sum();
            if off <= (f64::EPSILON * f64::EPSILON) * total {
                converged = true;
                break;
            }
            for p in 0..n {
                for q in (p + 1)..n {
                    rotate(&mut m, &mut v, n, p, q);
                }
            }
        }
        if !converged {
            return Err(EvalError::NoConvergence {
                sweeps: MAX_SWEEPS,
                n,
            });
        }

        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| m[i * n + i].total_cmp(&m[j * n + j]));
        let values = order.iter().map(|&i| m[i * n + i]).collect();
        let mut vectors = vec![0.0; n * n];
        for (new_col, &old_col) in order.iter().enumerate() {
            for row in 0..n {
                vectors[row * n + new_col] = v[row * n + old_col];
            }
        }
        Ok(Self { n, values, vectors })
    }

    /// `V f(Λ) Vᵀ`, row-major `n × n`: a spectral function of the matrix
    /// (e.g. `f = sqrt` after clamping negatives for a PSD square root).
    pub fn apply(&self, f: impl Fn(f64) -> f64) -> Vec<f64> {
        let n = self.n;
        let fv: Vec<f64> = self.values.iter().map(|&x| f(x)).collect();
        let mut out = vec![0.0; n * n];
        for i in 0..n {
            for j in i..n {
                let s: f64 = (0..n)
                    .map(|k| self.vectors[i * n + k] * fv[k] * self.vectors[j * n + k])
                    .sum();
                out[i * n + j] = s;
                out[j * n + i] = s;
            }
        }
        out
    }
}

/// One Jacobi rotation `A ← Jᵀ A J`, `V ← V J` that zeroes `A[p][q]`
/// (Numerical Recipes, 3rd ed., eq. 11.1.8–11.1.18, same sign convention).
fn rotate(m: &mut [f64], v: &mut [f64], n: usize, p: usize, q: usize) {
    let apq = m[p * n + q];
    if apq == 0.0 {
        return;
    }
    let app = m[p * n + p];
    let aqq = m[q * n + q];
    // An entry that can no longer change either diagonal entry is set to zero
    // (the Numerical Recipes threshold test), which also guarantees termination.
    let negligible = 1e-2 * f64::EPSILON;
    if apq.abs() < negligible * app.abs() && apq.abs() < negligible * aqq.abs() {
        m[p * n + q] = 0.0;
        m[q * n + p] = 0.0;
        return;
    }
    let theta = (aqq - app) / (2.0 * apq);
    // tan of the rotation angle: the smaller root of t² + 2θt − 1 = 0.
    let t = if theta.abs() > 1e150 {
        0.5 / theta
    } else {
        let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
        sign / (theta.abs() + (theta * theta + 1.0).sqrt())
    };
    let c = 1.0 / (t * t + 1.0).sqrt();
    let s = t * c;
    for k in 0..n {
        let akp = m[k * n + p];
        let akq = m[k * n + q];
        m[k * n + p] = c * akp - s * akq;
        m[k * n + q] = s * akp + c * akq;
    }
    for k in 0..n {
        let apk = m[p * n + k];
        let aqk = m[q * n + k];
        m[p * n + k] = c * apk - s * aqk;
        m[q * n + k] = s * apk + c * aqk;
    }
    // Exact zero by construction; remove the rounding residue.
    m[p * n + q] = 0.0;
    m[q * n + p] = 0.0;
    for k in 0..n {
        let vkp = v[k * n + p];
        let vkq = v[k * n + q];
        v[k * n + p] = c * vkp - s * vkq;
        v[k * n + q] = s * vkp + c * vkq;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepgen_tensor::HostRng;

    fn random_symmetric(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = HostRng::seed_from_u64(seed);
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in i..n {
                let x = rng.normal();
                a[i * n + j] = x;
                a[j * n + i] = x;
            }
        }
        a
    }

    fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn reconstructs_random_symmetric_matrices() {
        for (n, seed) in [(1, 1), (2, 2), (7, 3), (40, 4), (128, 5)] {
            let a = random_symmetric(n, seed);
            let e = SymmetricEigen::new(&a, n).unwrap();
            let back = e.apply(|x| x);
            let scale = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            let err = max_abs_diff(&a, &back) / scale;
            // Backward-stable: error a small multiple of n·ε.
            assert!(err < 1e-12, "n={n}: relative reconstruction error {err}");
            // Orthonormal eigenvectors: VᵀV = I.
            for i in 0..n {
                for j in 0..n {
                    let dot: f64 = (0..n)
                        .map(|k| e.vectors[k * n + i] * e.vectors[k * n + j])
                        .sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-12, "n={n}: (VᵀV)[{i}][{j}] = {dot}");
                }
            }
            assert!(
                e.values.windows(2).all(|w| w[0] <= w[1]),
                "eigenvalues not ascending"
            );
        }
    }

    #[test]
    fn eigenvalues_match_numpy() {
        // numpy.linalg.eigvalsh(A) (NumPy 2.4.6) for the 4×4 matrix below:
        // [0.516526652400005, 1.0141789652794682, 1.5561268923592855, 2.2131674899612435]
        let a = [
            2.0, 0.3, -0.4, 0.1, //
            0.3, 1.5, 0.2, 0.0, //
            -0.4, 0.2, 1.0, 0.25, //
            0.1, 0.0, 0.25, 0.8,
        ];
        let want = [
            0.516526652400005,
            1.0141789652794682,
            1.5561268923592855,
            2.2131674899612435,
        ];
        let e = SymmetricEigen::new(&a, 4).unwrap();
        for (got, want) in e.values.iter().zip(want) {
            assert!(
                (got - want).abs() < 1e-13,
                "eigenvalue {got} vs numpy {want}"
            );
        }
    }

    #[test]
    fn diagonal_and_repeated_eigenvalues() {
        // diag(3, 1, 3, 2): eigenvalues exactly [1, 2, 3, 3].
        let a = [
            3.0, 0.0, 0.0, 0.0, //
            0.0, 1.0, 0.0, 0.0, //
            0.0, 0.0, 3.0, 0.0, //
            0.0, 0.0, 0.0, 2.0,
        ];
        let e = SymmetricEigen::new(&a, 4).unwrap();
        assert_eq!(e.values, vec![1.0, 2.0, 3.0, 3.0]);
        // A PSD matrix of rank 1 (u uᵀ, |u|² = 14) keeps its zero eigenvalues tiny.
        let u = [1.0, 2.0, 3.0];
        let r1: Vec<f64> = (0..9).map(|k| u[k / 3] * u[k % 3]).collect();
        let e = SymmetricEigen::new(&r1, 3).unwrap();
        assert!((e.values[2] - 14.0).abs() < 1e-13, "{:?}", e.values);
        assert!(
            e.values[0].abs() < 1e-14 && e.values[1].abs() < 1e-14,
            "{:?}",
            e.values
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            SymmetricEigen::new(&[1.0, 2.0, 3.0], 2),
            Err(EvalError::Shape { .. })
        ));
        assert!(matches!(
            SymmetricEigen::new(&[1.0, f64::NAN, f64::NAN, 1.0], 2),
            Err(EvalError::NonFinite { .. })
        ));
    }
}
