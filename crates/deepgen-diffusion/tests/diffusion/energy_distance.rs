//! The energy distance (`energy_distance`): tiny point sets computed by hand, symmetry and
//! translation invariance, the floor of two draws of one distribution and the closed form for
//! two shifted normals.

use deepgen_diffusion::energy_distance;
use deepgen_tensor::HostRng;

#[test]
fn tiny_point_sets_match_the_hand_computation() {
    let _serial = crate::common::serial();
    // One point each, 5 apart: 2·5 − 0 − 0.
    assert!((energy_distance(&[0.0, 0.0], &[3.0, 4.0], 2) - 10.0).abs() < 1e-12);
    // X = {(0,0), (2,0)}, Y = {(0,0)}: between (0 + 2)/2 = 1, within X (0+2+2+0)/4 = 1,
    // within Y 0 → 2·1 − 1 − 0 = 1.
    assert!((energy_distance(&[0.0, 0.0, 2.0, 0.0], &[0.0, 0.0], 2) - 1.0).abs() < 1e-12);
    // X = {(0,0), (1,0), (0,1)}, Y = {(1,1), (2,2)}: between distances √2, 2√2, 1, √5, 1, √5
    // (mean (3√2 + 2 + 2√5)/6); within X 1, 1, √2 twice each over 9 pairs; within Y √2 twice
    // over 4 pairs. (numpy on the same sets: 2.1057713078812754.)
    let (r2, r5) = (2f64.sqrt(), 5f64.sqrt());
    let expected = 2.0 * (3.0 * r2 + 2.0 + 2.0 * r5) / 6.0 - 2.0 * (2.0 + r2) / 9.0 - r2 / 2.0;
    assert!((expected - 2.105_771_307_881_275).abs() < 1e-12);
    let x = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
    let y = [1.0, 1.0, 2.0, 2.0];
    let e = energy_distance(&x, &y, 2);
    assert!((e - expected).abs() < 1e-12, "{e} vs {expected}");
    // Symmetric, translation invariant, zero for equal sets.
    assert!((energy_distance(&y, &x, 2) - e).abs() < 1e-12);
    let shift =
        |p: &[f64]| -> Vec<f64> { p.chunks(2).flat_map(|q| [q[0] + 7.5, q[1] - 3.0]).collect() };
    assert!((energy_distance(&shift(&x), &shift(&y), 2) - e).abs() < 1e-12);
    assert_eq!(energy_distance(&x, &x, 2), 0.0);
}

fn normals(n: usize, mean: f64, rng: &mut HostRng) -> Vec<f64> {
    (0..n).map(|_| mean + rng.normal()).collect()
}

#[test]
fn two_draws_of_one_normal_score_near_zero_and_shifted_ones_the_closed_form() {
    let _serial = crate::common::serial();
    // X ~ N(0, 1), Y ~ N(1, 1) in one dimension: X − Y ~ N(−1, 2), E|N(μ, s²)| =
    // s√(2/π) e^{−μ²/2s²} + μ erf(μ/(s√2)), so 2E|X−Y| − E|X−X'| − E|Y−Y'| =
    // (4/√π)(e^{−1/4} − 1) + 2 erf(1/2) = 0.5418065793059574 (Python's math.erf). The
    // V-statistic adds E|X−X'|/n + E|Y−Y'|/m = 2·(2/√π)/n on average.
    let n = 2000;
    let closed = 0.541_806_579_305_957_4;
    let bias = 4.0 / std::f64::consts::PI.sqrt() / n as f64;
    // Calibrated with numpy on 30 seeds of the same sizes: same distribution mean 0.0010,
    // sd 0.0008, max 0.0035; shifted mean 0.532, sd 0.030, range 0.459–0.597.
    for seed in 0..3 {
        let mut rng = HostRng::seed_from_u64(seed);
        let x = normals(n, 0.0, &mut rng);
        let y = normals(n, 0.0, &mut rng);
        let z = normals(n, 1.0, &mut rng);
        let same = energy_distance(&x, &y, 1);
        assert!(
            (0.0..0.006).contains(&same),
            "seed {seed}: same distribution {same}"
        );
        let shifted = energy_distance(&x, &z, 1);
        assert!(
            (shifted - (closed + bias)).abs() < 0.15,
            "seed {seed}: shifted {shifted}, closed form {closed}"
        );
    }
}

#[test]
#[should_panic(expected = "whole points")]
fn ragged_input_panics() {
    let _serial = crate::common::serial();
    energy_distance(&[0.0, 1.0, 2.0], &[0.0, 0.0], 2);
}
