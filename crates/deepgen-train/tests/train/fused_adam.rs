//! `FusedAdam` against Burn's `Adam`: the same parameters and moments to the last bit over
//! several steps (on flex, where the fused loop runs, including a parameter large enough for
//! the multi-threaded split, and on ndarray, where Burn's update runs), records that load into
//! either optimizer, and config validation.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use deepgen_tensor::{BackendKind, HostRng, Validate};
use deepgen_train::FusedAdamConfig;

/// `300 → 256 → 3`: a 76 800-element weight (split over threads) and small ones.
#[derive(Module, Debug)]
struct Mlp {
    l1: Linear,
    l2: Linear,
}

fn mlp(device: &Device) -> Mlp {
    let mut rng = HostRng::seed_from_u64(7);
    let mut fill = |l: Linear| {
        let [i, o] = l.weight.dims();
        let w: Vec<f32> = (0..i * o).map(|_| rng.normal() as f32 * 0.05).collect();
        let b: Vec<f32> = (0..o).map(|_| rng.normal() as f32 * 0.05).collect();
        Linear {
            weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [i, o]), device)),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(b, [o]),
                device,
            ))),
        }
    };
    Mlp {
        l1: fill(LinearConfig::new(300, 256).init(device)),
        l2: fill(LinearConfig::new(256, 3).init(device)),
    }
}

fn batch(step: usize, device: &Device) -> Tensor<2> {
    let mut rng = HostRng::seed_from_u64(100 + step as u64);
    let x: Vec<f32> = (0..16 * 300).map(|_| rng.normal() as f32).collect();
    Tensor::from_data(TensorData::new(x, [16, 300]), device)
}

fn train_step(optim: &mut ModuleOptimizer, model: Mlp, step: usize, device: &Device) -> Mlp {
    let h = model.l1.forward(batch(step, device)).tanh();
    // Gradients of very different sizes per element (the cube), so moments are not uniform.
    let loss = model.l2.forward(h).powi_scalar(3).mean();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    // A schedule-like learning rate that is not exactly representable in f32.
    let lr = 3e-3 / (1.0 + 0.37 * step as f64);
    optim.step(lr, model, grads)
}

/// The bits of every parameter, in module order.
fn bits(model: &Mlp) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    for l in [&model.l1, &model.l2] {
        let w = l.weight.val().into_data();
        let b = l.bias.as_ref().expect("bias").val().into_data();
        for data in [w, b] {
            let v = data.try_to_vec::<f32>().expect("f32");
            out.push(v.iter().map(|x| x.to_bits()).collect());
        }
    }
    out
}

fn assert_same_bits(a: &Mlp, b: &Mlp, what: &str) {
    for (i, (x, y)) in bits(a).iter().zip(bits(b)).enumerate() {
        let diff = x.iter().zip(&y).filter(|(p, q)| p != q).count();
        assert_eq!(
            diff,
            0,
            "{what}: parameter {i} differs in {diff} of {} elements",
            x.len()
        );
    }
}

fn matches_burn_on(device: &Device) {
    let _guard = crate::common::serial();
    let ad = device.clone().autodiff();
    let mut burn_model = mlp(&ad);
    // A clone shares the parameter storage: the first fused step must not write into it.
    let mut fused_model = burn_model.clone();
    let before = bits(&burn_model);
    let mut burn_optim = AdamConfig::new().init();
    let mut fused_optim = FusedAdamConfig::new().init();
    for step in 0..6 {
        burn_model = train_step(&mut burn_optim, burn_model, step, &ad);
        fused_model = train_step(&mut fused_optim, fused_model, step, &ad);
        assert_same_bits(&burn_model, &fused_model, &format!("step {step}"));
        if step == 0 {
            assert_ne!(bits(&burn_model), before, "the step moved the parameters");
        }
    }
    // The moments too: one more step from each optimizer's state on the same model.
    let probe = fused_model.clone();
    let a = train_step(&mut burn_optim, probe.clone(), 6, &ad);
    let b = train_step(&mut fused_optim, probe, 6, &ad);
    assert_same_bits(&a, &b, "step 6 from the same parameters (state compared)");
}

#[test]
fn fused_adam_equals_burns_adam_bit_for_bit_on_flex() {
    matches_burn_on(&Device::flex());
}

#[test]
fn fused_adam_equals_burns_adam_on_ndarray_where_burns_update_runs() {
    matches_burn_on(
        &BackendKind::NdArray
            .device()
            .expect("ndarray is compiled for tests"),
    );
}

#[test]
fn the_fused_loop_runs_on_flex_f32_only() {
    let adam = FusedAdamConfig::new().try_build().expect("valid");
    let flex = Tensor::<2>::zeros([2, 3], &Device::flex());
    assert!(adam.fuses(&flex));
    let nd = BackendKind::NdArray
        .device()
        .expect("ndarray is compiled for tests");
    assert!(!adam.fuses(&Tensor::<2>::zeros([2, 3], &nd)));
    let amsgrad = FusedAdamConfig::new()
        .with_amsgrad(true)
        .try_build()
        .expect("valid");
    assert!(!amsgrad.fuses(&flex));
}

#[test]
fn records_load_into_either_optimizer() {
    let _guard = crate::common::serial();
    let ad = Device::flex().autodiff();
    let mut model = mlp(&ad);
    let mut fused = FusedAdamConfig::new().init();
    for step in 0..3 {
        model = train_step(&mut fused, model, step, &ad);
    }
    let bytes = fused.into_bytes().expect("serialises");
    let mut burn = AdamConfig::new()
        .init()
        .from_bytes(bytes.clone())
        .expect("Burn's Adam reads FusedAdam's record");
    let mut again = FusedAdamConfig::new()
        .init()
        .from_bytes(bytes)
        .expect("FusedAdam reads its own record");
    let a = train_step(&mut burn, model.clone(), 3, &ad);
    let b = train_step(&mut again, model.clone(), 3, &ad);
    let c = train_step(&mut fused, model, 3, &ad);
    assert_same_bits(&a, &b, "after loading the record");
    assert_same_bits(&a, &c, "loaded vs uninterrupted");
}

#[test]
fn invalid_configs_name_the_field() {
    let e = FusedAdamConfig::new()
        .with_beta_1(1.0)
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("beta_1"), "{e}");
    let e = FusedAdamConfig::new()
        .with_beta_2(-0.1)
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("beta_2"), "{e}");
    let e = FusedAdamConfig::new()
        .with_epsilon(0.0)
        .try_build()
        .err()
        .expect("ε = 0 is refused");
    assert!(e.to_string().contains("epsilon"), "{e}");
    assert!(FusedAdamConfig::new().validate().is_ok());
}
