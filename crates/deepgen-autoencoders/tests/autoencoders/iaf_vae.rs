//! IAF-VAE tests: every loss term against an independent f64 re-implementation of the whole
//! model (encoder, IAF steps, MAF prior, decoder) with the flow's ln|det| checked against a
//! brute-force Jacobian; the KL estimate against the closed form when the flow is affine; the
//! importance-weighted ln p(x) against the exact marginal by quadrature; save/load; overfitting
//! one batch; a short run through the shared loop on the bundled MNIST.
//!
//! Parameters come from a deterministic fill and all noise from seeded host RNGs: no test
//! depends on Burn's device RNG.

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use deepgen_autoencoders::WithBody as _;
use deepgen_autoencoders::importance::{ImportanceSampled, IwSettings, log_likelihood};
use deepgen_autoencoders::vae_task::VaeTask;
use deepgen_autoencoders::{IafVae, IafVaeConfig, Mlp, PriorKind};
use deepgen_data::{Binarization, Mnist};
use deepgen_distributions::noise::standard_normal;
use deepgen_flows::{FlowStep, Made};
use deepgen_tensor::HostRng;
use deepgen_tensor::numerics::host::{log_mean_exp, logsumexp};
use deepgen_train::{Schedule, StepOutput, Trainer};

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Deterministic parameter fill: `scale·sin(…)`, divided by √rows for matrices (so wide layers
/// stay in a sane range). Tests never depend on the device RNG.
struct Fill {
    count: u32,
    scale: f32,
}

impl Fill {
    fn new(start: u32, scale: f32) -> Self {
        Self {
            count: start,
            scale,
        }
    }
}

impl burn::module::ModuleMapper for Fill {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        p.map(|t| {
            let dims = t.dims();
            let n: usize = dims.iter().product();
            let norm = if D == 2 { (dims[0] as f32).sqrt() } else { 1.0 };
            let v: Vec<f32> = (0..n)
                .map(|j| {
                    self.count += 1;
                    (self.count as f32 * 0.37 + j as f32 * 0.91).sin() * self.scale / norm
                })
                .collect();
            let fresh = Tensor::from_data(TensorData::new(v, dims), &t.device());
            if t.device().is_autodiff() {
                fresh.require_grad()
            } else {
                fresh
            }
        })
    }
}

/// 6 pixels, hidden 5, latent 3, context 2, two IAF steps (MADE 4-4), a one-step AF prior.
fn tiny_config() -> IafVaeConfig {
    IafVaeConfig::new()
        .with_input_dim(6)
        .with_hidden(vec![5])
        .with_latent_dim(3)
        .with_context_dim(2)
        .with_iaf_steps(2)
        .with_made_hidden(vec![4, 4])
        .with_prior(PriorKind::Af {
            steps: 2,
            hidden: vec![4],
        })
}

fn tiny(cfg: &IafVaeConfig, dev: &Device) -> IafVae {
    cfg.init(dev).map(&mut Fill::new(0, 1.5))
}

fn tensor2(v: &[f64], cols: usize, dev: &Device) -> Tensor<2> {
    let f: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(f, [v.len() / cols, cols]), dev)
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

fn bits(b: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut rng = HostRng::seed_from_u64(seed);
    (0..b * d)
        .map(|_| f64::from(rng.uniform_open() < 0.3))
        .collect()
}

fn metric(out: &StepOutput, name: &str) -> f64 {
    host(
        out.metrics
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("metric {name} missing"))
            .1
            .clone(),
    )[0]
}

// ---------------------------------------------------------------------------------------------
// An independent f64 re-implementation of the model, from its parameters.

/// A dense layer: row-major `[d_in, d_out]` weights and `[d_out]` bias.
struct Dense {
    w: Vec<f64>,
    b: Vec<f64>,
    d_in: usize,
    d_out: usize,
}

