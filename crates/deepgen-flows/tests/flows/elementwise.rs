//! Elementwise bijections: the rational-quadratic spline against an independent f64 host
//! implementation of the paper's formulas (golden values at fixed parameters), identity tails,
//! zero parameters = identity, round trips, ln|derivative| against finite differences, and no
//! NaN in values or gradients for extreme inputs; affine/additive; the logit transform at the
//! boundaries.

use crate::common::bij::tensor_r;
use crate::common::{host, max_abs_diff};

use burn::tensor::{Device, Tensor};
use deepgen_flows::{
    Additive, Affine, AffineScale, Bijection, ElementwiseBijection, LogitTransform,
    RationalQuadraticSpline, SigmoidGated,
};
use deepgen_tensor::Validate;
use deepgen_tensor::rng::HostRng;

const K: usize = 5;
const B: f64 = 2.0;

fn spline() -> RationalQuadraticSpline {
    RationalQuadraticSpline::new().with_bins(K).with_bound(B)
}

/// Independent f64 reference: knots from softmax/softplus as documented, bin by linear scan,
/// eq. 4 / eq. 5, inverse by bisection (not the quadratic formula).
struct HostSpline {
    xs: Vec<f64>,
    ys: Vec<f64>,
    ds: Vec<f64>,
}

impl HostSpline {
    fn new(p: &[f64]) -> Self {
        let m = 1e-3;
        let edges = |raw: &[f64]| {
            let mx = raw.iter().cloned().fold(f64::MIN, f64::max);
            let e: Vec<f64> = raw.iter().map(|r| (r - mx).exp()).collect();
            let s: f64 = e.iter().sum();
            let mut knots = vec![-B];
            let mut acc = 0.0;
            for v in &e {
                acc += m + (1.0 - m * K as f64) * v / s;
                knots.push(2.0 * B * acc - B);
            }
            knots[K] = B;
            knots
        };
        let c = (1.0f64 - m).exp_m1().ln();
        let mut ds = vec![1.0];
        for &u in &p[2 * K..3 * K - 1] {
            ds.push(m + (u + c).exp().ln_1p());
        }
        ds.push(1.0);
        Self {
            xs: edges(&p[..K]),
            ys: edges(&p[K..2 * K]),
            ds,
        }
    }

    fn forward(&self, x: f64) -> (f64, f64) {
        if x.abs() > B {
            return (x, 0.0);
        }
        let k = (0..K).rev().find(|&k| x >= self.xs[k]).unwrap_or(0);
        let (w, h) = (self.xs[k + 1] - self.xs[k], self.ys[k + 1] - self.ys[k]);
        let s = h / w;
        let xi = (x - self.xs[k]) / w;
        let (d0, d1) = (self.ds[k], self.ds[k + 1]);
        let den = s + (d1 + d0 - 2.0 * s) * xi * (1.0 - xi);
        let y = self.ys[k] + h * (s * xi * xi + d0 * xi * (1.0 - xi)) / den;
        let dy = s * s * (d1 * xi * xi + 2.0 * s * xi * (1.0 - xi) + d0 * (1.0 - xi).powi(2))
            / (den * den);
        (y, dy.ln())
    }

