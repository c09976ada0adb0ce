//! MLP and convolutional encoder/decoder tests (moved from deepgen-autoencoders): exact shapes
//! for several `[C, H, W]` (even, odd, non-square, both kernels), the recorded spatial sizes
//! and output paddings against hand-computed values, the MLP against an f64 host forward,
//! validation errors naming the field, gradients reaching every parameter, save/load round
//! trips, and the MLP/conv net enums.

use crate::common;

use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::tensor::{Device, Distribution, Tensor};
use common::{assert_all_params_get_gradients, host, linear, max_abs_diff};
use deepgen_nn::{
    ConvDecoderConfig, ConvEncoderConfig, DecoderNet, DecoderNetConfig, EncoderNet,
    EncoderNetConfig, MlpConfig, block_sizes,
};
use deepgen_tensor::Validate;

#[test]
fn encoder_and_decoder_shapes_for_many_images() {
    let dev = Device::flex();
    dev.seed(1);
    // (input, channels, kernel, expected spatial sizes) — sizes by hand from
    // ⌊(n + 2p − k)/2⌋ + 1 with p = ⌊(k − 1)/2⌋: k = 4 → ⌊n/2⌋, k = 3 → ⌈n/2⌉.
    type Case = ([usize; 3], Vec<usize>, usize, Vec<[usize; 2]>);
    let cases: Vec<Case> = vec![
        (
            [1, 28, 28],
            vec![32, 64],
            4,
            vec![[28, 28], [14, 14], [7, 7]],
        ),
        (
            [1, 28, 28],
            vec![8, 16],
            3,
            vec![[28, 28], [14, 14], [7, 7]],
        ),
        (
            [1, 28, 28],
            vec![4, 4, 4],
            3,
            vec![[28, 28], [14, 14], [7, 7], [4, 4]],
        ),
        (
            [1, 28, 28],
            vec![4, 4, 4],
            4,
            vec![[28, 28], [14, 14], [7, 7], [3, 3]],
        ),
        ([3, 17, 23], vec![8, 16], 4, vec![[17, 23], [8, 11], [4, 5]]),
        ([3, 17, 23], vec![8, 16], 3, vec![[17, 23], [9, 12], [5, 6]]),
        (
            [3, 32, 32],
            vec![8, 8, 8],
            4,
            vec![[32, 32], [16, 16], [8, 8], [4, 4]],
        ),
        ([2, 5, 9], vec![4], 4, vec![[5, 9], [2, 4]]),
        ([1, 1, 7], vec![4], 3, vec![[1, 7], [1, 4]]),
        ([1, 2, 2], vec![4], 5, vec![[2, 2], [1, 1]]),
    ];
    for (input, channels, kernel, sizes) in cases {
        let [c, h, w] = input;
        let enc_cfg = ConvEncoderConfig::new(input, channels.clone(), 6).with_kernel(kernel);
        assert_eq!(
            enc_cfg.spatial_sizes().unwrap(),
            sizes,
            "{input:?} k{kernel}"
        );
        let enc = enc_cfg.init(&dev);
        assert_eq!(enc.sizes, sizes);
        let x = Tensor::<4>::random([3, c, h, w], Distribution::Default, &dev);
        assert_eq!(enc.forward(x.clone()).dims(), [3, 6]);
        assert_eq!(
            enc.forward_flat(x.reshape([3, c * h * w])).dims(),
            [3, 6],
            "{input:?}"
        );

        let dec = enc_cfg.mirrored_decoder(5).init(&dev);
        let mut rev = sizes.clone();
        rev.reverse();
        assert_eq!(dec.sizes, rev);
        let z = Tensor::<2>::random([3, 5], Distribution::Default, &dev);
        assert_eq!(
            dec.forward(z.clone()).dims(),
            [3, c, h, w],
            "{input:?} k{kernel}: op {:?}",
            dec.output_padding
        );
        assert_eq!(dec.forward_flat(z).dims(), [3, c * h * w]);
        // Output padding (n + 2p − k) mod 2 for the target side of each transposed conv.
        for (i, op) in dec.output_padding.iter().enumerate() {
            let [th, tw] = rev[i + 1];
            let p = (kernel - 1) / 2;
            assert_eq!(*op, [(th + 2 * p - kernel) % 2, (tw + 2 * p - kernel) % 2]);
        }
    }
}

