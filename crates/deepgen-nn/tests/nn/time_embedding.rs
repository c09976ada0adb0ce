//! The sinusoidal time embedding against golden values recomputed here in f64 from the DDPM
//! definition (Ho et al., `diffusion_tf/nn.py::get_timestep_embedding`), a few literal values
//! in closed form, the odd-`dim` zero column, and the time-embedding MLP against a host forward.

use crate::common;

use burn::tensor::{Device, Tensor, TensorData};
use common::{host, linear, silu};
use deepgen_nn::{TimeEmbeddingConfig, timestep_embedding, timestep_frequencies};
use deepgen_tensor::Validate;

/// The DDPM embedding in f64, written from the definition: half = ⌊dim/2⌋,
/// freq_i = 10000^(−i/(half−1)), [sin(t·freq) | cos(t·freq) | 0 if dim is odd].
fn golden(t: f64, dim: usize) -> Vec<f64> {
    let half = dim / 2;
    let freqs: Vec<f64> = (0..half)
        .map(|i| 10000f64.powf(-(i as f64) / (half as f64 - 1.0)))
        .collect();
    let mut v: Vec<f64> = freqs.iter().map(|f| (t * f).sin()).collect();
    v.extend(freqs.iter().map(|f| (t * f).cos()));
    if dim % 2 == 1 {
        v.push(0.0);
    }
    v
}

#[test]
fn matches_f64_golden_values() {
    let dev = Device::flex();
    let ts = [0.0, 1.0, 2.5, 10.0, 123.0, 999.0];
    for dim in [4, 5, 7, 16, 64, 65] {
        let t = Tensor::<1>::from_data(TensorData::new(ts.map(|t| t as f32).to_vec(), [6]), &dev);
        let got = host(timestep_embedding(t, dim));
        assert_eq!(got.len(), 6 * dim);
        for (r, &t) in ts.iter().enumerate() {
            let want = golden(t, dim);
            for (j, w) in want.iter().enumerate() {
                let g = got[r * dim + j];
                // f32 rounding of t·freq (≤ 1.2e-7·t) plus the f32 sin/cos.
                let tol = 1e-5 + 3e-7 * t;
                assert!(
                    (g - w).abs() <= tol,
                    "dim {dim}, t {t}, column {j}: {g} vs {w} (tol {tol})"
                );
            }
            if dim % 2 == 1 {
                assert_eq!(got[r * dim + dim - 1], 0.0, "odd dim pads a zero column");
            }
        }
    }
}

#[test]
fn literal_values_for_dim_4() {
    // dim 4: half 2, freqs [1, 10⁻⁴]; t = 1 gives [sin 1, sin 10⁻⁴, cos 1, cos 10⁻⁴].
    let want = [
        0.841_470_984_807_896_5,
        9.999_999_983_333_334e-5,
        0.540_302_305_868_139_8,
        0.999_999_995,
    ];
    let got = host(timestep_embedding(
        Tensor::<1>::from_floats([1.0], &Device::flex()),
        4,
    ));
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-7, "{got:?}");
    }
    // The frequency ladder runs from exactly 1 to exactly 1/10000.
    let f = timestep_frequencies(64);
    assert_eq!(f.len(), 32);
    assert!((f[0] - 1.0).abs() < 1e-15 && (f[31] - 1e-4).abs() < 1e-15);
    assert!(f.windows(2).all(|w| w[1] < w[0]));
}

#[test]
#[should_panic(expected = "needs dim ≥ 4")]
fn dims_below_four_are_rejected() {
    let _ = timestep_embedding(Tensor::<1>::from_floats([1.0], &Device::flex()), 3);
}

#[test]
fn time_embedding_mlp_matches_a_host_forward() {
    let dev = Device::flex();
    dev.seed(11);
    let te = TimeEmbeddingConfig::new(6, 8).init(&dev);
    let ts = [0.0f32, 17.0, 500.5];
    let got = host(te.forward(Tensor::<1>::from_floats(ts, &dev)));
    assert_eq!(got.len(), 3 * 8);
    for (r, &t) in ts.iter().enumerate() {
        let e = golden(t as f64, 6);
        let h: Vec<f64> = linear(&e, &te.linear1).into_iter().map(silu).collect();
        let want = linear(&h, &te.linear2);
        for (j, w) in want.iter().enumerate() {
            assert!(
                (got[r * 8 + j] - w).abs() < 1e-3,
                "t {t}: {} vs {w}",
                got[r * 8 + j]
            );
        }
    }
    let e = TimeEmbeddingConfig::new(3, 8).validate().unwrap_err();
    assert_eq!(
        (e.config, e.field.as_str()),
        ("TimeEmbeddingConfig", "input_dim")
    );
    assert!(TimeEmbeddingConfig::new(4, 0).try_init(&dev).is_err());
}