    fn inverse(&self, y: f64) -> f64 {
        if y.abs() > B {
            return y;
        }
        let (mut lo, mut hi) = (-B, B);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if self.forward(mid).0 < y {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }
}

/// Fixed parameters for `n` elements: varied, deterministic.
fn params(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = HostRng::seed_from_u64(seed);
    (0..n * (3 * K - 1)).map(|_| 1.5 * rng.normal()).collect()
}

fn eval(
    f: &dyn ElementwiseBijection,
    x: &[f64],
    p: &[f64],
    inverse: bool,
    dev: &Device,
) -> (Vec<f64>, Vec<f64>) {
    let n = x.len();
    let xt = tensor_r(x, [n], dev);
    let pt = tensor_r(p, [n, f.num_params()], dev);
    let (y, l) = if inverse {
        f.inverse(xt, pt)
    } else {
        f.forward(xt, pt)
    };
    (host(y), host(l))
}

#[test]
fn spline_matches_an_independent_host_implementation() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    let n = 64;
    let p = params(n, 1);
    // Inputs across the whole range, both tails, and the exact boundaries.
    let mut x: Vec<f64> = (0..n - 4)
        .map(|i| -2.4 + 4.8 * i as f64 / (n - 5) as f64)
        .collect();
    x.extend([-B, B, -1e6, 1e6]);
    let (y, l) = eval(&spline(), &x, &p, false, &dev);
    let mut worst = (0.0f64, 0.0f64);
    for i in 0..n {
        let hs = HostSpline::new(&p[i * (3 * K - 1)..(i + 1) * (3 * K - 1)]);
        let (wy, wl) = hs.forward(x[i]);
        worst.0 = worst.0.max((y[i] - wy).abs() / wy.abs().max(1.0));
        worst.1 = worst.1.max((l[i] - wl).abs());
    }
    eprintln!(
        "spline vs host: value rel {:.1e}, ln dy/dx {:.1e}",
        worst.0, worst.1
    );
    // f32 evaluation: a few ulps on values of size ≤ 2, ln-derivative a few 1e-6.
    assert!(worst.0 < 2e-6 && worst.1 < 5e-5, "{worst:?}");

    // Inverse: the host spline maps the device's inverse back onto y (backward error; the
    // forward error |x − x*| can be large where the spline is nearly flat, dy/dx ~ 1e-3, since
    // y itself is only known to f32 precision).
    let (xb, lb) = eval(&spline(), &y, &p, true, &dev);
    let mut worst_y = 0.0f64;
    for i in 0..n {
        let hs = HostSpline::new(&p[i * (3 * K - 1)..(i + 1) * (3 * K - 1)]);
        let back = hs.forward(xb[i]).0;
        worst_y = worst_y.max((back - y[i]).abs());
        let (_, l_at) = hs.forward(xb[i]);
        assert!(
            (lb[i] + l_at).abs() < 1e-3,
            "inverse ladj {} vs −{l_at}",
            lb[i]
        );
        // Sanity of the forward error where the slope is not tiny.
        if l_at > -3.0 {
            let want = hs.inverse(y[i]);
            assert!(
                (xb[i] - want).abs() < 1e-4,
                "inverse at {}: {} vs {want}",
                y[i],
                xb[i]
            );
        }
    }
    eprintln!("spline inverse: max |f_host(f⁻¹(y)) − y| = {worst_y:.1e}");
    assert!(worst_y < 2e-6, "{worst_y}");
}

#[test]
fn spline_golden_values() {
    let _serial = crate::common::serial();
    // Parameters chosen by hand (not random): bin sizes 1:2:3:2:1 (softmax of ln), heights
    // reversed, interior derivative raw values giving slopes around 1.
    let dev = Device::flex();
    let ln = |v: f64| v.ln();
    let p: Vec<f64> = [1.0, 2.0, 3.0, 2.0, 1.0]
        .iter()
        .map(|&v| ln(v))
        .chain([3.0, 1.0, 1.0, 1.0, 3.0].iter().map(|&v| ln(v)))
        .chain([0.5, -0.5, 1.0, 0.0])
        .collect();
    let x = [-1.9, -0.75, 0.0, 0.3, 1.2, 1.99];
    let pp: Vec<f64> = x.iter().flat_map(|_| p.iter().copied()).collect();
    let (y, l) = eval(&spline(), &x, &pp, false, &dev);
    let hs = HostSpline::new(&p);
    for i in 0..x.len() {
        let (wy, wl) = hs.forward(x[i]);
        eprintln!(
            "golden x {:+.2}: y {:+.6} (host {wy:+.6}), ln dy/dx {:+.6} (host {wl:+.6})",
            x[i], y[i], l[i]
        );
        assert!((y[i] - wy).abs() < 3e-6 && (l[i] - wl).abs() < 3e-5);
    }
    // Hand check of one value: x = 0 is the middle of the 5 bins (1:2:3:2:1 of 4 ≈ widths
    // 4/9, 8/9, 4/3, …, with the 1e-3 minimum): ξ = 0.5 in bin 2. The host formula is the
    // paper's eq. 4; the value must lie strictly inside bin 2's y-range.
    assert!(y[2] > hs.ys[2] && y[2] < hs.ys[3]);
}