#[test]
fn known_output_paddings_for_mnist_and_odd_sizes() {
    let dev = Device::flex();
    // 28 → 14 → 7 with kernel 4: 2·7 + op = 14 and 2·14 + op = 28 → op = 0 everywhere.
    let d = ConvDecoderConfig::new([1, 28, 28], vec![32, 64], 16).init(&dev);
    assert_eq!(d.output_padding, vec![[0, 0], [0, 0]]);
    // kernel 3: (n'−1)·2 − 2 + 3 + op = n → op = 1 for even n.
    let d = ConvDecoderConfig::new([1, 28, 28], vec![32, 64], 16)
        .with_kernel(3)
        .init(&dev);
    assert_eq!(d.output_padding, vec![[1, 1], [1, 1]]);
    // 17×23, kernel 4: 4×5 → 8×11 (op 0, 1) → 17×23 (op 1, 1).
    let d = ConvDecoderConfig::new([3, 17, 23], vec![8, 16], 16).init(&dev);
    assert_eq!(d.sizes, vec![[4, 5], [8, 11], [17, 23]]);
    assert_eq!(d.output_padding, vec![[0, 1], [1, 1]]);
}

#[test]
fn too_small_images_and_bad_configs_are_errors() {
    // Kernel 4 halves (floor): 4 → 2 → 1 → 0 at the third block.
    let e = ConvEncoderConfig::new([1, 4, 4], vec![8, 8, 8], 3)
        .spatial_sizes()
        .unwrap_err();
    assert_eq!(
        (e.config, e.field.as_str()),
        ("ConvEncoderConfig", "channels")
    );
    assert!(
        e.reason
            .contains("4×4 image is too small for 3 stride-2 blocks with kernel 4")
            && e.reason.contains("after block 3"),
        "{e}"
    );
    // Kernel 3 rounds up and never collapses a side of at least 1.
    assert_eq!(
        ConvEncoderConfig::new([1, 4, 4], vec![8, 8, 8], 3)
            .with_kernel(3)
            .spatial_sizes()
            .unwrap(),
        vec![[4, 4], [2, 2], [1, 1], [1, 1]]
    );
    let e = block_sizes("X", 1, 1, 1, 4).unwrap_err();
    assert!(e.reason.contains("after block 1"), "{e}");

    let field = |r: Result<(), deepgen_tensor::ConfigError>| {
        let e = r.unwrap_err();
        (e.config, e.field)
    };
    assert_eq!(
        field(ConvEncoderConfig::new([1, 28, 28], vec![], 3).validate()),
        ("ConvEncoderConfig", "channels".into())
    );
    assert_eq!(
        field(ConvEncoderConfig::new([1, 28, 28], vec![4, 0], 3).validate()),
        ("ConvEncoderConfig", "channels[1]".into())
    );
    assert_eq!(
        field(ConvEncoderConfig::new([0, 28, 28], vec![4], 3).validate()),
        ("ConvEncoderConfig", "input[0]".into())
    );
    assert_eq!(
        field(
            ConvEncoderConfig::new([1, 28, 28], vec![4], 3)
                .with_kernel(1)
                .validate()
        ),
        ("ConvEncoderConfig", "kernel".into())
    );
    assert_eq!(
        field(ConvEncoderConfig::new([1, 28, 28], vec![4], 0).validate()),
        ("ConvEncoderConfig", "output_dim".into())
    );
    assert_eq!(
        field(ConvDecoderConfig::new([1, 28, 28], vec![4], 0).validate()),
        ("ConvDecoderConfig", "input_dim".into())
    );
    assert_eq!(
        field(EncoderNetConfig::mlp(4, vec![8, 0], 2).validate()),
        ("MlpConfig", "hidden[1]".into())
    );
    assert_eq!(
        field(DecoderNetConfig::mlp(0, vec![], 2).validate()),
        ("MlpConfig", "input_dim".into())
    );
    assert_eq!(
        field(MlpConfig::new(3, vec![], 0).validate()),
        ("MlpConfig", "output_dim".into())
    );
    // try_init returns the same error instead of building.
    let dev = Device::flex();
    let e = EncoderNetConfig::conv([1, 4, 4], vec![8, 8, 8], 3)
        .try_init(&dev)
        .unwrap_err();
    assert_eq!(e.field, "channels");
    assert!(MlpConfig::new(3, vec![0], 1).try_init(&dev).is_err());
}

#[test]
#[should_panic(expected = "ConvDecoderConfig.channels: is empty")]
fn init_panics_with_the_config_error() {
    let _ = ConvDecoderConfig::new([1, 28, 28], vec![], 3).init(&Device::flex());
}

#[test]
fn mlp_matches_a_host_forward() {
    let dev = Device::flex();
    dev.seed(2);
    let mlp = MlpConfig::new(5, vec![7, 4], 3)
        .with_activation(ActivationConfig::Tanh)
        .init(&dev);
    assert_eq!((mlp.input_dim(), mlp.output_dim()), (5, 3));
    let x = Tensor::<2>::random([2, 5], Distribution::Normal(0.0, 1.0), &dev);
    let got = host(mlp.forward(x.clone()));
    let xs = host(x);
    let mut want = Vec::new();
    for row in xs.chunks(5) {
        let h = linear(row, &mlp.layers[0])
            .into_iter()
            .map(f64::tanh)
            .collect::<Vec<_>>();
        let h = linear(&h, &mlp.layers[1])
            .into_iter()
            .map(f64::tanh)
            .collect::<Vec<_>>();
        want.extend(linear(&h, &mlp.layers[2]));
    }
    assert!(max_abs_diff(&got, &want) < 1e-5, "{got:?} vs {want:?}");
}