impl Dense {
    fn apply(&self, x: &[f64]) -> Vec<f64> {
        (0..self.d_out)
            .map(|j| {
                self.b[j]
                    + (0..self.d_in)
                        .map(|i| x[i] * self.w[i * self.d_out + j])
                        .sum::<f64>()
            })
            .collect()
    }
}

fn dense(w: Tensor<2>, b: Tensor<1>) -> Dense {
    let [d_in, d_out] = w.dims();
    Dense {
        w: host(w),
        b: host(b),
        d_in,
        d_out,
    }
}

fn host_mlp(m: &Mlp) -> Vec<Dense> {
    m.layers
        .iter()
        .map(|l| dense(l.weight.val(), l.bias.as_ref().unwrap().val()))
        .collect()
}

/// Forward through dense layers with `act` between them.
fn mlp_forward(layers: &[Dense], x: &[f64], act: fn(f64) -> f64) -> Vec<f64> {
    let mut h = x.to_vec();
    for (i, l) in layers.iter().enumerate() {
        h = l.apply(&h);
        if i + 1 < layers.len() {
            h = h.into_iter().map(act).collect();
        }
    }
    h
}

fn relu(x: f64) -> f64 {
    x.max(0.0)
}

fn elu(x: f64) -> f64 {
    if x > 0.0 { x } else { x.exp_m1() }
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

struct HostMade {
    layers: Vec<Dense>,
    context: Option<Dense>,
}

fn host_made(m: &Made) -> HostMade {
    HostMade {
        layers: m
            .layers
            .iter()
            .map(|l| dense(l.masked_weight(), l.bias.val()))
            .collect(),
        context: m.context_weight.as_ref().map(|w| {
            let [d_in, d_out] = w.val().dims();
            Dense {
                w: host(w.val()),
                b: vec![0.0; d_out],
                d_in,
                d_out,
            }
        }),
    }
}

impl HostMade {
    /// ELU MADE forward; the context enters the first layer's pre-activation.
    fn forward(&self, z: &[f64], h: &[f64]) -> Vec<f64> {
        let mut a = z.to_vec();
        for (i, l) in self.layers.iter().enumerate() {
            a = l.apply(&a);
            if i == 0
                && let Some(c) = &self.context
            {
                for (v, cv) in a.iter_mut().zip(c.apply(h)) {
                    *v += cv;
                }
            }
            if i + 1 < self.layers.len() {
                a = a.into_iter().map(elu).collect();
            }
        }
        a
    }
}

enum HostStep {
    Iaf(HostMade),
    Maf(HostMade, f64),
    Perm(Vec<usize>),
}

fn host_steps(steps: &[FlowStep]) -> Vec<HostStep> {
    steps
        .iter()
        .map(|s| match s {
            FlowStep::Iaf(s) => HostStep::Iaf(host_made(&s.made)),
            FlowStep::Maf(s) => HostStep::Maf(host_made(&s.made), s.alpha_bound),
            FlowStep::Permutation(p) => HostStep::Perm(p.indices()),
        })
        .collect()
}

/// Applies the steps' forward maps to `z`: `(y, Σ ladj by the textbook formulas)`.
fn flow_forward(steps: &[HostStep], z: &[f64], h: &[f64]) -> (Vec<f64>, f64) {
    let d = z.len();
    let mut z = z.to_vec();
    let mut ladj = 0.0;
    for s in steps {
        z = match s {
            HostStep::Iaf(made) => {
                let out = made.forward(&z, h);
                (0..d)
                    .map(|i| {
                        let (m, s) = (out[i], out[d + i]);
                        let sig = 1.0 / (1.0 + (-s).exp());
                        ladj += -softplus(-s);
                        m + sig * (z[i] - m)
                    })
                    .collect()
            }
            HostStep::Maf(made, bound) => {
                let out = made.forward(&z, h);
                (0..d)
                    .map(|i| {
                        let alpha = bound * (out[d + i] / bound).tanh();
                        ladj -= alpha;
                        (z[i] - out[i]) * (-alpha).exp()
                    })
                    .collect()
            }
            HostStep::Perm(p) => p.iter().map(|&k| z[k]).collect(),
        };
    }
    (z, ladj)
}

/// ln |det A| of a row-major n×n matrix by LU with partial pivoting.
fn ln_abs_det(a: &[f64], n: usize) -> f64 {
    let mut a = a.to_vec();
    let mut acc = 0.0;
    for k in 0..n {
        let p = (k..n)
            .max_by(|&r, &s| a[r * n + k].abs().total_cmp(&a[s * n + k].abs()))
            .unwrap();
        for c in 0..n {
            a.swap(k * n + c, p * n + c);
        }
        let pivot = a[k * n + k];
        acc += pivot.abs().ln();
        for r in k + 1..n {
            let m = a[r * n + k] / pivot;
            for c in k..n {
                a[r * n + c] -= m * a[k * n + c];
            }
        }
    }
    acc
}

/// ln|det ∂f/∂z| at `z` by central differences of the f64 host map (h = 1e-5).
fn fd_ln_det(steps: &[HostStep], z: &[f64], h: &[f64]) -> f64 {
    let d = z.len();
    let eps = 1e-5;
    let mut jac = vec![0.0; d * d];
    for j in 0..d {
        let (mut zp, mut zm) = (z.to_vec(), z.to_vec());
        zp[j] += eps;
        zm[j] -= eps;
        let (yp, ym) = (flow_forward(steps, &zp, h).0, flow_forward(steps, &zm, h).0);
        for i in 0..d {
            jac[i * d + j] = (yp[i] - ym[i]) / (2.0 * eps);
        }
    }
    ln_abs_det(&jac, d)
}

// ---------------------------------------------------------------------------------------------

#[test]
fn elbo_terms_match_an_independent_f64_computation() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let cfg = tiny_config();
    let model = tiny(&cfg, &dev);
    let (b, dx, l, c) = (4, 6, 3, 2);
    let xs = bits(b, dx, 3);
    let es: Vec<f64> = {
        let mut rng = HostRng::seed_from_u64(4);
        (0..b * l).map(|_| rng.normal()).collect()
    };
    let (x, eps) = (tensor2(&xs, dx, &dev), tensor2(&es, l, &dev));
    let t = model.elbo_terms_with_noise(x.clone(), eps.clone());
    let (recon, log_q, log_p, ladj, kl) = (
        host(t.recon_nll.clone()),
        host(t.log_q.clone()),
        host(t.log_p.clone()),
        host(t.flow_ladj.clone()),
        host(t.kl()),
    );

    let enc = host_mlp(model.encoder.as_mlp().unwrap());
    let dec = host_mlp(model.decoder.as_mlp().unwrap());
    let iaf = host_steps(&model.flow.as_ref().unwrap().steps);
    let maf = host_steps(&model.prior.as_ref().unwrap().flow.steps);
    assert_eq!(iaf.len(), 3, "IAF, reversal, IAF");
    assert_eq!(maf.len(), 3, "MAF, reversal, MAF");
    let mut expected_lw = Vec::new();
    for r in 0..b {
        let out = mlp_forward(&enc, &xs[r * dx..(r + 1) * dx], relu);
        let (mu, ls, h) = (&out[0..l], &out[l..2 * l], &out[2 * l..2 * l + c]);
        let e = &es[r * l..(r + 1) * l];
        let z0: Vec<f64> = (0..l).map(|i| mu[i] + ls[i].exp() * e[i]).collect();
        let log_q0: f64 = (0..l)
            .map(|i| -0.5 * e[i] * e[i] - ls[i] - 0.5 * LN_2PI)
            .sum();
        let (zt, ladj_ref) = flow_forward(&iaf, &z0, h);
        // The ladj formula against a brute-force Jacobian of the whole posterior flow.
        let ladj_fd = fd_ln_det(&iaf, &z0, h);
        assert!(
            (ladj_ref - ladj_fd).abs() < 1e-6,
            "row {r}: Σ ln σ {ladj_ref} vs ln|det J| {ladj_fd}"
        );
        let log_q_ref = log_q0 - ladj_fd;
        let (u, prior_ladj) = flow_forward(&maf, &zt, &[]);
        let log_p_ref: f64 =
            u.iter().map(|v| -0.5 * v * v - 0.5 * LN_2PI).sum::<f64>() + fd_ln_det(&maf, &zt, &[]);
        assert!((prior_ladj - fd_ln_det(&maf, &zt, &[])).abs() < 1e-6);
        let logits = mlp_forward(&dec, &zt, relu);
        let recon_ref: f64 = (0..dx)
            .map(|i| softplus(logits[i]) - xs[r * dx + i] * logits[i])
            .sum();
        for (name, got, want, tol) in [
            ("recon", recon[r], recon_ref, 1e-4),
            ("log_q", log_q[r], log_q_ref, 1e-4),
            ("log_p", log_p[r], log_p_ref, 1e-4),
            ("flow_ladj", ladj[r], ladj_fd, 1e-4),
            ("kl", kl[r], log_q_ref - log_p_ref, 2e-4),
        ] {
            assert!(
                (got - want).abs() < tol * (1.0 + want.abs()),
                "row {r} {name}: model {got} vs f64 {want}"
            );
        }
        expected_lw.push(-recon_ref + log_p_ref - log_q_ref);
        // The flow is not the identity here: the check above is not vacuous.
        assert!(ladj_fd.abs() > 0.05, "row {r}: ladj {ladj_fd}");
    }

    // ln w of the k = 1 importance weights is −(recon + kl) of the same sample.
    let lw = host(model.log_weights_with_noise(x.clone(), eps.clone(), 1));
    for r in 0..b {
        assert!(
            (lw[r] - expected_lw[r]).abs() < 2e-4,
            "ln w[{r}] {} vs {}",
            lw[r],
            expected_lw[r]
        );
    }
    // Training objective: recon + β·kl, and its metrics.
    let out = model.objective_step(x.clone(), eps.clone(), 1, 0.3);
    let (mr, mk) = (
        recon.iter().sum::<f64>() / b as f64,
        kl.iter().sum::<f64>() / b as f64,
    );
    assert!((host(out.loss.clone())[0] - (mr + 0.3 * mk)).abs() < 1e-4);
    assert!((metric(&out, "recon") - mr).abs() < 1e-4);
    assert!((metric(&out, "kl") - mk).abs() < 1e-4);
    assert!((metric(&out, "neg_elbo") - (mr + mk)).abs() < 1e-4);
    assert!((metric(&out, "flow_ladj") - ladj.iter().sum::<f64>() / b as f64).abs() < 1e-4);
    // IWAE: sample j of example r uses noise row r·k + j; loss = −mean_r log-mean-exp_j ln w.
    let k = 5;
    let eps_k = standard_normal(&mut HostRng::seed_from_u64(8), [b * k, l], &dev);
    let lw = host(model.log_weights_with_noise(x.clone(), eps_k.clone(), k));
    let single = host(model.log_weights_with_noise(
        x.clone().narrow(0, 2, 1),
        eps_k.clone().narrow(0, 2 * k + 3, 1),
        1,
    ));
    assert!((single[0] - lw[2 * k + 3]).abs() < 1e-4);
    let expected = -(0..b)
        .map(|r| log_mean_exp(&lw[r * k..(r + 1) * k]))
        .sum::<f64>()
        / b as f64;
    let out = model.objective_step(x.clone(), eps_k, k, 0.3);
    assert!((host(out.loss)[0] - expected).abs() < 1e-4);
    // The deterministic code is z_T at ε = 0.
    let q = model.encode(x.clone());
    let (z_at_zero, _) = model.posterior_sample(&q, Tensor::zeros([b, l], &dev));
    let code = host(model.encode_code(x));
    for (a, bb) in host(z_at_zero).iter().zip(&code) {
        assert!((a - bb).abs() < 1e-6);
    }
}

