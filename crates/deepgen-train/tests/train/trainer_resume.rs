//! `--resume` under everything that can make it drift: a warm-up/cosine learning rate, a β
//! weight schedule, device-drawn noise inside `loss` and EMA; falling back past damaged
//! checkpoints; refusing another seed.

use crate::common;

use std::path::Path;

use burn::optim::AdamConfig;
use burn::tensor::Device;
use common::{Reg, net, params, serial, trainer};
use deepgen_train::checkpoint::TrainState;
use deepgen_train::{FitReport, Schedule, TrainError, Trainer};

/// Cosine LR with a 5-step warm-up over 40 steps, β warming up over 15 steps, EMA 0.9.
fn full_featured(out: &Path, epochs: usize) -> Trainer {
    trainer(out, epochs)
        .lr(Schedule::Cosine {
            base: 0.05,
            min: 0.005,
            warmup_steps: 5,
            total_steps: 40,
        })
        .weight_schedule(
            "beta",
            Schedule::LinearWarmup {
                start: 0.0,
                end: 1.0,
                warmup_steps: 15,
            },
        )
        .ema(Some(0.9))
}

fn noisy_task() -> Reg {
    Reg {
        device_noise: true,
        beta_term: true,
        ..Reg::new(10)
    }
}

fn run(t: Trainer, seed: u64, ad: &Device) -> Result<FitReport<common::Net>, TrainError> {
    t.fit(
        &mut noisy_task(),
        net(seed, ad),
        AdamConfig::new().init(),
        ad,
    )
}

fn ema_params(r: &FitReport<common::Net>) -> Vec<f32> {
    params(r.ema_model.as_ref().expect("EMA on"))
}

fn train_losses(out: &Path) -> Vec<f64> {
    common::metrics_lines(out)
        .iter()
        .map(|l| l["train_loss"].as_f64().unwrap())
        .collect()
}

#[test]
fn resume_with_schedules_device_noise_and_ema_equals_an_uninterrupted_run() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let full_dir = tempfile::tempdir().unwrap();
    let full = run(full_featured(full_dir.path(), 4), 1, &ad).unwrap();

    let dir = tempfile::tempdir().unwrap();
    run(full_featured(dir.path(), 2), 1, &ad).unwrap();
    // A new process builds a freshly initialised model: another seed on purpose.
    let resumed = run(full_featured(dir.path(), 4).resume(true), 99, &ad).unwrap();
    assert!(
        resumed
            .resumed_from
            .as_ref()
            .unwrap()
            .ends_with("epoch-0002")
    );

    // Bit-for-bit: same noise (device reseeded from the epoch), same LR and β (functions of the
    // restored step), same Adam moments and EMA (restored from the checkpoint).
    assert_eq!(params(&full.model), params(&resumed.model), "raw weights");
    assert_eq!(ema_params(&full), ema_params(&resumed), "EMA weights");
    assert_ne!(
        params(&full.model),
        ema_params(&full),
        "EMA differs from raw"
    );
    let (a, b) = (train_losses(full_dir.path()), train_losses(dir.path()));
    assert_eq!(a, b, "per-epoch training losses");

    // The noise is really there: the same run without it ends elsewhere.
    let quiet_dir = tempfile::tempdir().unwrap();
    let quiet = full_featured(quiet_dir.path(), 4)
        .fit(
            &mut Reg {
                beta_term: true,
                ..Reg::new(10)
            },
            net(1, &ad),
            AdamConfig::new().init(),
            &ad,
        )
        .unwrap();
    assert_ne!(params(&quiet.model), params(&full.model));
}

