//! ResBlock against a host f64 forward from its own weights (GroupNorm, SiLU, 3×3 convs, the
//! projected context, the 1×1 skip), the identity/skip behaviour of the zero-initialised block,
//! gradients reaching every parameter, the context contract, and validation errors.

use crate::common;

use burn::tensor::{Device, Distribution, Tensor};
use common::{Map, assert_all_params_get_gradients, conv2d, group_norm, host, linear, silu};
use deepgen_nn::{ResBlock, ResBlockConfig};
use deepgen_tensor::Validate;

/// The block on the host: skip(x) + conv2(SiLU(GN2(conv1(SiLU(GN1(x))) + proj(SiLU(ctx))))).
fn host_res_block(block: &ResBlock, x: &Map, ctx: Option<&[f64]>) -> Map {
    let mut h = group_norm(x, &block.norm1);
    h.v.iter_mut().for_each(|v| *v = silu(*v));
    let mut h = conv2d(&h, &block.conv1, 1, 1);
    if let (Some(proj), Some(ctx)) = (&block.context_proj, ctx) {
        let c: Vec<f64> = ctx.iter().map(|v| silu(*v)).collect();
        let add = linear(&c, proj);
        let hw = h.h * h.w;
        for (i, v) in h.v.iter_mut().enumerate() {
            *v += add[i / hw];
        }
    }
    let mut h2 = group_norm(&h, &block.norm2);
    h2.v.iter_mut().for_each(|v| *v = silu(*v));
    let h2 = conv2d(&h2, &block.conv2, 1, 1);
    let skip = match &block.skip {
        Some(conv) => conv2d(x, conv, 1, 0),
        None => x.clone(),
    };
    Map::new(
        h2.c,
        h2.h,
        h2.w,
        skip.v.iter().zip(&h2.v).map(|(a, b)| a + b).collect(),
    )
}

#[test]
fn matches_a_host_forward_with_context_and_channel_change() {
    let dev = Device::flex();
    dev.seed(21);
    // 4 → 6 channels, groups 2 (norm1: 2 groups of 2, norm2: 2 groups of 3), context of 5.
    let block = ResBlockConfig::new(4, 6)
        .with_context_dim(Some(5))
        .with_groups(2)
        .with_zero_init(false)
        .init(&dev);
    assert!(block.skip.is_some());
    let x = Tensor::<4>::random([2, 4, 5, 3], Distribution::Normal(0.0, 1.0), &dev);
    let ctx = Tensor::<2>::random([2, 5], Distribution::Normal(0.0, 1.0), &dev);
    let y = block.forward(x.clone(), Some(&ctx));
    assert_eq!(y.dims(), [2, 6, 5, 3]);
    let (xs, cs, ys) = (host(x), host(ctx), host(y));
    for i in 0..2 {
        let want = host_res_block(
            &block,
            &Map::from_batch(&xs, i, 4, 5, 3),
            Some(&cs[i * 5..][..5]),
        );
        let got = &ys[i * 90..(i + 1) * 90];
        let err = common::max_abs_diff(got, &want.v);
        assert!(err < 1e-4, "example {i}: max |Δ| = {err}");
    }
}

#[test]
fn zero_init_block_starts_as_its_skip_path() {
    let dev = Device::flex();
    dev.seed(22);
    let x = Tensor::<4>::random([2, 4, 6, 6], Distribution::Normal(0.0, 1.0), &dev);
    let ctx = Tensor::<2>::random([2, 3], Distribution::Normal(0.0, 1.0), &dev);
    // Same channels: the identity, exactly.
    let same = ResBlockConfig::new(4, 4)
        .with_context_dim(Some(3))
        .init(&dev);
    assert!(same.skip.is_none());
    assert_eq!(host(same.forward(x.clone(), Some(&ctx))), host(x.clone()));
    // Other channels: the 1×1 skip convolution of x.
    let wider = ResBlockConfig::new(4, 8).init(&dev);
    let got = host(wider.forward(x.clone(), None));
    let xs = host(x);
    for i in 0..2 {
        let want = conv2d(
            &Map::from_batch(&xs, i, 4, 6, 6),
            wider.skip.as_ref().unwrap(),
            1,
            0,
        );
        let err = common::max_abs_diff(&got[i * 288..(i + 1) * 288], &want.v);
        assert!(err < 1e-5, "{err}");
    }
}