/// Sets every IAF step's MADE output weights to 0 and its output bias to `[m | s]`, so each
/// step is the affine map z ↦ m + sigmoid(s)·(z − m), independent of z and h.
fn make_flow_affine(model: &mut IafVae, biases: &[[f64; 6]]) {
    let flow = model.flow.as_mut().unwrap();
    let mut i = 0;
    for step in flow.steps.iter_mut() {
        if let FlowStep::Iaf(s) = step {
            let last = s.made.layers.last_mut().unwrap();
            let dev = last.weight.val().device();
            let dims = last.weight.val().dims();
            last.weight = last.weight.clone().map(|_| Tensor::zeros(dims, &dev));
            let b = biases[i].iter().map(|&v| v as f32).collect::<Vec<_>>();
            last.bias = last
                .bias
                .clone()
                .map(|_| Tensor::from_data(TensorData::new(b, [6]), &dev));
            i += 1;
        }
    }
    assert_eq!(i, biases.len());
}

#[test]
fn kl_estimate_is_unbiased_for_the_closed_form_of_an_affine_flow() {
    let _serial = crate::serial();
    // With affine IAF steps the posterior stays Gaussian with per-dimension mean and scale
    // that are easy to push through on the host (reversal included), so both ln q(z_T|x) at
    // every sample and E[ln q − ln p] = KL(N(m_T, s_T²) ‖ N(0, I)) have closed forms.
    let dev = Device::flex();
    let cfg = tiny_config().with_prior(PriorKind::StandardNormal);
    let mut model = tiny(&cfg, &dev);
    let biases = [
        [0.4, -0.7, 1.1, 0.8, -1.5, 2.2],
        [-0.3, 0.9, 0.2, -0.4, 1.3, 0.1],
    ];
    make_flow_affine(&mut model, &biases);
    let l = 3;
    let xs = bits(1, 6, 11);
    let enc = mlp_forward(&host_mlp(model.encoder.as_mlp().unwrap()), &xs, relu);
    let sig = |s: f64| 1.0 / (1.0 + (-s).exp());
    // Step 1, reversal, step 2 on the per-dimension mean and scale.
    let (mut mean, mut std): (Vec<f64>, Vec<f64>) = (
        (0..l).map(|i| enc[i]).collect(),
        (0..l).map(|i| enc[l + i].exp()).collect(),
    );
    for (t, bias) in biases.iter().enumerate() {
        if t > 0 {
            mean.reverse();
            std.reverse();
        }
        for i in 0..l {
            let (m, g) = (bias[i], sig(bias[l + i]));
            mean[i] = m + g * (mean[i] - m);
            std[i] *= g;
        }
    }
    let kl_exact: f64 = (0..l)
        .map(|i| 0.5 * (mean[i] * mean[i] + std[i] * std[i] - 1.0) - std[i].ln())
        .sum();

    let n = 20_000;
    let x = tensor2(&xs, 6, &dev).repeat_dim(0, n);
    let eps = standard_normal(&mut HostRng::seed_from_u64(21), [n, l], &dev);
    let q = model.encode(x.clone());
    let (z, log_q) = model.posterior_sample(&q, eps);
    let (z, log_q) = (host(z), host(log_q));
    let kl = host(
        model
            .elbo_terms_with_noise(
                x,
                standard_normal(&mut HostRng::seed_from_u64(21), [n, l], &dev),
            )
            .kl(),
    );
    for r in 0..n {
        let zr = &z[r * l..(r + 1) * l];
        let lq: f64 = (0..l)
            .map(|i| {
                let u = (zr[i] - mean[i]) / std[i];
                -0.5 * u * u - std[i].ln() - 0.5 * LN_2PI
            })
            .sum();
        let lp: f64 = zr.iter().map(|v| -0.5 * v * v - 0.5 * LN_2PI).sum();
        assert!(
            (log_q[r] - lq).abs() < 1e-4,
            "sample {r}: ln q {} vs {lq}",
            log_q[r]
        );
        assert!(
            (kl[r] - (lq - lp)).abs() < 2e-4,
            "sample {r}: kl {} vs {}",
            kl[r],
            lq - lp
        );
    }
    let mean_kl = kl.iter().sum::<f64>() / n as f64;
    let se = (kl.iter().map(|v| (v - mean_kl).powi(2)).sum::<f64>() / (n * (n - 1)) as f64).sqrt();
    assert!(
        (mean_kl - kl_exact).abs() < 4.0 * se,
        "MC KL {mean_kl} ± {se} vs closed form {kl_exact}"
    );
    assert!(kl_exact > 0.5, "a non-trivial KL: {kl_exact}");
}

