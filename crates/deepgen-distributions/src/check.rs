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
