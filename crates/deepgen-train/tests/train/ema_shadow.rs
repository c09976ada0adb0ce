//! `deepgen_train::ema::Ema`: closed-form averages with and without warm-up,
//! no autodiff in the shadow, path mismatches, and the save/load round trip.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use deepgen_train::ema::{EMA_STATE_FILE, EMA_WEIGHTS_FILE, Ema, EmaError, EmaState};

#[derive(Module, Debug)]
struct Toy {
    w: Param<Tensor<2>>,
    b: Param<Tensor<1>>,
}

fn device() -> Device {
    Device::flex().autodiff()
}

fn toy(w: [[f32; 2]; 2], b: [f32; 2], device: &Device) -> Toy {
    Toy {
        w: Param::from_tensor(Tensor::from_data(w, device).require_grad()),
        b: Param::from_tensor(Tensor::from_data(b, device).require_grad()),
    }
}

/// Replaces the model's values, keeping its parameter ids (as an optimizer step does).
fn set(model: Toy, w: [[f32; 2]; 2], b: [f32; 2]) -> Toy {
    let device = model.w.device();
    Toy {
        w: Param::initialized(model.w.id, Tensor::from_data(w, &device).require_grad()),
        b: Param::initialized(model.b.id, Tensor::from_data(b, &device).require_grad()),
    }
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().try_into_vec_as::<f64>().unwrap()
}

fn shadow_values(ema: &Ema<Toy>) -> Vec<f64> {
    let mut v = values(ema.model().w.val());
    v.extend(values(ema.model().b.val()));
    v
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}[{i}]: got {g}, want {w}");
    }
}

const THETA0_W: [[f32; 2]; 2] = [[1.0, -2.0], [3.0, 0.5]];
const THETA0_B: [f32; 2] = [4.0, -1.0];
const C_W: [[f32; 2]; 2] = [[0.0, 1.0], [2.0, 2.0]];
const C_B: [f32; 2] = [-3.0, 10.0];

/// The closed form after k updates towards a constant c from θ0:
/// s_k = c + (θ0 − c)·Π_{n<k} d_n.
fn closed_form(product: f64) -> Vec<f64> {
    let theta0 = [1.0, -2.0, 3.0, 0.5, 4.0, -1.0];
    let c = [0.0, 1.0, 2.0, 2.0, -3.0, 10.0];
    theta0
        .iter()
        .zip(c)
        .map(|(t, c)| c + (t - c) * product)
        .collect()
}

#[test]
fn warmup_constant_sequence_matches_closed_form() {
    let ad = device();
    let model = toy(THETA0_W, THETA0_B, &ad);
    let mut ema = Ema::new(&model, 0.99).unwrap();
    assert!(ema.warmup());
    let model = set(model, C_W, C_B);
    let mut decays = Vec::new();
    for _ in 0..3 {
        decays.push(ema.current_decay());
        ema.update(&model).unwrap();
    }
    // d_n = min(0.99, (1+n)/(10+n)) = 1/10, 2/11, 3/12 (TF num_updates rule).
    assert_close(&decays, &[0.1, 2.0 / 11.0, 0.25], 1e-15, "decays");
    // Π d_n = 1/220 (Python 3.11 fractions: prod(min(F(99,100), F(1+n,10+n)) for n in range(3))).
    let want = closed_form(1.0 / 220.0);
    // f32 on the device: |values| ≤ 11, 3 updates → error < 1e-5.
    assert_close(&shadow_values(&ema), &want, 1e-5, "shadow after 3 updates");
    assert_eq!(ema.updates(), 3);

    // Crossing from the warm-up into the plain decay: decay 0.5, 12 updates.
    // Π_{n<12} min(1/2, (1+n)/(10+n)) = 1/388960 (Python 3.11 fractions).
    let model = toy(THETA0_W, THETA0_B, &ad);
    let mut ema = Ema::new(&model, 0.5).unwrap();
    let model = set(model, C_W, C_B);
    for _ in 0..12 {
        ema.update(&model).unwrap();
    }
    assert_eq!(ema.current_decay(), 0.5);
    assert_close(
        &shadow_values(&ema),
        &closed_form(1.0 / 388_960.0),
        1e-5,
        "shadow after 12 updates",
    );
}

