//! The example driver `Run`: common flags over the example's defaults, fit, the evaluation
//! model (EMA when on), and an `eval.json` that a strict parser reads even when a metric is
//! missing or not finite.

use crate::common;

use clap::Parser;
use common::{Reg, metrics_lines, net, params, serial};
use deepgen_train::{CommonArgs, EvalReport, Run, RunDefaults, RunError, Schedule};

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
}

fn args(extra: &[&str]) -> CommonArgs {
    Cli::try_parse_from(std::iter::once("example").chain(extra.iter().copied()))
        .unwrap()
        .common
}

fn defaults() -> RunDefaults<'static> {
    RunDefaults {
        name: "driver_test",
        out_dir: "runs/never-used-because-out-is-given",
        plot_title: "driver test: loss",
        epochs: 2,
        batch_size: 8,
        lr: Schedule::Constant(0.05),
        num_samples: 4,
        ..RunDefaults::default()
    }
}

#[test]
fn fit_then_report_writes_strict_json_with_every_entry_accounted_for() {
    let _lock = serial();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let common = args(&[
        "--device",
        "flex",
        "--seed",
        "3",
        "--ema",
        "0.5",
        "--out",
        out.to_str().unwrap(),
    ]);
    let mut run = Run::start(&common, defaults()).unwrap();
    assert_eq!((run.seed, run.batch_size), (3, 8));
    assert_eq!(run.out_dir(), out);
    assert!(run.device.is_autodiff() && !run.eval_device().is_autodiff());
    run.trainer = run.trainer.clone().progress(false);

    let mut task = Reg::new(3);
    task.eval_non_finite = true;
    let fitted = run
        .fit(
            &mut task,
            net(3, &run.device),
            burn::optim::SgdConfig::new().init(),
        )
        .unwrap();
    assert_eq!(fitted.epochs_completed, 2);
    // EMA was on: the evaluation model is the EMA shadow, not the raw weights.
    let ema = params(fitted.ema_model.as_ref().unwrap());
    assert_eq!(params(&fitted.eval_model()), ema);
    assert_ne!(params(&fitted.model), ema);

    let mut report = EvalReport::new();
    fitted.push_last(
        &mut report,
        &["test_loss", "test_nll", "test_never_recorded"],
    );
    report.push("per_digit", vec![0.5, f64::INFINITY, 0.25]);
    let path = run.finish(&report).unwrap();
    assert_eq!(path, out.join("eval.json"));

    let text = std::fs::read_to_string(&path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).expect("eval.json is strict JSON");
    let last_test_loss = metrics_lines(&out).last().unwrap()["test_loss"]
        .as_f64()
        .unwrap();
    assert_eq!(v["test_loss"].as_f64().unwrap(), last_test_loss);
    assert!(v["test_nll"].is_null());
    assert_eq!(v["non_finite"]["test_nll"], "NaN");
    assert!(v["test_never_recorded"].is_null());
    assert!(
        v["missing"]["test_never_recorded"]
            .as_str()
            .unwrap()
            .contains("not in the last epoch's metrics")
    );
    assert_eq!(v["per_digit"], serde_json::json!([0.5, null, 0.25]));
    assert_eq!(v["non_finite"]["per_digit[1]"], "inf");
    // And back: the list keeps its infinity.
    let back = EvalReport::read(&path).unwrap();
    assert_eq!(
        back.get("per_digit"),
        Some(&deepgen_train::ReportValue::List(vec![
            0.5,
            f64::INFINITY,
            0.25
        ]))
    );
}

#[test]
fn common_flags_override_the_example_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let common = args(&[
        "--device",
        "flex",
        "--batch-size",
        "32",
        "--epochs",
        "7",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let run = Run::start(&common, defaults()).unwrap();
    assert_eq!(run.batch_size, 32);
    assert_eq!(run.trainer.num_epochs(), 7);
    assert_eq!(run.out_dir(), dir.path());
}

#[test]
fn an_unknown_device_is_a_device_error_naming_the_choices() {
    let common = args(&["--device", "tpu"]);
    match Run::start(&common, defaults()) {
        Err(e @ RunError::Device(_)) => {
            let msg = e.to_string();
            assert!(msg.contains("tpu") && msg.contains("flex"), "{msg}");
        }
        Err(e) => panic!("expected a device error, got {e}"),
        Ok(_) => panic!("`--device tpu` was accepted"),
    }
}
