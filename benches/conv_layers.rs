//! The 2-D convolutions of deepgen's models, one criterion group per layer shape: Burn's own flex
//! convolution (`burn::tensor::module::conv2d`, `conv_transpose2d`) against deepgen's
//! (`deepgen::nn::conv2d`, `conv_transpose2d`: the kernels every deepgen `Conv2d` and
//! `ConvTranspose2d` run on flex), for inference (`*_forward`: forward only, plain
//! device) and training (`*_train`: forward, then the input, weight and bias gradients of
//! `Σ y ⊙ g` on the autodiff device). `device.sync()` is inside every timed region.
//! `benches/pytorch/conv_layers.py` times the same layers in PyTorch (`torch.nn.functional.conv2d`
//! and its autograd), same shapes and thread count.
//!
//! The `group_norm_*` groups time the U-Net's GroupNorms the same way: Burn's
//! `GroupNorm::forward` against `deepgen::nn::fused_group_norm`.
//!
//! Run: `cargo bench --bench conv_layers` (about 2 minutes; an idle machine, see
//! docs/performance.md).

use std::time::Duration;

use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};

/// One layer: name, batch, channels in → out, image size, kernel, stride, padding.
pub struct Layer {
    pub name: &'static str,
    pub batch: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub size: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

/// The layers, from the default models (keep in sync with `benches/pytorch/conv_layers.py`).
pub const LAYERS: [Layer; 11] = [
    // ddpm_mnist's U-Net (base 16): ResBlock 3×3 convolutions at each resolution, batch 64.
    layer("unet_16x28x28_k3", 64, 16, 16, 28, 3, 1, 1),
    layer("unet_32x14x14_k3", 64, 32, 32, 14, 3, 1, 1),
    layer("unet_64x7x7_k3", 64, 64, 64, 7, 3, 1, 1),
    // Its down-sampling convolutions between levels (3×3, stride 2).
    layer("unet_down_16x28x28_k3s2", 64, 16, 16, 28, 3, 2, 1),
    layer("unet_down_32x14x14_k3s2", 64, 32, 32, 14, 3, 2, 1),
    // glow_mnist's coupling conditioner (hidden 128), first level (2 → 128 → 128 → 4 at 14×14).
    layer("glow_2to128x14x14_k3", 64, 2, 128, 14, 3, 1, 1),
    layer("glow_128x14x14_k1", 64, 128, 128, 14, 1, 1, 0),
    layer("glow_128to4x14x14_k3", 64, 128, 4, 14, 3, 1, 1),
    // The conv VAE / VQ-VAE encoders: 4×4 stride-2 convolutions, batch 128.
    layer("enc_1to32x28x28_k4s2", 128, 1, 32, 28, 4, 2, 1),
    layer("enc_32to64x14x14_k4s2", 128, 32, 64, 14, 4, 2, 1),
    // VQ-VAE residual blocks at 7×7 (32 channels, batch 128).
    layer("vq_32x7x7_k3", 128, 32, 32, 7, 3, 1, 1),
];

#[allow(clippy::too_many_arguments)]
const fn layer(
    name: &'static str,
    batch: usize,
    c_in: usize,
    c_out: usize,
    size: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Layer {
    Layer {
        name,
        batch,
        c_in,
        c_out,
        size,
        kernel,
        stride,
        padding,
    }
}

/// The conv VAE decoder's transposed convolutions (4×4, stride 2, padding 1; batch 128):
/// name, channels in → out, input size.
pub const TRANSPOSED: [(&str, usize, usize, usize); 2] = [
    ("dec_64to32x7x7_k4s2", 64, 32, 7),
    ("dec_32to1x14x14_k4s2", 32, 1, 14),
];

type ConvFn = fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>, ConvOptions<2>) -> Tensor<4>;
type ConvTransposeFn =
    fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>, ConvTransposeOptions<2>) -> Tensor<4>;