#[test]
fn without_warmup_a_step_from_zero_to_one_follows_one_minus_d_to_the_k() {
    let ad = device();
    let model = Toy {
        w: Param::from_tensor(Tensor::zeros([1, 1], &ad).require_grad()),
        b: Param::from_tensor(Tensor::zeros([1], &ad).require_grad()),
    };
    let mut ema = Ema::new(&model, 0.9).unwrap().with_warmup(false);
    let model = Toy {
        w: Param::initialized(model.w.id, Tensor::ones([1, 1], &ad).require_grad()),
        b: Param::initialized(model.b.id, Tensor::ones([1], &ad).require_grad()),
    };
    for k in 1..=10u32 {
        ema.update(&model).unwrap();
        let want = 1.0 - 0.9f64.powi(k as i32);
        let got = values(ema.model().w.val())[0];
        // f32 rounding of ~6e-8 per update.
        assert!((got - want).abs() < 1e-6, "k = {k}: got {got}, want {want}");
    }
    // 1 − 0.9^10 = 0.6513215599 (Python 3.11)
    assert!((values(ema.model().b.val())[0] - 0.6513215599).abs() < 1e-6);
}

#[test]
fn shadow_holds_no_autodiff_graph() {
    let ad = device();
    let model = toy(THETA0_W, THETA0_B, &ad);
    assert!(model.w.val().is_autodiff());
    let mut ema = Ema::new(&model, 0.9).unwrap();
    // Update with a model whose parameters come out of a graph.
    let w = model.w.val() * 2.0;
    let tracked = Toy {
        w: Param::initialized(model.w.id, w),
        b: model.b.clone(),
    };
    ema.update(&tracked).unwrap();
    assert!(!ema.model().w.val().is_autodiff());
    assert!(!ema.model().b.val().is_autodiff());
    assert!(!ema.model().w.val().is_require_grad());
}

#[derive(Module, Debug)]
struct Stack {
    layers: Vec<Linear>,
}