#[test]
fn spline_is_identity_outside_and_at_zero_parameters() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    let x = [-1e6, -7.0, -2.0001, 2.0001, 5.0, 1e6];
    let p = params(x.len(), 2);
    let (y, l) = eval(&spline(), &x, &p, false, &dev);
    assert_eq!(y, x.iter().map(|&v| v as f32 as f64).collect::<Vec<_>>());
    assert!(l.iter().all(|&v| v == 0.0));
    let (y, l) = eval(&spline(), &x, &p, true, &dev);
    assert_eq!(y, x.iter().map(|&v| v as f32 as f64).collect::<Vec<_>>());
    assert!(l.iter().all(|&v| v == 0.0));

    let x: Vec<f64> = (0..41).map(|i| -2.0 + 0.1 * i as f64).collect();
    let zeros = vec![0.0; x.len() * (3 * K - 1)];
    let (y, l) = eval(&spline(), &x, &zeros, false, &dev);
    let e = max_abs_diff(&y, &x);
    let el = l.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    assert!(
        e < 1e-5 && el < 1e-5,
        "zero parameters: |y − x| {e:e}, |ln dy/dx| {el:e}"
    );
}

#[test]
fn spline_ladj_matches_the_autodiff_derivative() {
    let _serial = crate::common::serial();
    // The map is elementwise, so ∂(Σ y)/∂x_i = dy_i/dx_i: an exact (f32) derivative to compare
    // the closed-form ladj with, in both directions. (Finite differences are not used: with
    // bins as narrow as 2B·1e-3 the third derivative is large and a central stencil across a
    // knot is off by more than the tolerance.)
    let ad = Device::flex().autodiff();
    let n = 200;
    let p = params(n, 3);
    let x: Vec<f64> = (0..n)
        .map(|i| -1.99 + 3.98 * i as f64 / (n - 1) as f64)
        .collect();
    for inverse in [false, true] {
        let xt = tensor_r(&x, [n], &ad).require_grad();
        let pt = tensor_r(&p, [n, 3 * K - 1], &ad);
        let (y, l) = if inverse {
            spline().inverse(xt.clone(), pt)
        } else {
            spline().forward(xt.clone(), pt)
        };
        let l = host(l);
        let g = host(xt.grad(&y.sum().backward()).expect("grad"));
        let mut worst = 0.0f64;
        for i in 0..n {
            let e = (l[i] - g[i].ln()).abs();
            worst = worst.max(e);
            assert!(
                e < 1e-3,
                "inverse={inverse} x {}: ladj {} vs ln(dy/dx) {}",
                x[i],
                l[i],
                g[i].ln()
            );
        }
        eprintln!("spline inverse={inverse}: max |ladj − ln(autodiff dy/dx)| = {worst:.1e}");
    }
}

#[test]
fn spline_has_no_nan_values_or_gradients_at_extremes() {
    let _serial = crate::common::serial();
    let ad = Device::flex().autodiff();
    let x = [-1e6, -B, -B + 1e-7, 0.0, B - 1e-7, B, 1e6, 3.0];
    let p = params(x.len(), 4);
    for inverse in [false, true] {
        let xt = tensor_r(&x, [x.len()], &ad).require_grad();
        let pt = tensor_r(&p, [x.len(), 3 * K - 1], &ad).require_grad();
        let (y, l) = if inverse {
            spline().inverse(xt.clone(), pt.clone())
        } else {
            spline().forward(xt.clone(), pt.clone())
        };
        let yv = host(y.clone());
        let lv = host(l.clone());
        assert!(
            yv.iter().chain(&lv).all(|v| v.is_finite()),
            "values {yv:?} {lv:?}"
        );
        let grads = (y.sum() + l.sum()).backward();
        let gx = host(xt.grad(&grads).expect("x grad"));
        let gp = host(pt.grad(&grads).expect("p grad"));
        assert!(
            gx.iter().chain(&gp).all(|v| v.is_finite()),
            "inverse={inverse}: NaN gradient"
        );
        // Outside the interval: identity, so dy/dx = 1 and the parameters get nothing.
        assert_eq!(gx[0], 1.0);
        assert_eq!(gx[6], 1.0);
        assert!(gp[..3 * K - 1].iter().all(|&g| g == 0.0));
    }
}

