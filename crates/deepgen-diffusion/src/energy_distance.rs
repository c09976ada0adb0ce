//! The energy distance between two point sets (Székely & Rizzo 2013, "Energy statistics: A
//! class of statistics based on distances"), the sample-quality number of the 2-D toy task.
//!
//! For samples `x_1 … x_n` and `y_1 … y_m` in `R^d`,
//!
//! ```text
//! E(X, Y) = 2/(n m) Σ_ij ‖x_i − y_j‖ − 1/n² Σ_ii' ‖x_i − x_i'‖ − 1/m² Σ_jj' ‖y_j − y_j'‖
//! ```
//!
//! with Euclidean norms: the energy distance between the two **empirical** distributions
//! (V-statistics, the diagonal's zero terms included). It is what `dcor.energy_distance`
//! computes, and the square of SciPy's one-dimensional `scipy.stats.energy_distance`. It is
//! never negative, and zero only for equal empirical distributions; for the distributions it
//! estimates, `2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖` is zero exactly when they are equal. Two finite
//! draws of one distribution give a small positive number (the V-statistic's bias is about
//! `E‖X−X'‖/n + E‖Y−Y'‖/m`, plus sampling noise of the same order), so a score is read against
//! that floor: the energy distance of two independent draws of the data of the same sizes.
//!
//! Everything is f64 on the host; the cost is `(n + m)²/2` distances (10 000 + 10 000 points: 2·10⁸,
//! about a second).

/// The energy distance `E(X, Y)` of the [module docs](self) between row-major point sets.
///
/// `x` holds `n = x.len()/dim` points and `y` holds `m = y.len()/dim`, each point `dim`
/// consecutive coordinates (a `[n, dim]` array, as `samples.npy`).
///
/// # Panics
/// If `dim` is 0, a length is not a multiple of `dim`, or either set is empty.
pub fn energy_distance(x: &[f64], y: &[f64], dim: usize) -> f64 {
    assert!(dim > 0, "energy_distance: dim must be at least 1");
    assert!(
        x.len().is_multiple_of(dim) && y.len().is_multiple_of(dim),
        "energy_distance: {} and {} values are not whole points of {dim} coordinates",
        x.len(),
        y.len()
    );
    let n = x.len() / dim;
    let m = y.len() / dim;
    assert!(n > 0 && m > 0, "energy_distance: a point set is empty");
    let between = sum_of_distances(x, y, dim) / (n as f64 * m as f64);
    let within_x = 2.0 * sum_within(x, dim) / (n as f64 * n as f64);
    let within_y = 2.0 * sum_within(y, dim) / (m as f64 * m as f64);
    2.0 * between - within_x - within_y
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q) * (p - q))
        .sum::<f64>()
        .sqrt()
}

/// `Σ_ij ‖x_i − y_j‖`, summed per row first (rows of similar size keep the f64 sum accurate).
fn sum_of_distances(x: &[f64], y: &[f64], dim: usize) -> f64 {
    x.chunks_exact(dim)
        .map(|a| y.chunks_exact(dim).map(|b| distance(a, b)).sum::<f64>())
        .sum()
}

/// `Σ_{i<i'} ‖x_i − x_i'‖`.
fn sum_within(x: &[f64], dim: usize) -> f64 {
    let points: Vec<&[f64]> = x.chunks_exact(dim).collect();
    points
        .iter()
        .enumerate()
        .map(|(i, a)| points[i + 1..].iter().map(|b| distance(a, b)).sum::<f64>())
        .sum()
}
