//! `Task::before_first_step` and `Task::after_step`: called the right number of times, not
//! re-run on resume, their changes reach the optimizer, and a changed `ParamId` is refused.

use crate::common;

use burn::optim::AdamConfig;
use burn::tensor::Device;
use common::{Reg, net, params, serial, set_same_id, trainer};
use deepgen_train::TrainError;

#[test]
fn before_first_step_runs_once_with_the_first_batch_and_its_change_is_trained() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    // Run A: the hook sets b.bias = 5 before the first step.
    let dir_a = tempfile::tempdir().unwrap();
    let mut task_a = Reg {
        first_step_bias: Some(5.0),
        ..Reg::new(6)
    };
    let a = trainer(dir_a.path(), 2)
        .fit(&mut task_a, net(1, &ad), AdamConfig::new().init(), &ad)
        .unwrap();
    assert_eq!(task_a.before_calls.len(), 1, "once per run, not per epoch");
    // It saw the first batch: the first x the loop's epoch-0 host stream draws.
    let mut rng = deepgen_tensor::HostRng::stream(3, deepgen_tensor::Stream::Epoch(0));
    assert_eq!(task_a.before_calls[0], rng.normal() as f32);
    let seen = task_a.seen_in_loss.borrow();
    assert_eq!(seen[0][3], 5.0, "the first loss sees the hook's bias");
    assert_ne!(
        params(&a.model)[3],
        5.0,
        "and the bias is trained from there"
    );

    // Run B: the same change made before `fit`, no hook. Identical trajectory means the
    // hook's parameter kept its id (Adam's state attached) and nothing else differed.
    let dir_b = tempfile::tempdir().unwrap();
    let mut model = net(1, &ad);
    model.b.bias = model.b.bias.map(|p| set_same_id(p, 5.0));
    let b = trainer(dir_b.path(), 2)
        .fit(&mut Reg::new(6), model, AdamConfig::new().init(), &ad)
        .unwrap();
    assert_eq!(params(&a.model), params(&b.model));
}

#[test]
fn before_first_step_does_not_run_again_on_resume() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let task = || Reg {
        first_step_bias: Some(5.0),
        ..Reg::new(6)
    };
    let full_dir = tempfile::tempdir().unwrap();
    let full = trainer(full_dir.path(), 3)
        .fit(&mut task(), net(1, &ad), AdamConfig::new().init(), &ad)
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut first = task();
    trainer(dir.path(), 1)
        .fit(&mut first, net(1, &ad), AdamConfig::new().init(), &ad)
        .unwrap();
    assert_eq!(first.before_calls.len(), 1);
    let mut second = task();
    let resumed = trainer(dir.path(), 3)
        .resume(true)
        .fit(&mut second, net(2, &ad), AdamConfig::new().init(), &ad)
        .unwrap();
    assert!(second.before_calls.is_empty(), "not re-run on --resume");
    // Re-running it would have reset b.bias to 5 and broken the equality.
    assert_eq!(params(&full.model), params(&resumed.model));

    // `--resume` with no checkpoint yet is a fresh start: the hook runs.
    let empty = tempfile::tempdir().unwrap();
    let mut third = task();
    trainer(empty.path(), 1)
        .resume(true)
        .fit(&mut third, net(1, &ad), AdamConfig::new().init(), &ad)
        .unwrap();
    assert_eq!(third.before_calls.len(), 1);
}

#[test]
fn after_step_runs_after_every_step_and_its_change_survives() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let mut task = Reg {
        zero_a_after: Some(3),
        ..Reg::new(5)
    };
    let report = trainer(dir.path(), 2)
        .ema(Some(0.5))
        .fit(&mut task, net(1, &ad), AdamConfig::new().init(), &ad)
        .unwrap();
    assert_eq!(task.after_steps, (0..10).collect::<Vec<u64>>());
    let seen = task.seen_in_loss.borrow();
    assert_eq!(seen.len(), 10);
    // The hook ran after step 3's update and before step 4's loss...
    assert_ne!(task.raw_after_step[3][0], 0.0);
    assert_eq!(seen[4][0], 0.0, "step 4 sees the reset weight");
    // ...and the optimizer keeps training it (its Adam state still attached).
    assert_ne!(seen[5][0], 0.0);
    assert_ne!(params(&report.model)[0], 0.0);
    assert_eq!(task.raw_after_step[9], params(&report.model));
}

#[test]
fn a_hook_that_changes_a_param_id_is_refused() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let mut task = Reg {
        fresh_id_after_step: true,
        ..Reg::new(3)
    };
    let err = trainer(dir.path(), 1)
        .fit(&mut task, net(1, &ad), AdamConfig::new().init(), &ad)
        .unwrap_err();
    match &err {
        TrainError::HookChangedParams { hook, param, .. } => {
            assert_eq!((*hook, param.as_str()), ("after_step", "a.weight"));
        }
        other => panic!("expected HookChangedParams, got {other}"),
    }
    assert!(err.to_string().contains("Param::map"), "{err}");
    assert_eq!(task.after_steps, [0], "stopped at the first offending step");
}