#[test]
fn gradients_reach_every_parameter() {
    let ad = Device::flex().autodiff();
    ad.seed(3);
    for (input, kernel) in [([1, 28, 28], 4), ([3, 17, 23], 3)] {
        let [c, h, w] = input;
        let enc_cfg = EncoderNetConfig::Conv(
            ConvEncoderConfig::new(input, vec![4, 8], 5).with_kernel(kernel),
        );
        let dec_cfg = enc_cfg.mirrored_decoder(5);
        let enc = enc_cfg.init(&ad);
        let dec = dec_cfg.init(&ad);
        let x = Tensor::<2>::random([4, c * h * w], Distribution::Default, &ad);
        let y = dec.forward(enc.forward(x.clone()));
        assert_eq!(y.dims(), [4, c * h * w]);
        let loss = (y - x).powi_scalar(2).mean();
        let grads = loss.backward();
        // 2 convs + linear (weight and bias each) = 6; linear + 2 deconvs = 6.
        assert_eq!(assert_all_params_get_gradients(&enc, &grads, "encoder"), 6);
        assert_eq!(assert_all_params_get_gradients(&dec, &grads, "decoder"), 6);
    }
}

#[test]
fn net_enums_are_interchangeable_on_flat_data() {
    let dev = Device::flex();
    dev.seed(4);
    let mlp = EncoderNetConfig::mlp(2 * 6 * 5, vec![16], 3);
    let conv = EncoderNetConfig::conv([2, 6, 5], vec![4, 4], 3);
    for cfg in [mlp, conv] {
        assert_eq!(cfg.input_dim(), 60);
        assert_eq!(cfg.output_dim(), 3);
        let dcfg = cfg.mirrored_decoder(3);
        assert_eq!((dcfg.input_dim(), dcfg.output_dim()), (3, 60));
        let enc = cfg.init(&dev);
        let dec = dcfg.init(&dev);
        match (&enc, &dec) {
            (EncoderNet::Mlp(_), DecoderNet::Mlp(m)) => assert_eq!(m.layers.len(), 2),
            (EncoderNet::Conv(_), DecoderNet::Conv(c)) => assert_eq!(c.deconvs.len(), 2),
            _ => panic!("mirrored decoder of another family"),
        }
        assert_eq!(enc.as_mlp().is_some(), dec.as_mlp().is_some());
        let x = Tensor::<2>::random([7, 60], Distribution::Default, &dev);
        let z = enc.forward(x);
        assert_eq!(z.dims(), [7, 3]);
        assert_eq!(dec.forward(z).dims(), [7, 60]);
    }
    // The MLP mirror reverses the hidden widths.
    let DecoderNetConfig::Mlp(m) = EncoderNetConfig::mlp(10, vec![8, 6], 2).mirrored_decoder(2)
    else {
        panic!("expected an MLP decoder")
    };
    assert_eq!(
        (m.input_dim, m.hidden.clone(), m.output_dim),
        (2, vec![6, 8], 10)
    );
}

#[test]
fn save_load_round_trip_preserves_outputs() {
    let dev = Device::flex();
    dev.seed(5);
    let enc_cfg = EncoderNetConfig::conv([1, 17, 23], vec![4, 8], 6);
    let dec_cfg = enc_cfg.mirrored_decoder(6);
    let enc = enc_cfg.init(&dev);
    let dec = dec_cfg.init(&dev);
    let x = Tensor::<2>::random([2, 17 * 23], Distribution::Default, &dev);
    let before = host(dec.forward(enc.forward(x.clone())));

    let dir = tempfile::tempdir().unwrap();
    enc.save_file(dir.path().join("enc.bpk")).unwrap();
    dec.save_file(dir.path().join("dec.bpk")).unwrap();
    dev.seed(77);
    let enc2 = enc_cfg
        .init(&dev)
        .try_load_file(dir.path().join("enc.bpk"))
        .unwrap();
    let dec2 = dec_cfg
        .init(&dev)
        .try_load_file(dir.path().join("dec.bpk"))
        .unwrap();
    let after = host(dec2.forward(enc2.forward(x.clone())));
    assert_eq!(before, after);
    // A freshly initialised net differs (so the comparison above can fail).
    let fresh = host(dec_cfg.init(&dev).forward(enc_cfg.init(&dev).forward(x)));
    assert_ne!(before, fresh);
}