fn add_to_bias(
    p: &Param<Tensor<1>>,
    from: usize,
    to: usize,
    delta: f64,
    scale: f64,
) -> Param<Tensor<1>> {
    let mut v = host(p.val());
    for (i, x) in v.iter_mut().enumerate() {
        *x *= scale;
        if (from..to).contains(&i) {
            *x += delta;
        }
    }
    let dev = p.val().device();
    let n = v.len();
    p.clone().map(|_| tensor2(&v, n, &dev).reshape([n]))
}

fn scale_weight(p: &Param<Tensor<2>>, scale: f64) -> Param<Tensor<2>> {
    p.clone().map(|t| t.mul_scalar(scale))
}

/// Makes the proposal wider than the posterior, so that the importance weights have light
/// tails and the k-sample estimate converges at test-sized k: every IAF gate bias `+gate`
/// (σ = sigmoid(s) near the +2 forget-gate initialisation instead of ≈ ½, which would shrink
/// q by ¼ over two steps), encoder ln σ `+log_std_shift`, prior MADE outputs `×prior_scale`
/// (the MAF scales e^α stay moderate). Without it the weights are so heavy-tailed that even
/// k = 40 000 undershoots ln p(x) by ~0.3 nats.
fn tame(model: &mut IafVae, log_std_shift: f64, gate: f64, prior_scale: f64) {
    let l = model.latent_dim;
    let enc = model
        .encoder
        .as_mlp_mut()
        .unwrap()
        .layers
        .last_mut()
        .unwrap();
    enc.bias = Some(add_to_bias(
        enc.bias.as_ref().unwrap(),
        l,
        2 * l,
        log_std_shift,
        1.0,
    ));
    for step in model.flow.as_mut().unwrap().steps.iter_mut() {
        if let FlowStep::Iaf(s) = step {
            let last = s.made.layers.last_mut().unwrap();
            last.bias = add_to_bias(&last.bias, l, 2 * l, gate, 1.0);
        }
    }
    for step in model.prior.as_mut().unwrap().flow.steps.iter_mut() {
        if let FlowStep::Maf(s) = step {
            let last = s.made.layers.last_mut().unwrap();
            last.bias = add_to_bias(&last.bias, 0, 2 * l, 0.0, prior_scale);
            last.weight = scale_weight(&last.weight, prior_scale);
        }
    }
}

