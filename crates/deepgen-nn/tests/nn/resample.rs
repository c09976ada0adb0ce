//! Downsample and Upsample: sizes on odd sides (28 → 14 → 7 → 4 and back to 7 → 14 → 28),
//! the stride-2 convolution and the resize-then-convolve against host f64 computations from
//! the layers' own weights, nearest-neighbour indices `⌊i·n_in/n_out⌋`, and ceil-mode pooling
//! averaged over in-bounds pixels.

use crate::common;

use burn::tensor::{Device, Distribution, Tensor, TensorData};
use common::{Map, conv2d, host, max_abs_diff};
use deepgen_nn::{DownsampleConfig, UpsampleConfig, downsampled_size};
use deepgen_tensor::Validate;

/// Nearest-neighbour resize on the host: output pixel (y, x) takes input
/// (⌊y·h/oh⌋, ⌊x·w/ow⌋).
fn host_nearest(x: &Map, oh: usize, ow: usize) -> Map {
    let mut v = Vec::with_capacity(x.c * oh * ow);
    for c in 0..x.c {
        for y in 0..oh {
            for xx in 0..ow {
                v.push(x.at(c, y * x.h / oh, xx * x.w / ow));
            }
        }
    }
    Map::new(x.c, oh, ow, v)
}

#[test]
fn sizes_round_trip_through_odd_sides() {
    let dev = Device::flex();
    dev.seed(31);
    let down = DownsampleConfig::new(3).init(&dev);
    let up = UpsampleConfig::new(3).init(&dev);
    let mut x = Tensor::<4>::random([2, 3, 28, 28], Distribution::Default, &dev);
    let mut sizes = vec![[28, 28]];
    for _ in 0..3 {
        x = down.forward(x);
        let [_, _, h, w] = x.dims();
        sizes.push([h, w]);
    }
    assert_eq!(sizes, vec![[28, 28], [14, 14], [7, 7], [4, 4]]);
    for target in [[7, 7], [14, 14], [28, 28]] {
        x = up.forward_to(x, target);
        assert_eq!(x.dims(), [2, 3, target[0], target[1]]);
    }
    // Non-square and 1-pixel sides: ⌈n/2⌉.
    let y = down.forward(Tensor::zeros([1, 3, 5, 8], &dev));
    assert_eq!(y.dims(), [1, 3, 3, 4]);
    assert_eq!(
        down.forward(Tensor::zeros([1, 3, 1, 1], &dev)).dims(),
        [1, 3, 1, 1]
    );
    assert_eq!(
        (
            downsampled_size(7),
            downsampled_size(1),
            downsampled_size(28)
        ),
        (4, 1, 14)
    );
    assert_eq!(
        up.forward(Tensor::zeros([1, 3, 3, 5], &dev)).dims(),
        [1, 3, 6, 10]
    );
}

#[test]
fn downsample_conv_matches_a_host_stride_two_convolution() {
    let dev = Device::flex();
    dev.seed(32);
    let down = DownsampleConfig::new(2).init(&dev);
    let x = Tensor::<4>::random([1, 2, 7, 6], Distribution::Normal(0.0, 1.0), &dev);
    let got = down.forward(x.clone());
    assert_eq!(got.dims(), [1, 2, 4, 3]);
    let want = conv2d(
        &Map::from_batch(&host(x), 0, 2, 7, 6),
        down.conv.as_ref().unwrap(),
        2,
        1,
    );
    assert!(max_abs_diff(&host(got), &want.v) < 1e-5);
}

#[test]
fn average_pooling_uses_ceil_mode_over_in_bounds_pixels() {
    let dev = Device::flex();
    let pool = DownsampleConfig::new(1).with_conv(false).init(&dev);
    assert!(pool.conv.is_none());
    // 3×3 of 1…9 → 2×2 windows {1,2,4,5}, {3,6}, {7,8}, {9}.
    let x = Tensor::<4>::from_data(
        TensorData::new((1..=9).map(|v| v as f32).collect::<Vec<_>>(), [1, 1, 3, 3]),
        &dev,
    );
    assert_eq!(host(pool.forward(x)), vec![3.0, 4.5, 7.5, 9.0]);
}

#[test]
fn upsample_is_nearest_neighbour_then_convolution() {
    let dev = Device::flex();
    dev.seed(33);
    let x = Tensor::<4>::random([1, 2, 4, 3], Distribution::Normal(0.0, 1.0), &dev);
    let xm = Map::from_batch(&host(x.clone()), 0, 2, 4, 3);
    // Without a convolution: pure nearest neighbour, 2× and to an odd target.
    let plain = UpsampleConfig::new(2).with_conv(false).init(&dev);
    assert_eq!(host(plain.forward(x.clone())), host_nearest(&xm, 8, 6).v);
    assert_eq!(
        host(plain.forward_to(x.clone(), [7, 5])),
        host_nearest(&xm, 7, 5).v
    );
    // With the convolution: conv3×3(pad 1) of the resized map.
    let up = UpsampleConfig::new(2).init(&dev);
    let got = up.forward_to(x, [7, 5]);
    assert_eq!(got.dims(), [1, 2, 7, 5]);
    let want = conv2d(&host_nearest(&xm, 7, 5), up.conv.as_ref().unwrap(), 1, 1);
    assert!(max_abs_diff(&host(got), &want.v) < 1e-5);
}

#[test]
fn zero_channels_are_rejected() {
    let e = DownsampleConfig::new(0).validate().unwrap_err();
    assert_eq!(
        (e.config, e.field.as_str()),
        ("DownsampleConfig", "channels")
    );
    let e = UpsampleConfig::new(0)
        .try_init(&Device::flex())
        .unwrap_err();
    assert_eq!((e.config, e.field.as_str()), ("UpsampleConfig", "channels"));
}
