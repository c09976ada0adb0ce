//! Config validation: every invalid field is reported as a `ConfigError` naming the config and
//! the field, by `validate`, `try_init` and (as a panic message) `init`.

use burn::tensor::Device;
use deepgen_flows::{AfPriorConfig, ArStepConfig, IafFlowConfig, MadeConfig, MadeOrder};
use deepgen_tensor::{ConfigError, Validate};

/// `"{config}.{field}"` of the error.
fn at(e: ConfigError) -> String {
    format!("{}.{}", e.config, e.field)
}

#[test]
fn made_config_names_the_bad_field() {
    let _serial = crate::common::serial();
    let ok = MadeConfig::new(3, vec![4, 4], 2);
    assert_eq!(ok.validate(), Ok(()));
    let cases = [
        (MadeConfig::new(0, vec![4], 2), "MadeConfig.input_dim"),
        (MadeConfig::new(3, vec![4, 0], 2), "MadeConfig.hidden[1]"),
        (MadeConfig::new(3, vec![4], 0), "MadeConfig.outputs_per_dim"),
        (
            ok.clone().with_order(MadeOrder::Custom(vec![0, 0, 1])),
            "MadeConfig.order",
        ),
        (
            ok.clone().with_order(MadeOrder::Custom(vec![0, 1])),
            "MadeConfig.order",
        ),
        (
            ok.clone().with_output_init_scale(f64::NAN),
            "MadeConfig.output_init_scale",
        ),
    ];
    for (cfg, field) in cases {
        assert_eq!(at(cfg.validate().unwrap_err()), field);
    }
    let e = MadeConfig::new(3, vec![4], 2)
        .with_order(MadeOrder::Custom(vec![2, 2, 0]))
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("not a permutation of 0..3"), "{e}");
}

#[test]
fn ar_step_config_names_the_bad_field() {
    let _serial = crate::common::serial();
    let ok = ArStepConfig::new(2, vec![8]);
    assert_eq!(ok.validate(), Ok(()));
    let cases = [
        (ArStepConfig::new(0, vec![8]), "ArStepConfig.input_dim"),
        (ArStepConfig::new(2, vec![0]), "ArStepConfig.hidden[0]"),
        (ok.clone().with_alpha_bound(0.0), "ArStepConfig.alpha_bound"),
        (
            ok.clone().with_alpha_bound(f64::INFINITY),
            "ArStepConfig.alpha_bound",
        ),
        (
            ok.clone().with_forget_bias(f64::NAN),
            "ArStepConfig.forget_bias",
        ),
        (
            ok.clone().with_order(MadeOrder::Custom(vec![1])),
            "ArStepConfig.order",
        ),
    ];
    for (cfg, field) in cases {
        assert_eq!(at(cfg.validate().unwrap_err()), field);
    }
}

#[test]
fn stack_configs_name_their_own_fields() {
    let _serial = crate::common::serial();
    let iaf = IafFlowConfig::new(2, 2, vec![8]);
    assert_eq!(iaf.validate(), Ok(()));
    for (cfg, field) in [
        (
            IafFlowConfig::new(0, 2, vec![8]),
            "IafFlowConfig.latent_dim",
        ),
        (IafFlowConfig::new(2, 0, vec![8]), "IafFlowConfig.n_steps"),
        (
            IafFlowConfig::new(2, 2, vec![8, 0]),
            "IafFlowConfig.hidden[1]",
        ),
        (
            iaf.clone().with_forget_bias(f64::NEG_INFINITY),
            "IafFlowConfig.forget_bias",
        ),
        (
            iaf.clone().with_output_init_scale(f64::NAN),
            "IafFlowConfig.output_init_scale",
        ),
    ] {
        assert_eq!(at(cfg.validate().unwrap_err()), field);
    }
    let prior = AfPriorConfig::new(2, 2, vec![8]);
    assert_eq!(prior.validate(), Ok(()));
    for (cfg, field) in [
        (
            AfPriorConfig::new(0, 2, vec![8]),
            "AfPriorConfig.latent_dim",
        ),
        (AfPriorConfig::new(2, 0, vec![8]), "AfPriorConfig.n_steps"),
        (
            prior.clone().with_alpha_bound(-1.0),
            "AfPriorConfig.alpha_bound",
        ),
    ] {
        assert_eq!(at(cfg.validate().unwrap_err()), field);
    }
}

#[test]
fn try_init_returns_the_error_and_init_panics_with_it() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    assert_eq!(
        at(ArStepConfig::new(2, vec![8])
            .with_alpha_bound(0.0)
            .try_init_maf(&dev)
            .unwrap_err()),
        "ArStepConfig.alpha_bound"
    );
    // The IAF step ignores `alpha_bound`, but a config is valid or not as a whole.
    assert!(
        ArStepConfig::new(2, vec![8])
            .with_alpha_bound(0.0)
            .try_init_iaf(&dev)
            .is_err()
    );
    assert_eq!(
        at(IafFlowConfig::new(2, 0, vec![8])
            .try_init(&dev)
            .unwrap_err()),
        "IafFlowConfig.n_steps"
    );
    assert_eq!(
        at(MadeConfig::new(2, vec![0], 2).try_init(&dev).unwrap_err()),
        "MadeConfig.hidden[0]"
    );
    // Valid configs build flows of the requested layout: step, reversal, step, reversal, step.
    let flow = IafFlowConfig::new(2, 3, vec![8]).try_init(&dev).unwrap();
    assert_eq!((flow.dim, flow.steps.len()), (2, 5));
    let prior = AfPriorConfig::new(3, 2, vec![8]).try_init(&dev).unwrap();
    assert_eq!((prior.dim(), prior.flow.steps.len()), (3, 3));

    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        AfPriorConfig::new(2, 0, vec![8]).init(&dev)
    }))
    .unwrap_err();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("AfPriorConfig.n_steps"), "{msg}");
}