#[test]
fn affine_and_additive_round_trip_with_exact_ladj() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    let mut rng = HostRng::seed_from_u64(5);
    let n = 50;
    let x: Vec<f64> = (0..n).map(|_| 3.0 * rng.normal()).collect();
    let p: Vec<f64> = (0..2 * n).map(|_| 4.0 * rng.normal()).collect();
    for (name, f) in [
        ("exp", Affine::new()),
        ("sigmoid", Affine::new().with_scale(AffineScale::Sigmoid)),
    ] {
        let (y, l) = eval(&f, &x, &p, false, &dev);
        let (xb, lb) = eval(&f, &y, &p, true, &dev);
        assert!(max_abs_diff(&xb, &x) < 1e-4, "{name}: round trip");
        for i in 0..n {
            let s = p[2 * i];
            let want = match name {
                "exp" => 3.0 * (s / 3.0).tanh(),
                _ => -(-(s + 2.0)).exp().ln_1p(),
            };
            assert!(
                (l[i] - want).abs() < 1e-5,
                "{name}: ln σ {} vs {want}",
                l[i]
            );
            assert!((lb[i] + l[i]).abs() < 1e-6);
            assert!((y[i] - (x[i] * want.exp() + p[2 * i + 1])).abs() < 1e-4 * y[i].abs().max(1.0));
        }
    }
    let p1: Vec<f64> = p[..n].to_vec();
    let (y, l) = eval(&Additive, &x, &p1, false, &dev);
    let (xb, _) = eval(&Additive, &y, &p1, true, &dev);
    assert!(max_abs_diff(&xb, &x) < 1e-5 && l.iter().all(|&v| v == 0.0));
}

#[test]
fn bounded_shift_is_c_tanh_of_the_raw_shift_and_leaves_the_ladj_alone() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    let mut rng = HostRng::seed_from_u64(15);
    let n = 40;
    let c = 2.5;
    let x: Vec<f64> = (0..n).map(|_| 3.0 * rng.normal()).collect();
    // Raw shifts from ±0.1 to ±10⁶.
    let p: Vec<f64> = (0..n)
        .flat_map(|i| {
            [
                rng.normal(),
                (if i % 2 == 0 { 1.0 } else { -1.0 })
                    * 10f64.powf(-1.0 + 7.0 * i as f64 / n as f64),
            ]
        })
        .collect();
    let bounded = Affine::new().with_shift_bound(Some(c));
    let (y, l) = eval(&bounded, &x, &p, false, &dev);
    let (xb, lb) = eval(&bounded, &y, &p, true, &dev);
    let (_, l_raw) = eval(&Affine::new(), &x, &p, false, &dev);
    assert!(max_abs_diff(&xb, &x) < 1e-4, "round trip");
    for i in 0..n {
        let (s, t) = (p[2 * i], p[2 * i + 1]);
        let want = x[i] * (3.0 * (s / 3.0).tanh()).exp() + c * (t / c).tanh();
        assert!(
            (y[i] - want).abs() < 1e-4 * want.abs().max(1.0),
            "y {} vs {want}",
            y[i]
        );
        assert!((y[i] - x[i] * l[i].exp()).abs() < c + 1e-5, "|shift| < c");
        assert_eq!(l[i], l_raw[i], "the bound does not touch ln σ");
        assert!((lb[i] + l[i]).abs() < 1e-6);
    }
    // A non-positive or non-finite bound is a config error naming the field.
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = Affine::new()
            .with_shift_bound(Some(bad))
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("shift_bound"), "{err}");
    }
}