/// Trains 3 epochs (checkpoints epoch-0002 and epoch-0003 kept), damages epoch-0003 with
/// `damage`, resumes to 4 epochs and compares with an uninterrupted 4-epoch run.
fn resume_past_damage(damage: impl Fn(&Path), reason_mentions: &str) {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let full_dir = tempfile::tempdir().unwrap();
    let full = run(full_featured(full_dir.path(), 4), 1, &ad).unwrap();

    let dir = tempfile::tempdir().unwrap();
    run(full_featured(dir.path(), 3), 1, &ad).unwrap();
    let ck = dir.path().join("checkpoint");
    damage(&ck.join("epoch-0003"));
    let damaged_files: Vec<(String, Vec<u8>)> = ["model.bpk", "state.json"]
        .iter()
        .map(|f| {
            (
                f.to_string(),
                std::fs::read(ck.join("epoch-0003").join(f)).unwrap(),
            )
        })
        .collect();

    let resumed = run(full_featured(dir.path(), 4).resume(true), 99, &ad).unwrap();
    assert!(
        resumed
            .resumed_from
            .as_ref()
            .unwrap()
            .ends_with("epoch-0002"),
        "{:?}",
        resumed.resumed_from
    );
    assert_eq!(resumed.skipped_checkpoints.len(), 1);
    let skipped = &resumed.skipped_checkpoints[0];
    assert!(skipped.dir.ends_with("epoch-0003"));
    assert!(
        skipped.reason.contains(reason_mentions),
        "reason `{}` should mention {reason_mentions}",
        skipped.reason
    );
    // Continued from epoch 2 and re-trained epoch 3: the result equals the uninterrupted run.
    assert_eq!(params(&full.model), params(&resumed.model));
    assert_eq!(ema_params(&full), ema_params(&resumed));
    let epochs: Vec<u64> = common::metrics_lines(dir.path())
        .iter()
        .map(|l| l["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, [1, 2, 3, 4]);
    // Nothing deleted: the damaged checkpoint was moved aside, byte for byte.
    for (f, bytes) in damaged_files {
        assert_eq!(
            std::fs::read(ck.join("damaged-epoch-0003").join(&f)).unwrap(),
            bytes,
            "{f}"
        );
    }
}

#[test]
fn resume_falls_back_past_a_truncated_model_file() {
    resume_past_damage(
        |dir| {
            let path = dir.join("model.bpk");
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        },
        "model.bpk",
    );
}

#[test]
fn resume_falls_back_past_an_unparsable_state_file() {
    resume_past_damage(
        |dir| std::fs::write(dir.join("state.json"), "{\"format\": 1, \"epo").unwrap(),
        "state.json",
    );
}

#[test]
fn no_intact_checkpoint_is_an_error_that_deletes_nothing() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    run(full_featured(dir.path(), 2), 1, &ad).unwrap();
    let ck = dir.path().join("checkpoint");
    for e in ["epoch-0001", "epoch-0002"] {
        std::fs::write(ck.join(e).join("optim.bpk"), b"not a burnpack").unwrap();
    }
    let err = run(full_featured(dir.path(), 3).resume(true), 1, &ad).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("no intact checkpoint")
            && msg.contains("epoch-0001")
            && msg.contains("epoch-0002")
            && msg.contains("optim.bpk"),
        "{msg}"
    );
    for e in ["epoch-0001", "epoch-0002"] {
        assert!(ck.join(e).join("model.bpk").exists(), "{e} kept");
    }
}

#[test]
fn resuming_with_another_seed_names_both_seeds() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    run(full_featured(dir.path(), 1), 1, &ad).unwrap();
    let err = run(full_featured(dir.path(), 2).seed(4).resume(true), 1, &ad).unwrap_err();
    assert!(matches!(err, TrainError::Config { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("`seed`")
            && msg.contains("--seed 3")
            && msg.contains("--seed 4")
            && msg.contains("pass the same seed"),
        "{msg}"
    );
}

#[test]
fn state_json_is_strict_and_has_no_rng_state() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    run(full_featured(dir.path(), 1), 1, &ad).unwrap();
    let ck = dir.path().join("checkpoint");
    let text = std::fs::read_to_string(ck.join("epoch-0001/state.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["epoch"], 1);
    assert_eq!(v["step"], 10);
    assert_eq!(v["seed"], 3);
    assert!(v.get("rng").is_none(), "{v}");
    let latest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ck.join("latest.json")).unwrap()).unwrap();
    assert_eq!(latest["dir"], "epoch-0001");

    // A non-finite elapsed time is written as null with its reason and read back.
    let state = TrainState {
        format: 1,
        epoch: 2,
        step: 20,
        seed: 3,
        elapsed_s: f64::INFINITY,
    };
    let text = serde_json::to_string(&state).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(v["elapsed_s"].is_null());
    assert_eq!(v["non_finite"]["elapsed_s"], "inf");
    assert_eq!(serde_json::from_str::<TrainState>(&text).unwrap(), state);
    // Format-1 files written before this change (with `rng`) still read.
    let old = r#"{"format":1,"epoch":2,"step":20,"seed":3,"rng":[1,2,3,4],"elapsed_s":1.5}"#;
    assert_eq!(
        serde_json::from_str::<TrainState>(old).unwrap().elapsed_s,
        1.5
    );
}
