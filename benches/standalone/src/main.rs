//! Timing harness for the deepgen VAE step: a copy of the op sequence of
//! `deepgen::autoencoders::Vae` (784-512-256-(2·32) encoder, 32-256-512-784 decoder, ReLU,
//! Bernoulli BCE summed over pixels, analytic KL, batch mean, Adam 1e-3, batch 128) on flex.
//!
//! `vae-step-standalone MODE [N]` runs 10 warm-up iterations, then N (default 200) timed
//! ones, and prints wall and process-CPU milliseconds per iteration. Modes:
//! - `step`: forward, backward, Adam update;
//! - `fwdbwd`: forward and backward (gradients dropped);
//! - `fwd`: forward only. Burn frees an un-differentiated autodiff graph only during a later
//!   `backward()`, so this mode piles graphs up and over-states the forward cost;
//! - `gemm`: the 17 matrix products of one step on the plain device (`VERBOSE=1`: each one).
//!
//! Environment: `COL=1` stores the weights as `LinearLayout::Col`; `FUSED=1` uses Burn's
//! `softplus` in the loss; `RAYON_NUM_THREADS` as usual.
use burn::module::Module;
use burn::nn::{Linear, LinearConfig, LinearLayout, Relu};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use std::time::Instant;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Linear layers with ReLU between them.
#[derive(Module, Debug)]
struct Mlp {
    layers: Vec<Linear>,
    act: Relu,
}
impl Mlp {
    fn new(dims: &[usize], col: bool, d: &Device) -> Self {
        let layout = if col {
            LinearLayout::Col
        } else {
            LinearLayout::Row
        };
        Mlp {
            layers: dims
                .windows(2)
                .map(|w| LinearConfig::new(w[0], w[1]).with_layout(layout).init(d))
                .collect(),
            act: Relu::new(),
        }
    }
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(h);
            if i < last {
                h = self.act.forward(h);
            }
        }
        h
    }
}
/// Encoder and decoder.
#[derive(Module, Debug)]
struct Vae {
    enc: Mlp,
    dec: Mlp,
}

/// The batch-mean negative ELBO.
fn loss(m: &Vae, x: &Tensor<2>, fused: bool) -> Tensor<1> {
    let h = m.enc.forward(x.clone());
    let [mean, log_std]: [Tensor<2>; 2] = h.chunk(2, 1).try_into().unwrap();
    let eps = Tensor::random(mean.dims(), Distribution::Normal(0.0, 1.0), &mean.device());
    let z = mean.clone() + log_std.clone().exp() * eps;
    let l = m.dec.forward(z);
    let recon = if fused {
        (burn::tensor::activation::softplus(l.clone(), 1.0) - x.clone() * l)
            .sum_dim(1)
            .squeeze_dim::<1>(1)
    } else {
        let sp = l.clone().clamp_min(0.0) + l.clone().abs().neg().exp().log1p();
        (x.clone() * l - sp).sum_dim(1).squeeze_dim::<1>(1).neg()
    };
    let kl = ((mean.clone().square() + (log_std.clone() * 2.0).exp() - 1.0) * 0.5 - log_std)
        .sum_dim(1)
        .squeeze_dim::<1>(1);
    (recon + kl).mean()
}

/// Process CPU time in seconds (all threads).
fn cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("step")
        .to_string();
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let col = std::env::var("COL").is_ok();
    let fused = std::env::var("FUSED").is_ok();
    if mode == "gemm" {
        let d = Device::flex();
        let dims = [
            (784usize, 512usize),
            (512, 256),
            (256, 64),
            (32, 256),
            (256, 512),
            (512, 784),
        ];
        let mut ops = vec![];
        for (i, &(a, b)) in dims.iter().enumerate() {
            let inp = Tensor::<2>::random([128, a], Distribution::Normal(0.0, 1.0), &d);
            let w = Tensor::<2>::random([a, b], Distribution::Normal(0.0, 1.0), &d);
            let g = Tensor::<2>::random([128, b], Distribution::Normal(0.0, 1.0), &d);
            ops.push((inp.clone(), w.clone(), format!("fwd {a}x{b}")));
            ops.push((inp.transpose(), g.clone(), format!("wgrad {a}x{b}")));
            if i != 0 {
                ops.push((g, w.transpose(), format!("igrad {a}x{b}")));
            }
        }
        let mut total = (0.0, 0.0);
        for (l, r, name) in &ops {
            for _ in 0..20 {
                std::hint::black_box(l.clone().matmul(r.clone()));
            }
            let (t0, c0) = (Instant::now(), cpu_s());
            for _ in 0..n {
                std::hint::black_box(l.clone().matmul(r.clone()));
            }
            let (w, c) = (
                t0.elapsed().as_secs_f64() / n as f64 * 1e3,
                (cpu_s() - c0) / n as f64 * 1e3,
            );
            total.0 += w;
            total.1 += c;
            if std::env::var("VERBOSE").is_ok() {
                println!("  {name}: wall {w:.3} ms cpu {c:.3} ms");
            }
        }
        println!(
            "gemm v4={}: 17 matmuls wall {:.2} ms, cpu {:.2} ms",
            cfg!(feature = "v4"),
            total.0,
            total.1
        );
        return;
    }
    let ad = Device::flex().autodiff();
    ad.seed(0);
    let mut m = Vae {
        enc: Mlp::new(&[784, 512, 256, 64], col, &ad),
        dec: Mlp::new(&[32, 256, 512, 784], col, &ad),
    };
    let mut opt = AdamConfig::new().init();
    let x = Tensor::<2>::random([128, 784], Distribution::Bernoulli(0.3), &ad);
    let mut run = |m: Vae| -> Vae {
        match mode.as_str() {
            "step" => {
                let g = GradientsParams::from_grads(loss(&m, &x, fused).backward(), &m);
                opt.step(1e-3, m, g)
            }
            "fwdbwd" => {
                let g = GradientsParams::from_grads(loss(&m, &x, fused).backward(), &m);
                std::hint::black_box(g);
                m
            }
            "fwd" => {
                std::hint::black_box(loss(&m, &x, fused));
                m
            }
            _ => panic!("mode"),
        }
    };
    for _ in 0..10 {
        m = run(m);
    }
    ad.sync().unwrap();
    let (t0, c0) = (Instant::now(), cpu_s());
    for _ in 0..n {
        m = run(m);
    }
    ad.sync().unwrap();
    let (w, c) = (
        t0.elapsed().as_secs_f64() / n as f64 * 1e3,
        (cpu_s() - c0) / n as f64 * 1e3,
    );
    println!(
        "{mode} col={col} fused={fused} v4={} mimalloc={}: wall {w:.2} ms/step ({:.1}/s), cpu {c:.2} ms/step",
        cfg!(feature = "v4"),
        cfg!(feature = "mimalloc"),
        1e3 / w
    );
}
