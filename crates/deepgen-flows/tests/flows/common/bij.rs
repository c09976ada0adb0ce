//! Helpers for the coupling-flow tests: perturbing every float parameter (so zero-initialised
//! layers are not the identity), gradients of every parameter, and a generic check of a
//! `Bijection<R>` (round trip, inverse ladj, ladj vs the autodiff Jacobian's ln|det|).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Gradients;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use deepgen_flows::Bijection;

use super::{autodiff_jacobians, host, ln_abs_det, max_abs_diff};

/// Adds N(0, scale²) noise (Burn's device RNG) to every float parameter, keeping ids and the
/// gradient requirement.
pub struct Perturb {
    pub scale: f64,
}

impl ModuleMapper for Perturb {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let scale = self.scale;
        param.map(|t| {
            let rg = t.is_require_grad();
            let noise = Tensor::random(t.shape(), Distribution::Normal(0.0, scale), &t.device());
            let v = (t.detach() + noise).detach();
            if rg { v.require_grad() } else { v }
        })
    }
}

/// `m` with every float parameter perturbed by N(0, scale²).
pub fn perturb<M: Module>(m: M, scale: f64) -> M {
    m.map(&mut Perturb { scale })
}

/// (number of elements, max |grad|, all finite) of one parameter's gradient.
pub type GradStat = (usize, f64, bool);

/// For every float parameter: its [`GradStat`], or `None` when it got no gradient.
pub struct GradStats<'a> {
    pub grads: &'a Gradients,
    pub out: Vec<(String, Option<GradStat>)>,
    pub path: Vec<String>,
}

impl ModuleVisitor for GradStats<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let name = self.path.join(".");
        let stat = param.val().grad(self.grads).map(|g| {
            let v = host(g);
            let max = v.iter().fold(0.0f64, |a, x| a.max(x.abs()));
            (v.len(), max, v.iter().all(|x| x.is_finite()))
        });
        self.out.push((name, stat));
    }
}

/// Asserts every float parameter of `m` received a finite, not-all-zero gradient.
pub fn assert_all_params_have_grads<M: Module>(what: &str, m: &M, grads: &Gradients) {
    let mut v = GradStats {
        grads,
        out: vec![],
        path: vec![],
    };
    m.visit(&mut v);
    assert!(!v.out.is_empty(), "{what}: no float parameters");
    for (name, stat) in &v.out {
        let (n, max, finite) = stat.unwrap_or_else(|| panic!("{what}: {name} got no gradient"));
        assert!(finite, "{what}: {name} has a non-finite gradient");
        assert!(
            max > 0.0,
            "{what}: {name} ({n} elements) has an all-zero gradient"
        );
    }
    eprintln!(
        "{what}: {} float parameters, all with gradients",
        v.out.len()
    );
}

/// A rank-`R` tensor from row-major f64 values.
pub fn tensor_r<const R: usize>(values: &[f64], dims: [usize; R], device: &Device) -> Tensor<R> {
    let data: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, dims), device)
}

/// Checks a bijection at the points `x` (`dims[0]` rows, row-major):
/// - `inverse(forward(x)) ≈ x` (max abs error < `tol_x`),
/// - inverse ladj at `z` = −forward ladj (< `tol_ladj`),
/// - forward ladj = ln|det J| of the autodiff Jacobian (f32 entries, LU in f64; < `tol_ladj`).
///
/// `device` must be an autodiff device. Returns the largest ladj error.
#[allow(clippy::too_many_arguments)]
pub fn check_bijection<const R: usize, T: Bijection<R>>(
    what: &str,
    t: &T,
    x: &[f64],
    dims: [usize; R],
    context: Option<&Tensor<2>>,
    device: &Device,
    tol_x: f64,
    tol_ladj: f64,
) -> f64 {
    let n = dims[0];
    let m: usize = dims[1..].iter().product();
    let xt = tensor_r(x, dims, device);
    let (z, ladj) = t.forward_and_ladj(xt, context);
    let z_dims = z.dims();
    let (back, ladj_inv) = t.inverse_and_ladj(z.clone(), context);
    let z_host = host(z);
    assert!(
        z_host.iter().all(|v| v.is_finite()),
        "{what}: non-finite output"
    );
    let err_x = max_abs_diff(&host(back), x);
    let ladj = host(ladj);
    let err_inv = max_abs_diff(
        &host(ladj_inv).iter().map(|v| -v).collect::<Vec<_>>(),
        &ladj,
    );
    assert!(err_x < tol_x, "{what}: round trip error {err_x:e}");
    assert!(
        err_inv < tol_ladj,
        "{what}: inverse ladj ≠ −forward ladj ({err_inv:e})"
    );

    let jac = autodiff_jacobians(x, m, device, |rows| {
        let y = t.forward(rows.reshape(dims), context);
        assert_eq!(y.dims(), z_dims);
        y.reshape([n, m])
    });
    let mut worst = 0.0f64;
    for p in 0..n {
        let want = ln_abs_det(&jac[p], m);
        let e = (ladj[p] - want).abs();
        worst = worst.max(e);
        assert!(
            e < tol_ladj,
            "{what}: point {p}: ladj {} vs ln|det J| {want} (Δ {e:e})",
            ladj[p]
        );
    }
    eprintln!(
        "{what}: round trip {err_x:.1e}, inverse ladj {err_inv:.1e}, ladj vs ln|det J| {worst:.1e}"
    );
    worst
}
