//! The DDPM U-Net: output shapes for 1×28×28 (three and four levels, the latter through the
//! odd 7 → 4 → 7 sizes) and 3×32×32 inputs, attention placement, the exact-zero output of the
//! zero-initialised net, dependence on time and class, gradients reaching every parameter,
//! a save/load round trip, and validation errors naming the field.

use crate::common;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Int, Tensor};
use common::{assert_all_params_get_gradients, host, max_abs_diff};
use deepgen_nn::{UNet, UNetConfig};
use deepgen_tensor::Validate;

/// A small MNIST-shaped net: base 8, levels 28, 14, 7, one block per level.
fn mnist_config() -> UNetConfig {
    UNetConfig::new(1, [28, 28])
        .with_base_channels(8)
        .with_num_res_blocks(1)
        .with_zero_init(false)
}

fn times(ts: &[f32], dev: &Device) -> Tensor<1> {
    Tensor::<1>::from_floats(ts, dev)
}

fn attention_count(net: &UNet) -> usize {
    let down: usize = net
        .down
        .iter()
        .flat_map(|l| &l.blocks)
        .filter(|b| b.attention.is_some())
        .count();
    let up: usize = net
        .up
        .iter()
        .flat_map(|l| &l.blocks)
        .filter(|b| b.attention.is_some())
        .count();
    down + up
}

#[test]
fn output_shapes_match_the_input() {
    let dev = Device::flex();
    dev.seed(51);
    // MNIST, default mults [1, 2, 2] and attention at 14.
    let cfg = mnist_config();
    assert_eq!(cfg.level_sizes(), vec![[28, 28], [14, 14], [7, 7]]);
    let net = cfg.init(&dev);
    // Attention after the one down block and the two up blocks of the 14×14 level.
    assert_eq!(attention_count(&net), 3);
    assert_eq!((net.down.len(), net.up.len()), (3, 3));
    assert!(net.down[2].downsample.is_none() && net.up[2].upsample.is_none());
    let x = Tensor::<4>::random([2, 1, 28, 28], Distribution::Normal(0.0, 1.0), &dev);
    assert_eq!(
        net.forward(x, times(&[3.0, 700.0], &dev), None).dims(),
        [2, 1, 28, 28]
    );

    // Four levels: 28 → 14 → 7 → 4 and back up through 7 (Upsample::forward_to).
    let cfg = mnist_config()
        .with_channel_mults(vec![1, 1, 2, 2])
        .with_attention_resolutions(vec![4]);
    assert_eq!(cfg.level_sizes()[3], [4, 4]);
    let net = cfg.init(&dev);
    let x = Tensor::<4>::random([1, 1, 28, 28], Distribution::Normal(0.0, 1.0), &dev);
    assert_eq!(
        net.forward(x, times(&[1.0], &dev), None).dims(),
        [1, 1, 28, 28]
    );

    // CIFAR-shaped, 3 channels in, 6 out (e.g. ε and a variance), attention at 16.
    let cfg = UNetConfig::new(3, [32, 32])
        .with_out_channels(Some(6))
        .with_base_channels(8)
        .with_channel_mults(vec![1, 2])
        .with_num_res_blocks(1)
        .with_attention_resolutions(vec![16])
        .with_attention_heads(2);
    let net = cfg.init(&dev);
    let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Normal(0.0, 1.0), &dev);
    assert_eq!(
        net.forward(x, times(&[0.0, 1.0], &dev), None).dims(),
        [2, 6, 32, 32]
    );
}

#[test]
fn zero_initialised_net_outputs_exactly_zero() {
    let dev = Device::flex();
    dev.seed(52);
    let net = mnist_config().with_zero_init(true).init(&dev);
    let x = Tensor::<4>::random([2, 1, 28, 28], Distribution::Normal(0.0, 1.0), &dev);
    let y = host(net.forward(x, times(&[5.0, 50.0], &dev), None));
    assert!(y.iter().all(|v| *v == 0.0));
}

