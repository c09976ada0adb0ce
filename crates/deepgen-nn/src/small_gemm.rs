//! Matrix products with one tiny dimension, as plain vectorised loops instead of a blocked GEMM.
//!
//! The `gemm` crate packs both operands into panels and runs register-blocked microkernels of
//! 16–64 rows by 6 columns: right for `128×128` blocks, wasteful when one dimension is 1–4. A
//! toy flow's coupling (`1 → 128 → 128 → 2`, batch 512) has four such products per layer and
//! step — the first layer's forward (`k = 1`) and weight gradient (`1 × 128` from 512 rows),
//! the last layer's forward (`n = 2`) and input gradient (`k = 2`) — and a profile of
//! `flows_2d --flow realnvp` put `gemm`'s 1-row microkernel and its packing at ≈ 10 % of the
//! step. Here:
//!
//! - **row updates** (`k ≤ 4` or `m ≤ 4`, `n ≥ 8`): `out[r, :] = Σ_i lhs[r, i] · rhs[i, :]`, one
//!   `axpy` over a contiguous row of `rhs` per term;
//! - **dot products** (`n ≤ 4`, `m ≥ 8`): `out[r, j] = ⟨lhs[r, :], rhs[:, j]⟩` over contiguous
//!   copies of the `n` columns of `rhs` (and of `lhs`'s rows when they are strided), with 16
//!   independent partial sums so the loop vectorises.
//!
//! Written by hand because no maintained crate has a strided small-matrix product that
//! vectorises on stable Rust without a BLAS; the loops are compiled for AVX2 + FMA and chosen at
//! run time (as [`silu`](crate::silu())), with a portable fallback. The sums run in a fixed
//! order, so results do not depend on the thread count.

use crate::flex_kernels::Operand;
use crate::flex_kernels::has_avx2;

/// The width below which a dimension counts as tiny.
const TINY: usize = 4;
/// Partial sums per dot product (a multiple of every vector width).
const LANES: usize = 16;

#[inline(always)]
fn at(op: &Operand<'_>, row: usize, col: usize) -> f32 {
    op.0[(row as isize * op.2 + col as isize * op.1) as usize]
}

/// The `rows × cols` matrix `op` as a row-major vector (borrowed when it already is one).
fn row_major<'a>(op: &Operand<'a>, rows: usize, cols: usize) -> std::borrow::Cow<'a, [f32]> {
    if (op.1 == 1 || cols <= 1) && (op.2 == cols as isize || rows <= 1) {
        return std::borrow::Cow::Borrowed(&op.0[..rows * cols]);
    }
    let mut v = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        v.extend((0..cols).map(|c| at(op, r, c)));
    }
    std::borrow::Cow::Owned(v)
}

#[inline(always)]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

#[inline(always)]
fn dot(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (xc, yc) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (x, y) in xc.zip(yc) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0f32;
    for (&x, &y) in xr.iter().zip(yr) {
        tail += x * y;
    }
    acc.iter().sum::<f32>() + tail
}

/// `out[r, :] = init + Σ_i lhs[r, i] · rhs[i, :]` (`rhs` row-major `k × n`, `init` a row of
/// `n` or zero), appended to the empty `out`.
#[inline(always)]
fn rows_kernel(
    [m, n, k]: [usize; 3],
    lhs: &Operand<'_>,
    rhs: &[f32],
    init: Option<&[f32]>,
    out: &mut Vec<f32>,
) {
    for r in 0..m {
        let start = out.len();
        match (init, k) {
            (Some(b), 0) => out.extend_from_slice(b),
            (None, 0) => out.resize(start + n, 0.0),
            (Some(b), _) => {
                let a = at(lhs, r, 0);
                out.extend(b.iter().zip(&rhs[..n]).map(|(&b, &x)| b + a * x));
            }
            (None, _) => {
                let a = at(lhs, r, 0);
                out.extend(rhs[..n].iter().map(|&x| a * x));
            }
        }
        let row = &mut out[start..];
        for i in 1..k {
            axpy(at(lhs, r, i), &rhs[i * n..(i + 1) * n], row);
        }
    }
}