#[test]
fn gradients_reach_every_parameter_and_the_zeroed_conv() {
    let ad = Device::flex().autodiff();
    ad.seed(23);
    for zero_init in [false, true] {
        let block = ResBlockConfig::new(4, 8)
            .with_context_dim(Some(6))
            .with_dropout(0.1)
            .with_zero_init(zero_init)
            .init(&ad);
        let x = Tensor::<4>::random([2, 4, 5, 5], Distribution::Normal(0.0, 1.0), &ad);
        let ctx = Tensor::<2>::random([2, 6], Distribution::Normal(0.0, 1.0), &ad);
        let loss = block.forward(x, Some(&ctx)).powi_scalar(2).mean();
        let grads = loss.backward();
        if zero_init {
            // Only the zeroed conv2 and the skip see a gradient at a zero-initialised start:
            // conv2's input is non-zero, so ∂loss/∂conv2 ≠ 0 and training can leave zero.
            let g = block.conv2.weight.val().grad(&grads).unwrap();
            assert!(host(g).iter().any(|v| *v != 0.0));
        } else {
            // norm1 γβ, conv1 w b, proj w b, norm2 γβ, conv2 w b, skip w b.
            assert_eq!(
                assert_all_params_get_gradients(&block, &grads, "ResBlock"),
                12
            );
        }
    }
}

#[test]
fn the_context_shifts_each_channel_by_its_projection() {
    let dev = Device::flex();
    dev.seed(24);
    let block = ResBlockConfig::new(4, 4)
        .with_context_dim(Some(3))
        .with_groups(1)
        .with_zero_init(false)
        .init(&dev);
    let x = Tensor::<4>::random([1, 4, 4, 4], Distribution::Normal(0.0, 1.0), &dev);
    let c1 = Tensor::<2>::from_floats([[0.5, -1.0, 2.0]], &dev);
    let c2 = Tensor::<2>::from_floats([[-0.5, 1.0, 0.0]], &dev);
    let a = host(block.forward(x.clone(), Some(&c1)));
    let b = host(block.forward(x.clone(), Some(&c2)));
    assert_eq!(
        a,
        host(block.forward(x, Some(&c1))),
        "deterministic without autodiff"
    );
    assert!(
        common::max_abs_diff(&a, &b) > 1e-4,
        "the context must matter"
    );
}

#[test]
#[should_panic(expected = "called without a context")]
fn a_conditioned_block_needs_its_context() {
    let dev = Device::flex();
    let block = ResBlockConfig::new(4, 4)
        .with_context_dim(Some(3))
        .init(&dev);
    let _ = block.forward(Tensor::zeros([1, 4, 2, 2], &dev), None);
}

#[test]
fn bad_configs_name_the_field() {
    let field = |c: ResBlockConfig| c.validate().unwrap_err().field;
    assert_eq!(field(ResBlockConfig::new(0, 4)), "in_channels");
    assert_eq!(field(ResBlockConfig::new(4, 0)), "out_channels");
    assert_eq!(
        field(ResBlockConfig::new(4, 4).with_context_dim(Some(0))),
        "context_dim"
    );
    // min(4, 6) = 4 groups do not divide 6 channels.
    let e = ResBlockConfig::new(6, 8)
        .with_groups(4)
        .validate()
        .unwrap_err();
    assert_eq!((e.config, e.field.as_str()), ("ResBlockConfig", "groups"));
    assert!(e.reason.contains("does not divide 6"), "{e}");
    assert_eq!(
        field(ResBlockConfig::new(4, 4).with_dropout(1.0)),
        "dropout"
    );
    assert_eq!(
        field(ResBlockConfig::new(4, 4).with_dropout(-0.1)),
        "dropout"
    );
    assert!(
        ResBlockConfig::new(4, 4)
            .with_groups(0)
            .try_init(&Device::flex())
            .is_err()
    );
}
