//! The top-k code of the k-sparse autoencoder (Makhzani & Frey 2013).

use burn::tensor::{IndexingUpdateOp, Tensor};

/// Keeps the `k` largest entries of each row of `code` (`[B, m]`) and sets the others to 0.
///
/// The result is `code · mask` with a constant 0/1 mask built from the indices of the top-k
/// values (exactly `k` ones per row, ties broken by the backend's top-k), so the gradient
/// flows only through the kept units. `k ≥ m` returns `code` unchanged.
///
/// # Panics
/// If `k == 0`.
pub fn keep_top_k(code: Tensor<2>, k: usize) -> Tensor<2> {
    assert!(k > 0, "keep_top_k: k must be at least 1");
    let [b, m] = code.dims();
    if k >= m {
        return code;
    }
    let device = code.device();
    let (_, idx) = code.clone().detach().topk_with_indices(k, 1);
    let mask = Tensor::<2>::zeros([b, m], &device).scatter(
        1,
        idx,
        Tensor::ones([b, k], &device),
        IndexingUpdateOp::Assign,
    );
    code * mask
}

/// The number of kept units at a step: `value` (e.g. the `"k"` schedule) rounded to the
/// nearest whole number and clamped to `[1, m]`.
pub fn k_at(value: f64, m: usize) -> usize {
    if value.is_finite() {
        (value.round().max(1.0) as usize).min(m)
    } else {
        m
    }
}