#[test]
fn sigmoid_gated_matches_the_iaf_update_and_round_trips() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    let mut rng = HostRng::seed_from_u64(6);
    let n = 50;
    let x: Vec<f64> = (0..n).map(|_| 3.0 * rng.normal()).collect();
    // Gates from saturated-closed (s + b ≈ −10) to saturated-open.
    let p: Vec<f64> = (0..2 * n).map(|_| 4.0 * rng.normal()).collect();
    for b in [2.0, 0.0] {
        let f = SigmoidGated::new().with_gate_bias(b);
        let (y, l) = eval(&f, &x, &p, false, &dev);
        let (xb, lb) = eval(&f, &y, &p, true, &dev);
        for i in 0..n {
            let (s, m) = (p[2 * i] + b, p[2 * i + 1]);
            // Host f64: g = 1/(1 + e^{−s}); y = g·x + (1 − g)·m (IAF eq. 14).
            let g = 1.0 / (1.0 + (-s).exp());
            let want_y = g * x[i] + (1.0 - g) * m;
            assert!(
                (y[i] - want_y).abs() < 2e-5 * want_y.abs().max(1.0),
                "b={b}: y {} vs {want_y}",
                y[i]
            );
            assert!(
                (l[i] - g.ln()).abs() < 1e-5,
                "b={b}: ln g {} vs {}",
                l[i],
                g.ln()
            );
            assert!((lb[i] + l[i]).abs() < 1e-6);
            // The inverse divides by g: its error grows like 1/g.
            assert!(
                (xb[i] - x[i]).abs() < 1e-5 * (x[i].abs() + m.abs()).max(1.0) / g,
                "b={b}: round trip {} vs {} (g = {g})",
                xb[i],
                x[i]
            );
        }
    }
    // Zero parameters: the contraction by sigmoid(2) toward 0.
    let (y, _) = eval(&SigmoidGated::new(), &[1.0], &[0.0, 0.0], false, &dev);
    assert!((y[0] - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-6);
    let e = SigmoidGated::new()
        .with_gate_bias(f64::NAN)
        .validate()
        .unwrap_err();
    assert_eq!(e.field, "gate_bias");
}

#[test]
fn invalid_spline_configs_name_the_field() {
    let _serial = crate::common::serial();
    let e = RationalQuadraticSpline::new()
        .with_bins(1)
        .validate()
        .unwrap_err();
    assert_eq!(e.field, "bins");
    let e = RationalQuadraticSpline::new()
        .with_bound(-1.0)
        .validate()
        .unwrap_err();
    assert_eq!(e.field, "bound");
    let e = RationalQuadraticSpline::new()
        .with_min_bin_width(0.2)
        .validate()
        .unwrap_err();
    assert_eq!(e.field, "min_bin_width");
}

#[test]
fn logit_transform_is_finite_at_zero_and_one() {
    let _serial = crate::common::serial();
    let ad = Device::flex().autodiff();
    let t = LogitTransform::new(0.05);
    let x = tensor_r(
        &[0.0, 1.0, 0.5, 1.0 / 256.0, 255.0 / 256.0, 0.0],
        [2, 3],
        &ad,
    )
    .require_grad();
    let (y, l) = t.forward_and_ladj(x.clone(), None);
    let yv = host(y.clone());
    assert!(yv.iter().chain(&host(l.clone())).all(|v| v.is_finite()));
    // logit(0.05) = −ln 19 at x = 0.
    assert!((yv[0] + 19f64.ln()).abs() < 1e-5);
    let grads = (y.sum() + l.sum()).backward();
    assert!(host(x.grad(&grads).unwrap()).iter().all(|v| v.is_finite()));
    // Inverse: finite even for huge latents (log_sigmoid), and a round trip.
    let z = tensor_r(&[-1e4, 1e4, 0.0], [1, 3], &ad);
    let (xb, lb) = t.inverse_and_ladj(z, None);
    assert!(host(xb).iter().chain(&host(lb)).all(|v| v.is_finite()));
    let x2 = tensor_r(&[0.0, 0.3, 1.0], [1, 3], &ad);
    let back = t.inverse(t.forward(x2, None), None);
    assert!(max_abs_diff(&host(back), &[0.0, 0.3, 1.0]) < 1e-5);
    let _ = Tensor::<1>::zeros([1], &ad);
}
