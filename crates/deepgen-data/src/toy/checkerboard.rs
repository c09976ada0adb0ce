//! Checkerboard: uniform on the 8 black squares of a 4×4 board (FFJORD convention).
//!
//! The board covers `[-4, 4)²` with squares of side 2. The square containing
//! `x` has column `i = ⌊x₀/2⌋` and row `j = ⌊x₁/2⌋` (both in `-2..=1`); it is
//! black iff `i + j` is even. (FFJORD draws `x₀ ∈ [-2, 2)`,
//! `x₁ ∈ [0,1) ∪ [-2,-1)` shifted up by `⌊x₀⌋ mod 2`, then scales by 2; that
//! lands exactly on these squares.) Black area is `8 · 4 = 32`, so the exact
//! density is `1/32` on black squares and `0` elsewhere:
//! `log p = −ln 32` or `−∞`.

use deepgen_tensor::HostRng;

/// Side of one square.
pub const SQUARE: f64 = 2.0;
/// Half-width of the board: it covers `[-HALF, HALF)²`.
pub const HALF: f64 = 4.0;

/// Whether `x` lies on a black square of the board.
pub fn is_black(x: [f64; 2]) -> bool {
    let inside = (-HALF..HALF).contains(&x[0]) && (-HALF..HALF).contains(&x[1]);
    let i = (x[0] / SQUARE).floor() as i64;
    let j = (x[1] / SQUARE).floor() as i64;
    inside && (i + j).rem_euclid(2) == 0
}

/// `n` independent draws: a black square uniformly, then a point uniformly in it.
pub fn sample(n: usize, rng: &mut HostRng) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let i = rng.below(4) as i64 - 2;
            // Rows of the same parity as `i`: i.rem_euclid(2) - 2 + {0, 2}.
            let j = i.rem_euclid(2) - 2 + 2 * rng.below(2) as i64;
            [
                SQUARE * (i as f64 + rng.uniform()),
                SQUARE * (j as f64 + rng.uniform()),
            ]
        })
        .collect()
}

/// Exact log-density at `x`: `−ln 32` on black squares, `−∞` elsewhere.
pub fn log_density(x: [f64; 2]) -> f64 {
    if is_black(x) {
        -(32f64.ln())
    } else {
        f64::NEG_INFINITY
    }
}
