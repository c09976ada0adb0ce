//! Interpolation, traversal and active units against hand-computed values.

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_autoencoders::latent_tools::{
    LatentCodec, active_units, lerp, reconstruct, slerp, traversal,
};

fn host(t: Tensor<2>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

#[test]
fn lerp_and_slerp_hit_the_endpoints_and_slerp_keeps_the_norm() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let (a, b) = ([1.0, 0.0, 0.0], [0.0, 2.0, 0.0]);
    let l = host(lerp(&a, &b, 5, &dev));
    assert_eq!(&l[..3], &a);
    assert_eq!(&l[12..], &b);
    assert!((l[6] - 0.5).abs() < 1e-7 && (l[7] - 1.0).abs() < 1e-7);
    // Unit vectors 90° apart: slerp midpoint is (cos 45°, sin 45°, 0) — norm 1, unlike lerp's.
    let (u, v) = ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]);
    let s = host(slerp(&u, &v, 3, &dev));
    let h = std::f64::consts::FRAC_1_SQRT_2;
    assert!(
        (s[3] - h).abs() < 1e-6 && (s[4] - h).abs() < 1e-6 && s[5].abs() < 1e-7,
        "{s:?}"
    );
    for row in s.chunks(3) {
        let n = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((n - 1.0).abs() < 1e-6);
    }
    // Different norms: the weights are sin((1−t)Ω)/sin Ω and sin(tΩ)/sin Ω, Ω = 90°.
    let s = host(slerp(&a, &b, 3, &dev));
    assert!(
        (s[3] - h).abs() < 1e-6 && (s[4] - 2.0 * h).abs() < 1e-6,
        "{s:?}"
    );
    // Parallel vectors fall back to lerp without NaN.
    let p = host(slerp(&a, &[2.0, 0.0, 0.0], 3, &dev));
    assert!((p[3] - 1.5).abs() < 1e-7 && p.iter().all(|x| x.is_finite()));
}

#[test]
fn traversal_sets_one_coordinate_per_row() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let t = host(traversal(&[0.1, 0.2], &[1, 0], &[-1.0, 1.0], &dev));
    assert_eq!(
        t.iter()
            .map(|x| (x * 10.0).round() / 10.0)
            .collect::<Vec<_>>(),
        vec![0.1, -1.0, 0.1, 1.0, -1.0, 0.2, 1.0, 0.2]
    );
}

/// A linear "model": code = first two inputs scaled by [1, 0.05]; decode = identity padding.
struct Linear2;
impl LatentCodec for Linear2 {
    fn latent_dim(&self) -> usize {
        2
    }
    fn encode_mean(&self, x: Tensor<2>) -> Tensor<2> {
        let dev = x.device();
        let s = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.05], [1, 2]), &dev);
        let b = x.dims()[0];
        x.slice([0..b, 0..2]) * s
    }
    fn decode_mean(&self, z: Tensor<2>) -> Tensor<2> {
        z
    }
}

#[test]
fn active_units_counts_dimensions_with_posterior_mean_variance_above_threshold() {
    let _serial = crate::serial();
    // Inputs ±1 in both coordinates: Var of code 0 = 1 (·n/(n−1)), of code 1 = 0.0025 < 0.01.
    let dev = Device::flex();
    let n = 100;
    let v: Vec<f32> = (0..n)
        .flat_map(|i| {
            let s = if i % 2 == 0 { 1.0 } else { -1.0 };
            [s, -s, 0.0]
        })
        .collect();
    let x = Tensor::<2>::from_data(TensorData::new(v, [n, 3]), &dev);
    let au = active_units(
        &Linear2,
        [x.clone().narrow(0, 0, 40), x.narrow(0, 40, 60)],
        0.01,
    );
    let expected = n as f64 / (n - 1) as f64;
    assert!(
        (au.activity[0] - expected).abs() < 1e-9,
        "{:?}",
        au.activity
    );
    assert!((au.activity[1] - 0.0025 * expected).abs() < 1e-9);
    assert_eq!(au.active, 1);
    let r = host(reconstruct(
        &Linear2,
        Tensor::<2>::from_data(TensorData::new(vec![2.0f32, 4.0, 9.0], [1, 3]), &dev),
    ));
    assert!((r[0] - 2.0).abs() < 1e-7 && (r[1] - 0.2).abs() < 1e-7);
}
