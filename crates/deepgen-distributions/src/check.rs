//! Argument checks shared by the checked constructors.

use burn::tensor::Tensor;

use crate::{DistributionError, Result};

/// `b` must have exactly the shape of `a`.
pub(crate) fn same_shape<const D: usize>(
    distribution: &'static str,
    a_name: &'static str,
    a: &Tensor<D>,
    b_name: &'static str,
    b: &Tensor<D>,
) -> Result<()> {
    if a.dims() != b.dims() {
        return Err(DistributionError::Shape {
            distribution,
            argument: b_name,
            got: b.dims().to_vec(),
            expected: format!("the shape of `{a_name}`, {:?}", a.dims()),
        });
    }
    Ok(())
}

/// `t` must have at least one row and one column.
pub(crate) fn non_empty<const D: usize>(
    distribution: &'static str,
    name: &'static str,
    t: &Tensor<D>,
) -> Result<()> {
    if t.dims().contains(&0) {
        return Err(DistributionError::Shape {
            distribution,
            argument: name,
            got: t.dims().to_vec(),
            expected: "no zero-sized dimension".into(),
        });
    }
    Ok(())
}

/// Reads `t` to the host as f64 (one device sync).
pub(crate) fn host_values<const D: usize>(t: &Tensor<D>) -> Vec<f64> {
    t.clone()
        .into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("tensor converts to f64")
}

/// Every element of `t` must satisfy `ok`; otherwise the first offender is reported
/// with `what` (e.g. "must be > 0").
pub(crate) fn all_values<const D: usize>(
    distribution: &'static str,
    name: &'static str,
    t: &Tensor<D>,
    what: &str,
    ok: impl Fn(f64) -> bool,
) -> Result<()> {
    let v = host_values(t);
    if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !ok(**x)) {
        return Err(DistributionError::InvalidParameter {
            distribution,
            argument: name,
            reason: format!("{what}, but element {i} is {x}"),
        });
    }
    Ok(())
}

/// Every element of `t` must be finite.
#[allow(dead_code)] // for constructors whose parameters have no constrained domain
pub(crate) fn finite<const D: usize>(
    distribution: &'static str,
    name: &'static str,
    t: &Tensor<D>,
) -> Result<()> {
    all_values(distribution, name, t, "must be finite", f64::is_finite)
}

/// A host scalar parameter must satisfy `ok`.
pub(crate) fn scalar(
    distribution: &'static str,
    name: &'static str,
    x: f64,
    what: &str,
    ok: impl Fn(f64) -> bool,
) -> Result<()> {
    if !ok(x) {
        return Err(DistributionError::InvalidParameter {
            distribution,
            argument: name,
            reason: format!("{what}, got {x}"),
        });
    }
    Ok(())
}

/// Allowed deviation of `‖loc_b‖` from 1 for the distributions on the sphere.
pub(crate) const UNIT_NORM_TOL: f64 = 1e-4;

/// The checked parameters of a rotationally symmetric distribution on `S^{m−1}`
/// (von Mises–Fisher, power spherical).
pub(crate) struct SphereParams {
    /// Batch size `B`.
    pub batch: usize,
    /// Ambient dimension `m ≥ 2`.
    pub dim: usize,
    /// κ on the host, length `B`, every value finite and ≥ 0.
    pub kappa: Vec<f64>,
}

/// Checks the mean direction `loc` (`[B, m]`, `m ≥ 2`, every row of unit norm within
/// [`UNIT_NORM_TOL`]) and the concentration (`[B]`, finite, ≥ 0) of `distribution`.
///
/// Errors: `Shape` naming `loc` (zero-sized or `m < 2`) or `concentration` (not `[B]`);
/// `InvalidParameter` naming `loc` (non-finite or not unit norm) or `concentration`
/// (negative or non-finite). Reads κ and μ to the host (two device syncs).
pub(crate) fn sphere_params(
    distribution: &'static str,
    loc: &Tensor<2>,
    concentration: &Tensor<1>,
) -> Result<SphereParams> {
    non_empty(distribution, "loc", loc)?;
    let [b, m] = loc.dims();
    if m < 2 {
        return Err(DistributionError::Shape {
            distribution,
            argument: "loc",
            got: vec![b, m],
            expected: "[B, m] with m ≥ 2 (the sphere S^{m−1} ⊂ R^m)".into(),
        });
    }
    if concentration.dims() != [b] {
        return Err(DistributionError::Shape {
            distribution,
            argument: "concentration",
            got: concentration.dims().to_vec(),
            expected: format!("[B] = [{b}] (one κ per row of `loc`)"),
        });
    }
    let kappa = host_values(concentration);
    if let Some((i, k)) = kappa
        .iter()
        .enumerate()
        .find(|(_, k)| !(k.is_finite() && **k >= 0.0))
    {
        return Err(DistributionError::InvalidParameter {
            distribution,
            argument: "concentration",
            reason: format!("must be finite and ≥ 0, but element {i} is {k}"),
        });
    }
    let mu = host_values(loc);
    for (row, r) in mu.chunks(m).enumerate() {
        let norm = r.iter().map(|x| x * x).sum::<f64>().sqrt();
        let unit = norm.is_finite() && (norm - 1.0).abs() <= UNIT_NORM_TOL;
        if !unit {
            return Err(DistributionError::InvalidParameter {
                distribution,
                argument: "loc",
                reason: format!(
                    "rows must have unit norm (within {UNIT_NORM_TOL}); normalise it \
                     first, but row {row} has norm {norm}"
                ),
            });
        }
    }
    Ok(SphereParams {
        batch: b,
        dim: m,
        kappa,
    })
}

/// `v + g·(κ − stopgrad κ)` on κ's device: the value `v` (computed on the host in f64) with
/// the exact derivative `g` attached for autodiff — the way the spherical distributions put
/// host-computed values and implicit-reparameterisation gradients into the graph.
pub(crate) fn surrogate(value: &[f64], slope: &[f64], kappa: &Tensor<1>) -> Tensor<1> {
    let device = kappa.device();
    let n = value.len();
    let v: Vec<f32> = value.iter().map(|&x| x as f32).collect();
    let g: Vec<f32> = slope.iter().map(|&x| x as f32).collect();
    let v = Tensor::<1>::from_data(burn::tensor::TensorData::new(v, [n]), &device);
    if !kappa.is_autodiff() {
        return v;
    }
    let g = Tensor::<1>::from_data(burn::tensor::TensorData::new(g, [n]), &device);
    v + g * (kappa.clone() - kappa.clone().detach())
}