/// ln p(x) = ln E_{u ~ N(0, I)} p(x | F⁻¹(u)) for the 2-D latent AF prior, by the trapezoid
/// rule on u ∈ [−8, 8]² (the integrand is smooth with Gaussian tails: spectral accuracy).
fn exact_log_marginal(model: &IafVae, x: &[f64], dev: &Device) -> f64 {
    let n = 321;
    let h = 16.0 / (n - 1) as f64;
    let grid: Vec<f64> = (0..n).map(|i| -8.0 + i as f64 * h).collect();
    let u: Vec<f64> = grid
        .iter()
        .flat_map(|&a| grid.iter().flat_map(move |&b| [a, b]))
        .collect();
    let (z, _) = model
        .prior
        .as_ref()
        .unwrap()
        .sample_from_noise(tensor2(&u, 2, dev));
    let xr = tensor2(x, x.len(), dev).repeat_dim(0, n * n);
    let lpx = host(model.log_likelihood(z, xr));
    let terms: Vec<f64> = (0..n * n)
        .map(|p| {
            let (a, b) = (u[2 * p], u[2 * p + 1]);
            lpx[p] - 0.5 * (a * a + b * b) - LN_2PI + (h * h).ln()
        })
        .collect();
    logsumexp(&terms)
}

#[test]
fn importance_weighted_estimate_converges_to_the_exact_marginal() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let cfg = tiny_config().with_latent_dim(2).with_prior(PriorKind::Af {
        steps: 1,
        hidden: vec![4],
    });
    let mut model = cfg.init(&dev).map(&mut Fill::new(0, 1.0));
    tame(&mut model, 0.5, 2.0, 0.5);
    let xs = bits(3, 6, 5);
    let x = tensor2(&xs, 6, &dev);
    let k = 5000;
    let mut rng = HostRng::seed_from_u64(13);
    let iw = log_likelihood(
        &model,
        x.clone(),
        IwSettings {
            k,
            max_rows_times_samples: 6_000,
        },
        &mut rng,
    );
    let lw = host(model.log_weights(x, k, &mut HostRng::seed_from_u64(17)));
    for r in 0..3 {
        let exact = exact_log_marginal(&model, &xs[r * 6..(r + 1) * 6], &dev);
        let w = &lw[r * k..(r + 1) * k];
        let elbo = w.iter().sum::<f64>() / k as f64;
        let se = (w.iter().map(|v| (v - elbo).powi(2)).sum::<f64>() / (k * (k - 1)) as f64).sqrt();
        assert!(
            (iw[r] - exact).abs() < 0.03,
            "row {r}: IW estimate {} vs exact ln p(x) {exact}",
            iw[r]
        );
        assert!(
            elbo < exact + 4.0 * se,
            "row {r}: ELBO {elbo} ± {se} above ln p(x) {exact}"
        );
        assert!(iw[r] >= elbo, "row {r}: IW {} below the ELBO {elbo}", iw[r]);
        // q is not the posterior: the bound has a visible gap the IW estimate closes.
        assert!(exact - elbo > 0.01, "row {r}: gap {}", exact - elbo);
    }
}

