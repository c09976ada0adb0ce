//! `x̂₀` clipping: fixed range and dynamic thresholding (Saharia et al. 2022).

use deepgen_diffusion::SampleClipping;

use crate::common::{assert_close, device, host, tensor};

const XS: [f64; 15] = [
    0.2, -0.5, 0.9, 0.95, -0.1, //
    1.2, -1.3, 0.4, 1.35, -0.8, //
    3.0, -2.0, 2.6, 0.5, -4.0,
];

/// golden.py: THRESHOLDED (diffusers' `_threshold_sample` with ratio 0.8, max 1.5; per-sample
/// quantiles of |x| are 0.91 → s = 1, 1.31 → s = 1.31, 3.2 → s = 1.5). Any rank: the quantile
/// is taken over everything but the batch axis.
#[test]
fn dynamic_threshold_matches_diffusers() {
    let _serial = crate::common::serial();
    let dev = device();
    let expected = [
        0.2,
        -0.5,
        0.9,
        0.95,
        -0.1,
        0.916030534351145,
        -0.9923664122137404,
        0.3053435114503817,
        1.0,
        -0.6106870229007634,
        1.0,
        -1.0,
        1.0,
        0.3333333333333333,
        -1.0,
    ];
    let c = SampleClipping::DynamicThreshold {
        ratio: 0.8,
        max_value: 1.5,
    };
    let got = host(c.apply(tensor(&XS, [3, 5], &dev)));
    assert_close(&got, &expected, 1e-6, 1e-6, "rank 2");
    let got = c.apply(tensor(&XS, [3, 5, 1, 1], &dev));
    assert_eq!(got.dims(), [3, 5, 1, 1]);
    assert_close(&host(got), &expected, 1e-6, 1e-6, "rank 4");
}

#[test]
fn fixed_clip_and_off() {
    let _serial = crate::common::serial();
    let dev = device();
    let x = || tensor(&XS, [3, 5], &dev);
    assert_eq!(host(SampleClipping::Off.apply(x())), host(x()));
    let got = host(SampleClipping::Clip { range: 1.0 }.apply(x()));
    let expected: Vec<f64> = XS.iter().map(|v| v.clamp(-1.0, 1.0)).collect();
    assert_close(&got, &expected, 1e-7, 0.0, "clip");
}