#[test]
fn mismatched_architectures_are_errors_naming_the_path() {
    let ad = device();
    let two = Stack {
        layers: vec![
            LinearConfig::new(2, 2).init(&ad),
            LinearConfig::new(2, 2).init(&ad),
        ],
    };
    let mut three = Stack {
        layers: vec![
            LinearConfig::new(2, 2).init(&ad),
            LinearConfig::new(2, 2).init(&ad),
            LinearConfig::new(2, 2).init(&ad),
        ],
    };
    let mut ema = Ema::new(&two, 0.9).unwrap();
    let before = values(ema.model().layers[0].weight.val());
    let err = ema.update(&three).unwrap_err();
    assert_eq!(
        err,
        EmaError::Mismatch {
            path: "layers.2.weight".to_string(),
            reason: "the model has this parameter but the shadow does not".to_string(),
        }
    );
    // The shadow is untouched by a failed update.
    assert_eq!(values(ema.model().layers[0].weight.val()), before);
    assert_eq!(ema.updates(), 0);

    // Shape mismatch.
    three.layers.truncate(2);
    three.layers[1] = LinearConfig::new(2, 3).init(&ad);
    let err = ema.update(&three).unwrap_err();
    assert!(
        matches!(&err, EmaError::Mismatch { path, .. } if path == "layers.1.weight"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("shape [2, 3] in the model, [2, 2] in the shadow")
    );

    // The shadow has more.
    let mut ema3 = Ema::new(
        &Stack {
            layers: vec![
                LinearConfig::new(2, 2).init(&ad),
                LinearConfig::new(2, 2).init(&ad),
                LinearConfig::new(2, 2).init(&ad),
            ],
        },
        0.9,
    )
    .unwrap();
    let err = ema3.update(&two).unwrap_err();
    assert!(
        matches!(&err, EmaError::Mismatch { path, reason } if path == "layers.2.weight" && reason.contains("shadow has")),
        "{err}"
    );
}

#[test]
fn invalid_decay_is_an_error() {
    let ad = device();
    let model = toy(THETA0_W, THETA0_B, &ad);
    for d in [-0.1, 1.5, f64::NAN] {
        let err = Ema::new(&model, d).unwrap_err();
        assert!(err.to_string().contains("`decay`"), "{err}");
    }
    assert!(Ema::new(&model, 1.0).is_ok());
}

#[test]
fn save_load_round_trip_into_a_fresh_model() {
    let ad = device();
    let model = toy(THETA0_W, THETA0_B, &ad);
    let mut ema = Ema::new(&model, 0.95).unwrap();
    let model = set(model, C_W, C_B);
    for _ in 0..4 {
        ema.update(&model).unwrap();
    }

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ema.save(dir).unwrap();
    assert!(dir.join(EMA_WEIGHTS_FILE).is_file());
    assert!(dir.join(EMA_STATE_FILE).is_file());

    // A freshly built model: other values, other parameter ids.
    let fresh = toy([[9.0, 9.0], [9.0, 9.0]], [9.0, 9.0], &ad);
    let loaded = Ema::load(&fresh, dir).unwrap();
    assert_eq!(
        loaded.state(),
        EmaState {
            decay: 0.95,
            updates: 4,
            warmup: true
        }
    );
    assert_eq!(shadow_values(&loaded), shadow_values(&ema));
    assert!(!loaded.model().w.val().is_autodiff());

    // Both continue identically (matching is by path, not by id).
    let mut loaded = loaded;
    ema.update(&fresh).unwrap();
    loaded.update(&fresh).unwrap();
    assert_eq!(shadow_values(&loaded), shadow_values(&ema));

    // In-memory parts round trip too.
    let bytes = ema.weights_to_bytes().unwrap();
    let again = Ema::from_parts(&fresh, &bytes, ema.state()).unwrap();
    assert_eq!(shadow_values(&again), shadow_values(&ema));

    // Errors name the file.
    std::fs::write(
        dir.join(EMA_STATE_FILE),
        b"{\"decay\": 2.0, \"updates\": 1, \"warmup\": false}",
    )
    .unwrap();
    let err = Ema::load(&fresh, dir).unwrap_err();
    assert!(
        matches!(err, EmaError::State { .. }) && err.to_string().contains(EMA_STATE_FILE),
        "{err}"
    );
    std::fs::remove_file(dir.join(EMA_WEIGHTS_FILE)).unwrap();
    let err = Ema::load(&fresh, dir).unwrap_err();
    assert!(
        matches!(err, EmaError::Io { action: "read", .. })
            && err.to_string().contains(EMA_WEIGHTS_FILE),
        "{err}"
    );
}

#[derive(Module, Debug)]
struct WithCounter {
    w: Param<Tensor<1>>,
    count: Param<Tensor<1, burn::tensor::Int>>,
}

#[test]
fn integer_parameters_are_copied_not_averaged() {
    let ad = device();
    let model = WithCounter {
        w: Param::from_tensor(Tensor::from_data([0.0f32], &ad).require_grad()),
        count: Param::initialized(burn::module::ParamId::new(), Tensor::from_data([3i64], &ad)),
    };
    let mut ema = Ema::new(&model, 0.9).unwrap().with_warmup(false);
    let model = WithCounter {
        w: Param::initialized(model.w.id, Tensor::from_data([10.0f32], &ad).require_grad()),
        count: Param::initialized(model.count.id, Tensor::from_data([7i64], &ad)),
    };
    ema.update(&model).unwrap();
    let count = ema
        .model()
        .count
        .val()
        .into_data()
        .try_into_vec_as::<i64>()
        .unwrap();
    assert_eq!(count, vec![7]);
    // 0.9·0 + 0.1·10 = 1
    assert!((values(ema.model().w.val())[0] - 1.0).abs() < 1e-6);
}
