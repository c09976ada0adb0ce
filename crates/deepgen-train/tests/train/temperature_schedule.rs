//! Annealing the Gumbel-softmax temperature with `Schedule::Exponential`
//! (Jang et al. 2017: τ = max(τ_min, τ₀·e^{−r·t})): the τ values the schedule hands
//! out over the steps, and samples that get closer to one-hot as τ falls.

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_distributions::{GumbelSoftmax, Rsample};
use deepgen_tensor::rng::HostRng;
use deepgen_train::Schedule;

fn floats(t: Tensor<2>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("f64 data")
}

/// Per-row maximum coordinate of a `[n, k]` sample.
fn row_max(y: &[f64], k: usize) -> Vec<f64> {
    y.chunks(k)
        .map(|r| r.iter().cloned().fold(f64::MIN, f64::max))
        .collect()
}

#[test]
fn exponential_schedule_anneals_gumbel_softmax_towards_one_hot() {
    let schedule: Schedule = "exp:2:1e-3:0.1".parse().unwrap();
    // Reference τ from Python 3 `math`: max(0.1, 2*math.exp(-1e-3*s)).
    let steps = [0u64, 500, 1_000, 2_000, 5_000];
    let want_tau = [
        2.0,
        1.2130613194252668,
        0.7357588823428847,
        0.2706705664732254,
        0.1,
    ];

    let (n, k) = (4_000, 4);
    let device = Device::flex();
    let row = [0.5f32, -0.3, 1.0, 0.0];
    let logits = Tensor::<2>::from_data(
        TensorData::new(row.iter().cycle().take(n * k).copied().collect(), [n, k]),
        &device,
    );
    let mut dist = GumbelSoftmax::new(logits, schedule.value(0)).unwrap();
    // One fixed noise draw (common random numbers) and one training-like stream.
    let fixed_noise = dist.sample_noise(&mut HostRng::seed_from_u64(1));
    let mut rng = HostRng::seed_from_u64(2);

    let mut used_tau = Vec::new();
    let mut mean_max = Vec::new();
    let mut fixed_max: Vec<Vec<f64>> = Vec::new();
    for &step in &steps {
        let tau = schedule.value(step);
        dist = dist.with_temperature(tau).unwrap();
        used_tau.push(dist.temperature());
        let m = row_max(&floats(dist.rsample(&mut rng)), k);
        mean_max.push(m.iter().sum::<f64>() / n as f64);
        fixed_max.push(row_max(
            &floats(dist.rsample_from_noise(fixed_noise.clone())),
            k,
        ));
    }

    for (got, want) in used_tau.iter().zip(want_tau) {
        assert!((got - want).abs() <= 1e-15 * want, "τ {got} vs {want}");
    }
    // Expected E[max_k y_k] (NumPy Monte Carlo, 1e6 draws): 0.457, 0.568, 0.690, 0.872,
    // 0.952; the standard error with n = 4000 is ≤ 0.0031, and neighbouring values
    // differ by ≥ 0.08 (> 15 SE of a difference).
    assert!(
        mean_max.windows(2).all(|w| w[1] > w[0] + 0.04),
        "mean max coordinate should rise as τ falls: {mean_max:?}"
    );
    assert!(mean_max[4] > 0.93, "{mean_max:?}");
    // With the same noise, softmax(z/τ) sharpens as τ falls: every sample's largest
    // coordinate is non-decreasing along the schedule (up to f32 rounding).
    for w in fixed_max.windows(2) {
        for (a, b) in w[0].iter().zip(&w[1]) {
            assert!(*b >= *a - 1e-6, "max coordinate fell from {a} to {b}");
        }
    }
}
