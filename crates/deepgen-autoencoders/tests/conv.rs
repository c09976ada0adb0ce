//! Convolutional encoder/decoder tests: exact shapes for several `[C, H, W]` (even, odd,
//! non-square, both kernels), the recorded spatial sizes against hand-computed values,
//! gradients reaching every parameter, save/load round trips, and the MLP/conv net enums.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Distribution, Gradients, Tensor};
use deepgen_autoencoders::conv::{NetConfigError, block_sizes};
use deepgen_autoencoders::{
    ConvDecoderConfig, ConvEncoderConfig, DecoderNet, DecoderNetConfig, EncoderNet,
    EncoderNetConfig,
};

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
        e,
        NetConfigError::Collapse {
            net: "ConvEncoderConfig",
            h: 4,
            w: 4,
            blocks: 3,
            kernel: 4,
            block: 3
        }
    );
    // Kernel 3 rounds up and never collapses a side of at least 1.
    assert_eq!(
        ConvEncoderConfig::new([1, 4, 4], vec![8, 8, 8], 3)
            .with_kernel(3)
            .spatial_sizes()
            .unwrap(),
        vec![[4, 4], [2, 2], [1, 1], [1, 1]]
    );
    assert!(e.to_string().contains("too small"), "{e}");
    assert!(matches!(
        block_sizes("x", 1, 1, 1, 4),
        Err(NetConfigError::Collapse { block: 1, .. })
    ));
    assert!(matches!(
        ConvEncoderConfig::new([1, 28, 28], vec![], 3).spatial_sizes(),
        Err(NetConfigError::NoBlocks { .. })
    ));
    assert!(matches!(
        ConvEncoderConfig::new([1, 28, 28], vec![4], 3)
            .with_kernel(1)
            .spatial_sizes(),
        Err(NetConfigError::Kernel { kernel: 1, .. })
    ));
    assert!(matches!(
        ConvDecoderConfig::new([1, 28, 28], vec![4], 0).spatial_sizes(),
        Err(NetConfigError::Zero {
            field: "d_input",
            ..
        })
    ));
    assert!(matches!(
        EncoderNetConfig::mlp(4, vec![0], 2).check(),
        Err(NetConfigError::Zero {
            field: "hidden",
            ..
        })
    ));
}

/// Collects, for every float parameter, the squared norm of its gradient (None if missing).
struct GradNorms<'a> {
    grads: &'a Gradients,
    norms: Vec<Option<f64>>,
}

impl ModuleVisitor for GradNorms<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let g = param.val().grad(self.grads);
        self.norms.push(g.map(|g| {
            let v: Vec<f32> = g.into_data().try_to_vec().unwrap();
            v.iter().map(|x| (*x as f64).powi(2)).sum()
        }));
    }
}

fn assert_all_params_get_gradients<M: Module>(model: &M, grads: &Gradients, what: &str) {
    let mut visitor = GradNorms {
        grads,
        norms: Vec::new(),
    };
    model.visit(&mut visitor);
    assert!(!visitor.norms.is_empty());
    for (i, n) in visitor.norms.iter().enumerate() {
        let n = n.unwrap_or_else(|| panic!("{what}: parameter {i} has no gradient"));
        assert!(
            n.is_finite() && n > 0.0,
            "{what}: parameter {i} has gradient norm² {n}"
        );
    }
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
        assert_all_params_get_gradients(&enc, &grads, "encoder");
        assert_all_params_get_gradients(&dec, &grads, "decoder");
    }
}

#[test]
fn net_enums_are_interchangeable_on_flat_data() {
    let dev = Device::flex();
    dev.seed(4);
    let mlp = EncoderNetConfig::mlp(2 * 6 * 5, vec![16], 3);
    let conv = EncoderNetConfig::conv([2, 6, 5], vec![4, 4], 3);
    for cfg in [mlp, conv] {
        assert_eq!(cfg.d_input(), 60);
        assert_eq!(cfg.d_output(), 3);
        let dcfg = cfg.mirrored_decoder(3);
        assert_eq!((dcfg.d_input(), dcfg.d_output()), (3, 60));
        let enc = cfg.init(&dev);
        let dec = dcfg.init(&dev);
        match (&enc, &dec) {
            (EncoderNet::Mlp(_), DecoderNet::Mlp(m)) => assert_eq!(m.layers.len(), 2),
            (EncoderNet::Conv(_), DecoderNet::Conv(c)) => assert_eq!(c.deconvs.len(), 2),
            _ => panic!("mirrored decoder of another family"),
        }
        let x = Tensor::<2>::random([7, 60], Distribution::Default, &dev);
        let z = enc.forward(x);
        assert_eq!(z.dims(), [7, 3]);
        assert_eq!(dec.forward(z).dims(), [7, 60]);
    }
    // The MLP mirror reverses the hidden widths.
    let DecoderNetConfig::Mlp(m) = EncoderNetConfig::mlp(10, vec![8, 6], 2).mirrored_decoder(2)
    else {
        panic!()
    };
    assert_eq!(
        (m.d_input, m.hidden.clone(), m.d_output),
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
    let before: Vec<f32> = dec
        .forward(enc.forward(x.clone()))
        .into_data()
        .try_to_vec()
        .unwrap();

    let dir = std::env::temp_dir().join(format!("deepgen-conv-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    enc.save_file(dir.join("enc.bpk")).unwrap();
    dec.save_file(dir.join("dec.bpk")).unwrap();
    dev.seed(77);
    let enc2 = enc_cfg
        .init(&dev)
        .try_load_file(dir.join("enc.bpk"))
        .unwrap();
    let dec2 = dec_cfg
        .init(&dev)
        .try_load_file(dir.join("dec.bpk"))
        .unwrap();
    let after: Vec<f32> = dec2
        .forward(enc2.forward(x))
        .into_data()
        .try_to_vec()
        .unwrap();
    assert_eq!(before, after);
    // A freshly initialised net differs (so the comparison above can fail).
    let x = Tensor::<2>::random([2, 17 * 23], Distribution::Default, &dev);
    let a: Vec<f32> = dec2
        .forward(enc2.forward(x.clone()))
        .into_data()
        .try_to_vec()
        .unwrap();
    let b: Vec<f32> = dec_cfg
        .init(&dev)
        .forward(enc_cfg.init(&dev).forward(x))
        .into_data()
        .try_to_vec()
        .unwrap();
    assert_ne!(a, b);
    std::fs::remove_dir_all(&dir).ok();
}