#[test]
fn save_load_round_trip_preserves_outputs() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let cfg = tiny_config();
    let model = tiny(&cfg, &dev);
    let x = tensor2(&bits(3, 6, 1), 6, &dev);
    let eps = standard_normal(&mut HostRng::seed_from_u64(2), [6, 3], &dev);
    let lw = host(model.log_weights_with_noise(x.clone(), eps.clone(), 2));
    let samples = host(model.sample_means(4, &dev, &mut HostRng::seed_from_u64(3)));
    let dir = std::env::temp_dir().join(format!("deepgen-iafvae-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.bpk");
    model.save_file(&path).unwrap();
    let fresh = cfg.init(&dev).map(&mut Fill::new(777, 0.9));
    assert_ne!(
        host(fresh.log_weights_with_noise(x.clone(), eps.clone(), 2)),
        lw
    );
    let loaded = fresh.try_load_file(&path).unwrap();
    assert_eq!(host(loaded.log_weights_with_noise(x, eps, 2)), lw);
    assert_eq!(
        host(loaded.sample_means(4, &dev, &mut HostRng::seed_from_u64(3))),
        samples
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn overfits_one_batch() {
    let _serial = crate::serial();
    let ad = Device::flex().autodiff();
    let cfg = IafVaeConfig::new()
        .with_hidden(vec![128])
        .with_latent_dim(8)
        .with_context_dim(8)
        .with_made_hidden(vec![16])
        .with_prior(PriorKind::Af {
            steps: 1,
            hidden: vec![16],
        });
    let mut model = cfg.init(&ad).map(&mut Fill::new(0, 1.0));
    let x = tensor2(&bits(16, 784, 9), 784, &ad);
    // Fresh noise every step (a fixed ε would let σ grow without bound: the single-sample KL
    // estimate at a fixed ε rewards entropy the reconstruction never pays for).
    let mut rng = HostRng::seed_from_u64(10);
    let mut loss = |m: &IafVae| {
        let eps = standard_normal(&mut rng, [16, 8], &ad);
        m.elbo_terms_with_noise(x.clone(), eps).loss(1.0)
    };
    let first = host(loss(&model))[0];
    let mut optim = AdamConfig::new().init();
    for _ in 0..300 {
        let grads = GradientsParams::from_grads(loss(&model).backward(), &model);
        model = optim.step(3e-3, model, grads);
    }
    let last = host(loss(&model))[0];
    // Start ≈ 784·ln 2 = 543 nats. Memorising 16 random images drives the reconstruction far
    // below the 784·H(0.3) = 479 nats of the best pixel-independent model.
    assert!(
        first > 450.0 && last < 200.0,
        "negative ELBO {first} → {last}"
    );
}

#[test]
fn trains_through_the_shared_loop_on_real_mnist() {
    let _serial = crate::serial();
    let mnist = Mnist::load(None).expect("bundled MNIST");
    let ad = Device::flex().autodiff();
    let cfg = IafVaeConfig::new()
        .with_hidden(vec![256])
        .with_latent_dim(16)
        .with_context_dim(16)
        .with_made_hidden(vec![32])
        .with_prior(PriorKind::Af {
            steps: 1,
            hidden: vec![32],
        });
    let model = cfg.init(&ad).map(&mut Fill::new(0, 1.0));
    let mut task = VaeTask::<IafVae>::new(
        mnist.train.subset(4096),
        mnist.test.subset(500),
        64,
        Binarization::Dynamic,
        0,
    )
    .with_eval_nll(20, 500);
    let out = std::env::temp_dir().join(format!("deepgen-iafvae-loop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let report = Trainer::new(&out)
        .epochs(2)
        .lr(Schedule::Constant(1e-3))
        .num_samples(16)
        .progress(false)
        .weight_schedule("beta", Schedule::Constant(1.0))
        .fit(&mut task, model, AdamConfig::new().init(), &ad)
        .unwrap();
    let last = report.last.unwrap();
    let elbo = last.get("test_elbo").unwrap();
    assert!((-250.0..-120.0).contains(&elbo), "test ELBO {elbo}");
    let (recon, kl) = (
        last.get("test_recon").unwrap(),
        last.get("test_kl").unwrap(),
    );
    assert!((elbo + recon + kl).abs() < 1e-6);
    assert!(kl > 0.0, "test KL {kl}");
    for name in [
        "train_recon",
        "train_kl",
        "train_flow_ladj",
        "train_log_q",
        "train_log_p",
    ] {
        assert!(
            last.get(name).is_some_and(f64::is_finite),
            "{name} not logged"
        );
    }
    // The 20-sample IW NLL is tighter than the single-sample negative ELBO on the same images.
    let nll = last.get("test_nll").unwrap();
    assert!(
        nll < -elbo && nll > -elbo - 30.0,
        "IW NLL {nll}, −ELBO {}",
        -elbo
    );
    let (shape, data) = deepgen_tensor::output::read_npy_f32(&out.join("samples.npy")).unwrap();
    assert_eq!(shape, vec![16, 1, 28, 28]);
    assert!(data.iter().all(|v| (0.0..=1.0).contains(v)));
    std::fs::remove_dir_all(&out).ok();
}
