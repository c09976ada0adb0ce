//! Small dense linear algebra on the host in f64: LU with partial pivoting, determinants,
//! inverses and random orthogonal matrices — what the invertible 1×1 convolutions need — and
//! the Cholesky factor the f-VAE's ex-post Gaussian over its codes needs.
//!
//! Matrices are row-major `Vec<f64>` of `n × n`; `n` is a channel count (≤ a few hundred), so
//! O(n³) on the host is negligible next to the convolutions, and f64 keeps `ln|det|` and the
//! inverse accurate where an f32 device computation would lose digits (Glow's 1×1
//! convolutions are known to drift away from invertibility numerically when inverted in f32).

use burn::tensor::{Device, Tensor, TensorData};

/// An LU factorisation with partial pivoting: `P·A = L·U`, `L` unit lower triangular.
#[derive(Debug, Clone)]
pub struct Lu {
    /// `n`.
    pub n: usize,
    /// `L` below the diagonal and `U` on and above it, row-major.
    pub lu: Vec<f64>,
    /// `piv[i]`: the row of `A` that became row `i` of `P·A`.
    pub piv: Vec<usize>,
}

impl Lu {
    /// Factorises the row-major `n × n` matrix `a`.
    ///
    /// # Panics
    /// If `a` is not `n × n` or is exactly singular.
    pub fn new(a: &[f64], n: usize) -> Self {
        assert_eq!(a.len(), n * n, "Lu: expected an {n}×{n} matrix");
        let mut lu = a.to_vec();
        let mut piv: Vec<usize> = (0..n).collect();
        for k in 0..n {
            let p = (k..n)
                .max_by(|&r, &s| lu[r * n + k].abs().total_cmp(&lu[s * n + k].abs()))
                .expect("non-empty");
            if p != k {
                for c in 0..n {
                    lu.swap(k * n + c, p * n + c);
                }
                piv.swap(k, p);
            }
            let pivot = lu[k * n + k];
            assert!(pivot != 0.0, "Lu: singular matrix");
            for r in k + 1..n {
                let m = lu[r * n + k] / pivot;
                lu[r * n + k] = m;
                for c in k + 1..n {
                    lu[r * n + c] -= m * lu[k * n + c];
                }
            }
        }
        Self { n, lu, piv }
    }

    /// `ln|det A| = Σ ln|U_ii|`.
    pub fn ln_abs_det(&self) -> f64 {
        (0..self.n)
            .map(|i| self.lu[i * self.n + i].abs().ln())
            .sum()
    }

    /// `A⁻¹`, row-major.
    pub fn inverse(&self) -> Vec<f64> {
        let n = self.n;
        let mut inv = vec![0.0; n * n];
        for col in 0..n {
            // Solve A x = e_col: L y = P e_col, U x = y.
            let mut x: Vec<f64> = (0..n)
                .map(|i| if self.piv[i] == col { 1.0 } else { 0.0 })
                .collect();
            for i in 0..n {
                for j in 0..i {
                    x[i] -= self.lu[i * n + j] * x[j];
                }
            }
            for i in (0..n).rev() {
                for j in i + 1..n {
                    x[i] -= self.lu[i * n + j] * x[j];
                }
                x[i] /= self.lu[i * n + i];
            }
            for i in 0..n {
                inv[i * n + col] = x[i];
            }
        }
        inv
    }
}

/// The lower-triangular Cholesky factor `L` (`A = L·Lᵀ`, row-major) of the symmetric `n × n`
/// matrix `a` (only its lower triangle is read); `None` if `a` is not positive definite.
///
/// # Panics
/// If `a` is not `n × n`.
pub fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    assert_eq!(a.len(), n * n, "cholesky: expected an {n}×{n} matrix");
    let mut l = vec![0.0f64; n * n];
    for r in 0..n {
        for c in 0..=r {
            let s: f64 = (0..c).map(|j| l[r * n + j] * l[c * n + j]).sum();
            if r == c {
                let v = a[r * n + r] - s;
                if v.is_nan() || v <= 0.0 {
                    return None;
                }
                l[r * n + r] = v.sqrt();
            } else {
                l[r * n + c] = (a[r * n + c] - s) / l[c * n + c];
            }
        }
    }
    Some(l)
}

/// A Haar-random orthogonal matrix from `n²` standard-normal values: the `Q` of their QR
/// decomposition (modified Gram–Schmidt on the columns, in f64), with the signs fixed so that
/// `R` has a positive diagonal.
pub fn orthogonal_from_normal(g: &[f64], n: usize) -> Vec<f64> {
    assert_eq!(g.len(), n * n);
    let mut q = g.to_vec();
    for j in 0..n {
        for k in 0..j {
            let dot: f64 = (0..n).map(|i| q[i * n + j] * q[i * n + k]).sum();
            for i in 0..n {
                q[i * n + j] -= dot * q[i * n + k];
            }
        }
        let norm: f64 = (0..n).map(|i| q[i * n + j].powi(2)).sum::<f64>().sqrt();
        assert!(norm > 0.0, "orthogonal_from_normal: degenerate draw");
        for i in 0..n {
            q[i * n + j] /= norm;
        }
    }
    q
}

/// Row-major host copy of a matrix, in f64.
pub(crate) fn to_host(t: &Tensor<2>) -> Vec<f64> {
    t.try_to_vec_as::<f64>()
        .expect("a float matrix converts to f64")
}

/// Uploads a row-major `rows × cols` f64 matrix (stored in the device's float dtype).
pub(crate) fn from_host(v: Vec<f64>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

/// `Aᵀ` of a row-major `n × n` matrix.
pub(crate) fn transpose(a: &[f64], n: usize) -> Vec<f64> {
    (0..n * n).map(|k| a[(k % n) * n + k / n]).collect()
}