/// Times `*_forward` (plain device) and `*_train` (autodiff, all three gradients of `Σ y ⊙ g`)
/// of `op` on `x`, `w`, `b` in `group`.
fn bench_op(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    shapes: ([usize; 4], [usize; 4], usize),
    op: &dyn Fn(Tensor<4>, Tensor<4>, Tensor<1>) -> Tensor<4>,
) {
    let (x_shape, w_shape, c_out) = shapes;
    let dev = Device::flex();
    let x = Tensor::<4>::random(x_shape, Distribution::Default, &dev);
    let w = Tensor::<4>::random(w_shape, Distribution::Default, &dev);
    let b = Tensor::<1>::random([c_out], Distribution::Default, &dev);
    group.bench_function(format!("{name}_forward"), |bench| {
        bench.iter(|| {
            let y = op(x.clone(), w.clone(), b.clone());
            dev.sync().expect("sync");
            y
        })
    });
    let ad = dev.clone().autodiff();
    let x = Tensor::<4>::from_data(x.to_data(), &ad).require_grad();
    let w = Tensor::<4>::from_data(w.to_data(), &ad).require_grad();
    let b = Tensor::<1>::from_data(b.to_data(), &ad).require_grad();
    let y_dims = op(x.clone(), w.clone(), b.clone()).dims();
    let g = Tensor::<4>::random(y_dims, Distribution::Default, &ad);
    group.bench_function(format!("{name}_train"), |bench| {
        bench.iter(|| {
            let y = op(x.clone(), w.clone(), b.clone());
            let grads = (y * g.clone()).sum().backward();
            ad.sync().expect("sync");
            grads
        })
    });
}

fn configure(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
}

fn bench_layers(c: &mut Criterion) {
    // As every example does at start-up (`Run::start`): keep freed tensor memory in the process.
    // Without it, each iteration maps and unmaps its multi-MB buffers, and TLB shootdowns across
    // the two cores took a third of the profile.
    deepgen::train::allocator::keep_memory_in_process();
    let impls: [(&str, ConvFn); 2] = [
        ("burn", burn::tensor::module::conv2d),
        ("deepgen", deepgen::nn::conv2d),
    ];
    for l in &LAYERS {
        let mut group = c.benchmark_group(format!("conv_{}_b{}", l.name, l.batch));
        configure(&mut group);
        let options = ConvOptions::new([l.stride; 2], [l.padding; 2], [1, 1], 1);
        let shapes = (
            [l.batch, l.c_in, l.size, l.size],
            [l.c_out, l.c_in, l.kernel, l.kernel],
            l.c_out,
        );
        for (name, conv) in impls {
            let op = |x, w, b| conv(x, w, Some(b), options.clone());
            bench_op(&mut group, name, shapes, &op);
        }
        group.finish();
    }
    let transposed: [(&str, ConvTransposeFn); 2] = [
        ("burn", burn::tensor::module::conv_transpose2d),
        ("deepgen", deepgen::nn::conv_transpose2d),
    ];
    for (layer, c_in, c_out, size) in TRANSPOSED {
        let mut group = c.benchmark_group(format!("convT_{layer}_b128"));
        configure(&mut group);
        let options = ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1);
        let shapes = ([128, c_in, size, size], [c_in, c_out, 4, 4], c_out);
        for (name, conv) in transposed {
            let op = |x, w, b| conv(x, w, Some(b), options.clone());
            bench_op(&mut group, name, shapes, &op);
        }
        group.finish();
    }
}

/// GroupNorm of the U-Net's activations (16 groups, as `ddpm_mnist`'s default): Burn's
/// `GroupNorm::forward` against `deepgen::nn::fused_group_norm`, forward and training (the
/// gradients of the input, γ and β of `Σ y ⊙ g`).
fn bench_group_norm(c: &mut Criterion) {
    use burn::nn::{GroupNorm, GroupNormConfig};
    deepgen::train::allocator::keep_memory_in_process();
    type NormFn = fn(&GroupNorm, Tensor<4>) -> Tensor<4>;
    let impls: [(&str, NormFn); 2] = [
        ("burn", |n, x| n.forward(x)),
        ("deepgen", |n, x| deepgen::nn::fused_group_norm(n, x)),
    ];
    for (channels, size) in [(16, 28), (32, 14), (64, 7)] {
        let mut group = c.benchmark_group(format!("group_norm_{channels}x{size}x{size}_b64"));
        configure(&mut group);
        let dev = Device::flex();
        let ad = dev.clone().autodiff();
        let shape = [64, channels, size, size];
        let x = Tensor::<4>::random(shape, Distribution::Default, &dev);
        let g = Tensor::<4>::random(shape, Distribution::Default, &ad);
        let x_ad = Tensor::<4>::from_data(x.to_data(), &ad).require_grad();
        let norm = GroupNormConfig::new(16, channels).init(&dev);
        let norm_ad = GroupNormConfig::new(16, channels).init(&ad);
        for (name, f) in impls {
            group.bench_function(format!("{name}_forward"), |bench| {
                bench.iter(|| {
                    let y = f(&norm, x.clone());
                    dev.sync().expect("sync");
                    y
                })
            });
            group.bench_function(format!("{name}_train"), |bench| {
                bench.iter(|| {
                    let grads = (f(&norm_ad, x_ad.clone()) * g.clone()).sum().backward();
                    ad.sync().expect("sync");
                    grads
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_layers, bench_group_norm);
criterion_main!(benches);
