//! Analytic-DPM's Γ: the Monte-Carlo estimate against the closed form of Gaussian data, and the
//! `gamma.json` cache (round trip, reuse, staleness, damage).

use std::cell::Cell;

use crate::common::{device, gaussian_eps_coefs, tensor};

use burn::tensor::{Int, Tensor};
use deepgen_diffusion::gamma::GAMMA_CACHE_FORMAT;
use deepgen_diffusion::{GammaCache, GammaKey, NoiseScheduleConfig, Prediction, estimate_gamma};
use deepgen_tensor::HostRng;

#[test]
fn gamma_of_the_exact_model_of_gaussian_data_matches_the_closed_form() {
    let _serial = crate::common::serial();
    let dev = device();
    let schedule = NoiseScheduleConfig::new().with_num_timesteps(100).init();
    let s = 0.5;
    let (m, d) = (64, 64);
    let mut rng = HostRng::seed_from_u64(5);
    let vals: Vec<f64> = (0..m * d).map(|_| s * rng.normal()).collect();
    let x0 = tensor(&vals, [m, 1, 8, 8], &dev);
    let ts = [99usize, 60, 20, 0];
    let model = |x: Tensor<4>, t: Tensor<1, Int>| {
        // One timestep per call (estimate_gamma's batches share t).
        let t0 = crate::common::host(t.float())[0] as usize;
        let (k, off) = gaussian_eps_coefs(schedule.alpha_bar()[t0], 0.0, s);
        x.mul_scalar(k).add_scalar(off)
    };
    let got = estimate_gamma(
        &schedule,
        Prediction::Epsilon,
        &ts,
        x0,
        model,
        24,
        &mut HostRng::seed_from_u64(6),
    );
    for (i, &t) in ts.iter().enumerate() {
        let ab = schedule.alpha_bar()[t];
        let want = (1.0 - ab) / (ab * s * s + 1.0 - ab);
        // M·d = 4096 squared Gaussians: relative standard error √(2/4096) ≈ 2.2 %.
        assert!(
            (got[i] - want).abs() < 0.12 * want,
            "t = {t}: Γ {} vs {want}",
            got[i]
        );
    }
}

fn key(step: u64) -> GammaKey {
    GammaKey {
        model_step: step,
        ema: true,
        schedule: "{\"linear\"}".into(),
        prediction: "Epsilon".into(),
        images: 64,
        seed: 0,
    }
}

#[test]
fn cache_round_trip_reuse_and_staleness() {
    let _serial = crate::common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("gamma.json");
    let calls = Cell::new(0usize);
    let asked = std::cell::RefCell::new(Vec::new());
    let estimate = |ts: &[usize]| {
        calls.set(calls.get() + 1);
        *asked.borrow_mut() = ts.to_vec();
        Ok(ts.iter().map(|&t| 1.0 - t as f64 * 1e-3).collect())
    };
    // No file: estimated and written.
    let (g, cached) =
        GammaCache::load_or_estimate(&path, &key(10), &[90, 50, 10], estimate).unwrap();
    assert!(!cached);
    assert_eq!(g, vec![0.91, 0.95, 0.99]);
    assert_eq!(calls.get(), 1);
    // Round trip through strict JSON.
    let text = std::fs::read_to_string(&path).unwrap();
    let _: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cache = GammaCache::read(&path).unwrap().unwrap();
    assert_eq!(cache.format, GAMMA_CACHE_FORMAT);
    assert_eq!(cache.key, key(10));
    assert_eq!(cache.timesteps, vec![90, 50, 10]);
    // Same key, a subset of the timesteps in another order: from the cache.
    let (g, cached) = GammaCache::load_or_estimate(&path, &key(10), &[10, 90], estimate).unwrap();
    assert!(cached);
    assert_eq!(g, vec![0.99, 0.91]);
    assert_eq!(calls.get(), 1);
    // A later checkpoint: stale, re-estimated and rewritten with the new step.
    let (_, cached) =
        GammaCache::load_or_estimate(&path, &key(20), &[90, 50, 10], estimate).unwrap();
    assert!(!cached);
    assert_eq!(calls.get(), 2);
    assert_eq!(GammaCache::read(&path).unwrap().unwrap().key.model_step, 20);
    assert!(
        GammaCache::read(&path)
            .unwrap()
            .unwrap()
            .stale_reason(&key(10), &[90])
            .is_some()
    );
    // Another EMA setting is another model.
    let mut raw = key(20);
    raw.ema = false;
    assert!(
        !GammaCache::load_or_estimate(&path, &raw, &[90], estimate)
            .unwrap()
            .1
    );
    // Timesteps the cache lacks: only those are estimated, and added to the file.
    let (g, cached) =
        GammaCache::load_or_estimate(&path, &raw, &[90, 30, 20, 30], estimate).unwrap();
    assert!(!cached);
    assert_eq!(calls.get(), 4);
    assert_eq!(*asked.borrow(), vec![30, 20]);
    assert_eq!(g, vec![0.91, 0.97, 0.98, 0.97]);
    let cache = GammaCache::read(&path).unwrap().unwrap();
    assert_eq!(cache.timesteps, vec![90, 30, 20]);
    assert_eq!(cache.key, raw);
    let (_, cached) = GammaCache::load_or_estimate(&path, &raw, &[20, 90], estimate).unwrap();
    assert!(cached);
    assert_eq!(calls.get(), 4);
    // A damaged file is replaced, not an error.
    std::fs::write(&path, "{not json").unwrap();
    assert!(GammaCache::read(&path).is_err());
    assert!(
        !GammaCache::load_or_estimate(&path, &raw, &[90], estimate)
            .unwrap()
            .1
    );
    assert!(GammaCache::read(&path).unwrap().is_some());
}
