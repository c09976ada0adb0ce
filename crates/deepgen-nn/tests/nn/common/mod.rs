//! Helpers shared by the integration tests: host (f64) reference implementations of the
//! layers, reading tensors back, and a visitor that checks every parameter gets a gradient.
#![allow(dead_code)]

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{GroupNorm, Linear};
use burn::tensor::{Gradients, Tensor};
use deepgen_nn::conv::Conv2d;

/// The values of a tensor, row-major, as f64.
pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .try_to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// The bit patterns of a tensor's `f32` values, row-major: for "equal to the bit" checks.
pub fn bits<const D: usize>(t: Tensor<D>) -> Vec<u32> {
    t.into_data()
        .try_to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f32::to_bits)
        .collect()
}

/// The largest absolute difference.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// A host feature map `[C][H][W]` flattened row-major, with its shape.
#[derive(Clone, Debug)]
pub struct Map {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub v: Vec<f64>,
}

impl Map {
    pub fn new(c: usize, h: usize, w: usize, v: Vec<f64>) -> Self {
        assert_eq!(v.len(), c * h * w);
        Self { c, h, w, v }
    }
    pub fn at(&self, c: usize, y: usize, x: usize) -> f64 {
        self.v[(c * self.h + y) * self.w + x]
    }
    /// Example `i` of a `[B, C, H, W]` tensor's host values.
    pub fn from_batch(values: &[f64], i: usize, c: usize, h: usize, w: usize) -> Self {
        let n = c * h * w;
        Self::new(c, h, w, values[i * n..(i + 1) * n].to_vec())
    }
}

/// A 2-D convolution on the host from a Burn `Conv2d`'s own weights (`[out, in, kh, kw]`),
/// with the given stride and symmetric padding.
pub fn conv2d(x: &Map, conv: &Conv2d, stride: usize, pad: usize) -> Map {
    let [co, ci, kh, kw] = conv.weight.val().dims();
    assert_eq!(ci, x.c);
    let w = host(conv.weight.val());
    let b = conv
        .bias
        .as_ref()
        .map(|b| host(b.val()))
        .unwrap_or(vec![0.0; co]);
    let oh = (x.h + 2 * pad - kh) / stride + 1;
    let ow = (x.w + 2 * pad - kw) / stride + 1;
    let mut out = vec![0.0; co * oh * ow];
    for o in 0..co {
        for y in 0..oh {
            for xx in 0..ow {
                let mut s = b[o];
                for i in 0..ci {
                    for dy in 0..kh {
                        for dx in 0..kw {
                            let iy = (y * stride + dy) as isize - pad as isize;
                            let ix = (xx * stride + dx) as isize - pad as isize;
                            if iy < 0 || ix < 0 || iy >= x.h as isize || ix >= x.w as isize {
                                continue;
                            }
                            s += w[((o * ci + i) * kh + dy) * kw + dx]
                                * x.at(i, iy as usize, ix as usize);
                        }
                    }
                }
                out[(o * oh + y) * ow + xx] = s;
            }
        }
    }
    Map::new(co, oh, ow, out)
}

/// GroupNorm on the host (biased variance, ε = 1e-5) with the module's γ, β.
pub fn group_norm(x: &Map, norm: &GroupNorm) -> Map {
    let g = norm.num_groups;
    let cg = x.c / g;
    let gamma = host(norm.gamma.as_ref().unwrap().val());
    let beta = host(norm.beta.as_ref().unwrap().val());
    let hw = x.h * x.w;
    let mut out = x.v.clone();
    for gi in 0..g {
        let range = gi * cg * hw..(gi + 1) * cg * hw;
        let vals = &x.v[range.clone()];
        let n = vals.len() as f64;
        let mean = vals.iter().sum::<f64>() / n;
        let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        for idx in range {
            let c = idx / hw;
            out[idx] = (x.v[idx] - mean) / (var + 1e-5).sqrt() * gamma[c] + beta[c];
        }
    }
    Map::new(x.c, x.h, x.w, out)
}

/// SiLU `x·σ(x)`.
pub fn silu(v: f64) -> f64 {
    v / (1.0 + (-v).exp())
}

/// `y = x·W + b` on the host from a Burn `Linear` (weight `[in, out]`).
pub fn linear(x: &[f64], layer: &Linear) -> Vec<f64> {
    let [i_dim, o_dim] = layer.weight.val().dims();
    assert_eq!(x.len(), i_dim);
    let w = host(layer.weight.val());
    let b = layer
        .bias
        .as_ref()
        .map(|b| host(b.val()))
        .unwrap_or(vec![0.0; o_dim]);
    (0..o_dim)
        .map(|o| b[o] + (0..i_dim).map(|i| x[i] * w[i * o_dim + o]).sum::<f64>())
        .collect()
}

/// Collects, for every float parameter, the squared norm of its gradient (None if missing).
struct GradNorms<'a> {
    grads: &'a Gradients,
    norms: Vec<(String, Option<f64>)>,
}

impl ModuleVisitor for GradNorms<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let dims = param.val().dims();
        let g = param.val().grad(self.grads);
        self.norms.push((
            format!("{dims:?}"),
            g.map(|g| host(g).iter().map(|x| x * x).sum()),
        ));
    }
}

/// Asserts that every float parameter of `model` has a finite, non-zero gradient; returns how
/// many parameters were checked.
pub fn assert_all_params_get_gradients<M: Module>(
    model: &M,
    grads: &Gradients,
    what: &str,
) -> usize {
    let mut visitor = GradNorms {
        grads,
        norms: Vec::new(),
    };
    model.visit(&mut visitor);
    assert!(!visitor.norms.is_empty(), "{what}: no parameters");
    for (i, (dims, n)) in visitor.norms.iter().enumerate() {
        let n = n.unwrap_or_else(|| panic!("{what}: parameter {i} {dims} has no gradient"));
        assert!(
            n.is_finite() && n > 0.0,
            "{what}: parameter {i} {dims} has gradient norm² {n}"
        );
    }
    visitor.norms.len()
}
