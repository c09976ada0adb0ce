//! VQ conformance: a small VQ-VAE (codes, reconstruction, loss and every gradient) and a class-
//! and spatially conditioned gated PixelCNN (`log_prob` and every gradient) give the same
//! results on every compiled backend. flex vs ndarray always; flex vs wgpu in the wgpu lane
//! (`-- --ignored`). Parameters are pattern-filled once on flex and copied through a burnpack
//! record, as in `flows_conformance`. Tolerances: 1e-4 relative for values, 1e-3 for gradients
//! (f32, summation order only); codes must be identical.

use burn::module::{Module, ModuleVisitor, Param};

use crate::common::{Deterministic, host};
use burn::optim::GradientsParams;
use burn::store::ModuleRecord;
use burn::tensor::{Device, Int, Tensor, TensorData};
use deepgen_tensor::BackendKind;
use deepgen_vq::pixelcnn::{GatedPixelCnn, GatedPixelCnnConfig};
use deepgen_vq::{CodebookUpdate, VectorQuantizerConfig, VqModel, VqVae, VqVaeConfig};

/// Gradients of every float parameter that has one (EMA statistics have none).
struct Grads<'a>(&'a GradientsParams, Vec<Vec<f32>>);

impl ModuleVisitor for Grads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.0.get::<D>(param.id) {
            self.1.push(host(g));
        }
    }
}

fn pattern<const D: usize>(shape: [usize; D], dev: &Device) -> Tensor<D> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|i| ((i * 37 + 5) % 23) as f32 / 22.0).collect();
    Tensor::from_data(TensorData::new(v, shape), dev)
}

/// Images with no repeated 2×2 blocks (distinct encoder outputs, so no near-ties in the
/// nearest-code lookup).
fn images(dev: &Device) -> Tensor<4> {
    let v: Vec<f32> = (0..2 * 64u64)
        .map(|i| ((i * 2_654_435_761) % 997) as f32 / 997.0)
        .collect();
    Tensor::from_data(TensorData::new(v, [2, 1, 8, 8]), dev)
}

fn vqvae(d: &Device) -> VqVae {
    VqVaeConfig::new(VectorQuantizerConfig::new(8, 4).with_update(CodebookUpdate::Gradient))
        .with_image_shape([1, 8, 8])
        .with_channels(8)
        .with_groups(4)
        .with_res_blocks(1)
        .init(d)
}

fn pixelcnn(d: &Device) -> GatedPixelCnn {
    GatedPixelCnnConfig::new(5)
        .with_channels(8)
        .with_layers(2)
        .with_kernel_size(3)
        .with_head_channels(8)
        .with_num_classes(3)
        .with_cond_channels(Some(2))
        .init(d)
}

fn record<M: Module>(fresh: impl Fn(&Device) -> M) -> Vec<u8> {
    fresh(&Device::flex())
        .map(&mut Deterministic(0, 0.4))
        .into_record()
        .into_bytes()
        .unwrap()
        .to_vec()
}

fn load<M: Module>(fresh: impl Fn(&Device) -> M, record: &[u8], device: &Device) -> M {
    let record =
        ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(record.to_vec())).unwrap();
    fresh(device).load_record(record)
}

#[derive(Debug)]
struct Run {
    values: Vec<Vec<f32>>,
    codes: Vec<i64>,
    grads: Vec<Vec<f32>>,
}

fn run_vqvae(record: &[u8], base: Device) -> Run {
    let ad = base.autodiff();
    let model = load(vqvae, record, &ad);
    let f = model.vq_forward(images(&ad));
    let loss = f.loss(10.0);
    let values = vec![host(f.reconstruction.clone()), host(loss.clone())];
    let codes = f.codes[0]
        .clone()
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .unwrap();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut v = Grads(&grads, vec![]);
    model.visit(&mut v);
    Run {
        values,
        codes,
        grads: v.1,
    }
}

fn run_pixelcnn(record: &[u8], base: Device) -> Run {
    let ad = base.autodiff();
    let model = load(pixelcnn, record, &ad);
    let x: Vec<i64> = (0..2 * 4 * 5).map(|i| (i * 7 % 5) as i64).collect();
    let x = Tensor::<3, Int>::from_data(TensorData::new(x, [2, 4, 5]), &ad);
    let class = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2], [2]), &ad);
    let cond = pattern([2, 2, 4, 5], &ad);
    let lp = model.log_prob(x, Some(class), Some(cond));
    let values = vec![host(lp.clone())];
    let grads = GradientsParams::from_grads((-lp.mean()).backward(), &model);
    let mut v = Grads(&grads, vec![]);
    model.visit(&mut v);
    Run {
        values,
        codes: vec![],
        grads: v.1,
    }
}

fn assert_close(what: &str, a: &[f32], b: &[f32], rel: f32) {
    assert_eq!(a.len(), b.len(), "{what}: length");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let tol = rel * x.abs().max(1.0);
        assert!(
            x.is_finite() && (x - y).abs() <= tol,
            "{what}[{i}]: {x} vs {y} (tol {tol})"
        );
    }
}

fn compare(what: &str, a: &Run, b: &Run) {
    for (i, (x, y)) in a.values.iter().zip(&b.values).enumerate() {
        assert_close(&format!("{what} value {i}"), x, y, 1e-4);
    }
    assert_eq!(a.codes, b.codes, "{what}: codes");
    assert_eq!(
        a.grads.len(),
        b.grads.len(),
        "{what}: parameters with gradients"
    );
    for (i, (x, y)) in a.grads.iter().zip(&b.grads).enumerate() {
        assert_close(&format!("{what} grad {i}"), x, y, 1e-3);
    }
}

/// The VQ-VAE's record: pattern-filled, then the codebook set by k-means on the test input's
/// encoder outputs (a pattern-filled codebook maps every position to one code).
fn vqvae_record() -> Vec<u8> {
    let device = Device::flex();
    let model = vqvae(&device).map(&mut Deterministic(0, 0.4));
    let mut rng = deepgen_tensor::HostRng::seed_from_u64(1);
    let model = VqModel::kmeans_init(model, images(&device), &mut rng);
    model.into_record().into_bytes().unwrap().to_vec()
}

fn check(a: Device, b: Device) {
    let r = vqvae_record();
    let (ra, rb) = (run_vqvae(&r, a.clone()), run_vqvae(&r, b.clone()));
    // Not trivial: several codes, and gradients for most parameters.
    let distinct: std::collections::BTreeSet<_> = ra.codes.iter().collect();
    assert!(distinct.len() > 1, "codes {:?}", ra.codes);
    assert!(ra.grads.len() > 10);
    compare("VQ-VAE", &ra, &rb);
    let r = record(pixelcnn);
    let (pa, pb) = (run_pixelcnn(&r, a), run_pixelcnn(&r, b));
    assert!(pa.grads.len() > 10);
    compare("PixelCNN", &pa, &pb);
}

#[test]
fn vq_models_agree_on_flex_and_ndarray() {
    check(Device::flex(), BackendKind::NdArray.device().unwrap());
}

#[test]
#[ignore = "wgpu lane: needs a Vulkan driver; run with -- --ignored"]
fn vq_models_agree_on_flex_and_wgpu() {
    check(Device::flex(), BackendKind::Wgpu.device().unwrap());
}