/// `out[r, j] = init[j] + ⟨lhs[r, :], rhs_t[j, :]⟩` (`lhs` row-major `m × k`, `rhs_t`
/// row-major `n × k`), appended to the empty `out`.
#[inline(always)]
fn dots_kernel(
    [m, n, k]: [usize; 3],
    lhs: &[f32],
    rhs_t: &[f32],
    init: Option<&[f32]>,
    out: &mut Vec<f32>,
) {
    for r in 0..m {
        let row = &lhs[r * k..(r + 1) * k];
        for j in 0..n {
            let b = init.map_or(0.0, |b| b[j]);
            out.push(b + dot(row, &rhs_t[j * k..(j + 1) * k]));
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn rows_kernel_avx2(
    mnk: [usize; 3],
    lhs: &Operand<'_>,
    rhs: &[f32],
    init: Option<&[f32]>,
    out: &mut Vec<f32>,
) {
    rows_kernel(mnk, lhs, rhs, init, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dots_kernel_avx2(
    mnk: [usize; 3],
    lhs: &[f32],
    rhs_t: &[f32],
    init: Option<&[f32]>,
    out: &mut Vec<f32>,
) {
    dots_kernel(mnk, lhs, rhs_t, init, out)
}

/// `lhs [m, k] · rhs [k, n] (+ bias [n] on every row)` as a row-major vector when one
/// dimension is tiny (see the [module docs](self)), else `None` (the caller runs a blocked
/// GEMM).
pub(crate) fn small_gemm(
    m: usize,
    n: usize,
    k: usize,
    lhs: Operand<'_>,
    rhs: Operand<'_>,
    bias: Option<&[f32]>,
) -> Option<Vec<f32>> {
    if let Some(b) = bias {
        assert_eq!(b.len(), n, "small_gemm: bias size");
    }
    let avx2 = has_avx2();
    let rows = |m: usize, n: usize, k: usize, lhs: &Operand<'_>, rhs: &[f32], init| {
        let mut out = Vec::with_capacity(m * n);
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU supports AVX2 and FMA (checked at run time above).
            unsafe { rows_kernel_avx2([m, n, k], lhs, rhs, init, &mut out) };
            return out;
        }
        rows_kernel([m, n, k], lhs, rhs, init, &mut out);
        out
    };
    if n >= 2 * TINY && (k <= TINY || m <= TINY) {
        let rhs = row_major(&rhs, k, n);
        return Some(rows(m, n, k, &lhs, &rhs, bias));
    }
    if n <= TINY && m >= 2 * TINY {
        if lhs.2 == 1 && lhs.1 == m as isize && bias.is_none() {
            // lhs is a transposed row-major matrix (a weight gradient's `xᵀ`): compute
            // outᵀ [n, m] = rhsᵀ [n, k] · lhsᵀ [k, m] by row updates over lhsᵀ's contiguous
            // rows, then transpose the n rows back.
            let lhs_t = &lhs.0[..k * m];
            let out_t = rows(n, m, k, &(rhs.0, rhs.2, rhs.1), lhs_t, None);
            let mut out = Vec::with_capacity(m * n);
            for r in 0..m {
                out.extend((0..n).map(|j| out_t[j * m + r]));
            }
            return Some(out);
        }
        let lhs = row_major(&lhs, m, k);
        // rhsᵀ [n, k]: element (j, i) = rhs(i, j), i.e. rhs with its strides swapped.
        let rhs_t = row_major(&(rhs.0, rhs.2, rhs.1), n, k);
        let mut out = Vec::with_capacity(m * n);
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU supports AVX2 and FMA (checked at run time above).
            unsafe { dots_kernel_avx2([m, n, k], &lhs, &rhs_t, bias, &mut out) };
            return Some(out);
        }
        dots_kernel([m, n, k], &lhs, &rhs_t, bias, &mut out);
        return Some(out);
    }
    let _ = avx2;
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flex_kernels::test_values;

    fn naive(m: usize, n: usize, k: usize, lhs: &Operand<'_>, rhs: &Operand<'_>) -> Vec<f64> {
        let mut out = vec![0.0f64; m * n];
        for r in 0..m {
            for j in 0..n {
                out[r * n + j] = (0..k)
                    .map(|i| at(lhs, r, i) as f64 * at(rhs, i, j) as f64)
                    .sum();
            }
        }
        out
    }

    /// Every tiny-dimension shape of the toy couplings and their gradients, in row-major and
    /// transposed (strided) layouts of both operands.
    #[test]
    fn small_products_match_the_direct_sum() {
        let shapes = [
            [512, 128, 1],
            [1, 128, 512],
            [512, 2, 128],
            [512, 128, 2],
            [128, 2, 512],
            [2, 128, 512],
            [9, 8, 3],
            [8, 1, 40],
            [300, 17, 4],
            [3, 33, 70],
            [6, 9, 0],
        ];
        for [m, n, k] in shapes {
            let (a, b) = (test_values(m * k, 1), test_values(k * n, 2));
            for lhs_t in [false, true] {
                for rhs_t in [false, true] {
                    // Row-major (cs 1, rs cols) or a transposed view (cs rows, rs 1).
                    let lhs = if lhs_t {
                        (&a[..], m as isize, 1)
                    } else {
                        (&a[..], 1, k as isize)
                    };
                    let rhs = if rhs_t {
                        (&b[..], k as isize, 1)
                    } else {
                        (&b[..], 1, n as isize)
                    };
                    let got = small_gemm(m, n, k, lhs, rhs, None)
                        .unwrap_or_else(|| panic!("{:?} must take the small path", [m, n, k]));
                    let want = naive(m, n, k, &lhs, &rhs);
                    let scale = want.iter().fold(1.0f64, |s, v| s.max(v.abs()));
                    let tol = 1e-6 * scale * (k.max(1) as f64).sqrt();
                    assert_eq!(got.len(), m * n);
                    // The same product with a bias on every row.
                    let bias = test_values(n, 9);
                    let got_b = small_gemm(m, n, k, lhs, rhs, Some(&bias)).unwrap();
                    assert_eq!(got_b.len(), m * n);
                    for (i, (&g, &w)) in got_b.iter().zip(&want).enumerate() {
                        let w = w + bias[i % n] as f64;
                        assert!(
                            (g as f64 - w).abs() <= tol,
                            "{:?} + bias (lhs_t {lhs_t}, rhs_t {rhs_t})[{i}]: {g} vs {w}",
                            [m, n, k]
                        );
                    }
                    for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (g as f64 - w).abs() <= tol,
                            "{:?} (lhs_t {lhs_t}, rhs_t {rhs_t})[{i}]: {g} vs {w}",
                            [m, n, k]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn large_products_are_left_to_the_blocked_gemm() {
        let a = test_values(128 * 128, 3);
        for [m, n, k] in [[128, 128, 128], [64, 5, 128], [5, 5, 128]] {
            let lhs = (&a[..m * k], 1, k as isize);
            let rhs = (&a[..k * n], 1, n as isize);
            assert!(
                small_gemm(m, n, k, lhs, rhs, None).is_none(),
                "{:?}",
                [m, n, k]
            );
        }
    }
}