#[test]
fn output_depends_on_time_and_class() {
    let dev = Device::flex();
    dev.seed(53);
    let net = mnist_config().with_num_classes(Some(10)).init(&dev);
    assert!(net.class_embedding.is_some());
    let x = Tensor::<4>::random([1, 1, 28, 28], Distribution::Normal(0.0, 1.0), &dev);
    let class = |c: i64| Tensor::<1, Int>::from_ints([c], &dev);
    let run = |t: f32, c: i64| host(net.forward(x.clone(), times(&[t], &dev), Some(class(c))));
    let base = run(10.0, 3);
    assert_eq!(base, run(10.0, 3), "deterministic without autodiff");
    assert!(
        max_abs_diff(&base, &run(500.0, 3)) > 1e-4,
        "time must matter"
    );
    assert!(
        max_abs_diff(&base, &run(10.0, 7)) > 1e-4,
        "class must matter"
    );
}

#[test]
#[should_panic(expected = "called without classes")]
fn class_conditional_net_needs_classes() {
    let dev = Device::flex();
    let net = mnist_config().with_num_classes(Some(10)).init(&dev);
    let _ = net.forward(
        Tensor::zeros([1, 1, 28, 28], &dev),
        times(&[1.0], &dev),
        None,
    );
}

#[test]
fn gradients_reach_every_parameter() {
    let ad = Device::flex().autodiff();
    ad.seed(54);
    let net = UNetConfig::new(1, [12, 12])
        .with_base_channels(8)
        .with_channel_mults(vec![1, 2])
        .with_num_res_blocks(1)
        .with_attention_resolutions(vec![12])
        .with_num_classes(Some(3))
        .with_zero_init(false)
        .init(&ad);
    let x = Tensor::<4>::random([3, 1, 12, 12], Distribution::Normal(0.0, 1.0), &ad);
    let target = Tensor::<4>::random([3, 1, 12, 12], Distribution::Normal(0.0, 1.0), &ad);
    let class = Tensor::<1, Int>::from_ints([0, 2, 1], &ad);
    let y = net.forward(x, times(&[1.0, 10.0, 100.0], &ad), Some(class));
    let grads = (y - target).powi_scalar(2).mean().backward();
    let n = assert_all_params_get_gradients(&net, &grads, "UNet");
    assert_eq!(
        n,
        count_param_tensors(&net),
        "the visitor saw every parameter"
    );
}

/// Float parameter tensors, counted from the structure independently of the visitor: every
/// GroupNorm, Linear and Conv2d has two (weight/γ and bias/β), the class embedding one.
fn count_param_tensors(net: &UNet) -> usize {
    // norm1, conv1, context projection, norm2, conv2 (+ the 1×1 skip).
    let res = |r: &deepgen_nn::ResBlock| 2 * (5 + r.skip.is_some() as usize);
    let attn = 2 * 5; // norm, query, key, value, output
    let block = |b: &deepgen_nn::UNetBlock| res(&b.res) + attn * b.attention.is_some() as usize;
    let mut n = 2 * 2 + net.class_embedding.is_some() as usize + 2; // time MLP, classes, stem
    for l in &net.down {
        n += l.blocks.iter().map(block).sum::<usize>() + 2 * l.downsample.is_some() as usize;
    }
    n += res(&net.middle.res1) + attn + res(&net.middle.res2);
    for l in &net.up {
        n += l.blocks.iter().map(block).sum::<usize>() + 2 * l.upsample.is_some() as usize;
    }
    n + 2 + 2 // head norm, head conv
}

#[test]
fn save_load_round_trip_gives_identical_outputs() {
    let dev = Device::flex();
    dev.seed(55);
    let cfg = mnist_config().with_num_classes(Some(4));
    let net = cfg.init(&dev);
    let x = Tensor::<4>::random([2, 1, 28, 28], Distribution::Normal(0.0, 1.0), &dev);
    let t = times(&[2.0, 20.0], &dev);
    let class = Tensor::<1, Int>::from_ints([1, 3], &dev);
    let before = host(net.forward(x.clone(), t.clone(), Some(class.clone())));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unet.bpk");
    net.save_file(&path).unwrap();
    dev.seed(56);
    let fresh = cfg.init(&dev);
    let fresh_out = host(fresh.forward(x.clone(), t.clone(), Some(class.clone())));
    assert_ne!(before, fresh_out, "another initialisation must differ");
    let loaded = fresh.try_load_file(&path).unwrap();
    assert_eq!(before, host(loaded.forward(x, t, Some(class))));
}

#[test]
fn bad_configs_name_the_field() {
    let field = |c: UNetConfig| {
        let e = c.validate().unwrap_err();
        assert_eq!(e.config, "UNetConfig");
        e.field
    };
    let ok = || UNetConfig::new(1, [28, 28]).with_base_channels(8);
    assert!(ok().validate().is_ok());
    assert!(
        UNetConfig::new(1, [28, 28]).validate().is_ok(),
        "the defaults fit MNIST"
    );
    assert_eq!(field(UNetConfig::new(0, [28, 28])), "in_channels");
    assert_eq!(field(ok().with_out_channels(Some(0))), "out_channels");
    assert_eq!(field(ok().with_base_channels(0)), "base_channels");
    assert_eq!(field(ok().with_base_channels(2)), "base_channels");
    assert_eq!(field(ok().with_channel_mults(vec![])), "channel_mults");
    assert_eq!(
        field(ok().with_channel_mults(vec![1, 0])),
        "channel_mults[1]"
    );
    assert_eq!(field(ok().with_num_res_blocks(0)), "num_res_blocks");
    assert_eq!(field(UNetConfig::new(1, [0, 28])), "image_size[0]");
    assert_eq!(field(ok().with_num_classes(Some(0))), "num_classes");
    assert_eq!(field(ok().with_dropout(1.0)), "dropout");
    // min(32, 48) = 32 groups do not divide 48 channels.
    let e = UNetConfig::new(1, [28, 28])
        .with_base_channels(48)
        .validate()
        .unwrap_err();
    assert_eq!(e.field, "groups");
    assert!(e.reason.contains("does not divide 48"), "{e}");
    assert_eq!(field(ok().with_groups(3)), "groups");
    // 9 is no level of a 28×28 image (levels 28, 14, 7).
    let e = ok()
        .with_attention_resolutions(vec![7, 9])
        .validate()
        .unwrap_err();
    assert_eq!(e.field, "attention_resolutions[1]");
    assert!(e.reason.contains("[28, 14, 7]"), "{e}");
    // 3 heads do not divide the 16 channels of the 14×14 level.
    assert_eq!(field(ok().with_attention_heads(3)), "attention_heads");
    assert!(
        ok().with_channel_mults(vec![])
            .try_init(&Device::flex())
            .is_err()
    );
}

#[test]
fn trunk_and_head_compose_to_forward_and_extra_heads_fit_the_trunk() {
    let dev = Device::flex();
    dev.seed(53);
    let cfg = mnist_config().with_channel_mults(vec![2, 2]);
    let net = cfg.init(&dev);
    let x = Tensor::<4>::random([2, 1, 28, 28], Distribution::Normal(0.0, 1.0), &dev);
    let t = times(&[5.0, 600.0], &dev);
    let features = net.forward_trunk(x.clone(), t.clone(), None);
    assert_eq!(features.dims(), [2, cfg.trunk_channels(), 28, 28]);
    assert_eq!(cfg.trunk_channels(), 16);
    let whole = host(net.forward(x, t, None));
    let split = host(net.forward_head(features.clone()));
    assert!(max_abs_diff(&whole, &split) == 0.0, "forward ≠ head(trunk)");

    let head = cfg.init_head(3, false, &dev).unwrap();
    let out = host(head.forward(features.clone()));
    assert_eq!(out.len(), 2 * 3 * 28 * 28);
    assert!(
        out.iter().any(|v| v.abs() > 1e-6),
        "a non-zero-initialised head"
    );
    let zero = cfg.init_head(1, true, &dev).unwrap();
    assert!(host(zero.forward(features)).iter().all(|v| *v == 0.0));
    let e = cfg.init_head(0, false, &dev).unwrap_err();
    assert_eq!(e.field, "out_channels");
}
