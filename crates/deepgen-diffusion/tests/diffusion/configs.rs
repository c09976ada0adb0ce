//! Every config's `validate` / `try_init` rejects bad input with a `ConfigError` naming the
//! field.

use deepgen_diffusion::{
    AnalyticDpmConfig, BetaSchedule, DdimConfig, DdpmConfig, DpmSolverConfig, LossWeighting,
    NoiseScheduleConfig, SampleClipping, Spacing,
};
use deepgen_tensor::{ConfigError, Validate};

use crate::common::linear_1000;

fn field<T>(r: Result<T, ConfigError>) -> String {
    match r {
        Ok(_) => panic!("expected a ConfigError"),
        Err(e) => e.field,
    }
}

#[test]
fn noise_schedule_config() {
    let _serial = crate::common::serial();
    let c = NoiseScheduleConfig::new;
    assert!(c().validate().is_ok());
    assert_eq!(field(c().with_num_timesteps(0).try_init()), "num_timesteps");
    // Ho et al.'s β_T = 0.02 scaled to T = 10 is 2.
    let e = c().with_num_timesteps(10).try_init().unwrap_err();
    assert_eq!(e.field, "schedule.beta_end");
    assert!(
        e.to_string()
            .starts_with("NoiseScheduleConfig.schedule.beta_end: "),
        "{e}"
    );
    let linear = |beta_start, beta_end| {
        c().with_schedule(BetaSchedule::Linear {
            beta_start,
            beta_end,
        })
    };
    assert_eq!(field(linear(-1e-4, 0.02).try_init()), "schedule.beta_start");
    assert_eq!(
        field(linear(1e-4, f64::NAN).try_init()),
        "schedule.beta_end"
    );
    assert_eq!(field(linear(1e-4, 1.5).try_init()), "schedule.beta_end");
    let cosine = |s, max_beta| c().with_schedule(BetaSchedule::Cosine { s, max_beta });
    assert_eq!(field(cosine(-0.1, 0.999).try_init()), "schedule.s");
    assert_eq!(field(cosine(0.008, 1.0).try_init()), "schedule.max_beta");
    assert_eq!(field(cosine(0.008, 0.0).try_init()), "schedule.max_beta");
    let sigmoid = |start, end, tau| c().with_schedule(BetaSchedule::Sigmoid { start, end, tau });
    assert_eq!(field(sigmoid(3.0, -3.0, 1.0).try_init()), "schedule.end");
    assert_eq!(
        field(sigmoid(f64::INFINITY, 3.0, 1.0).try_init()),
        "schedule.start"
    );
    assert_eq!(field(sigmoid(-3.0, 3.0, 0.0).try_init()), "schedule.tau");
    // So steep that ᾱ underflows to 0 half-way: β is NaN there.
    assert_eq!(field(sigmoid(-3.0, 3.0, 1e-3).try_init()), "schedule");
    assert!(sigmoid(-3.0, 3.0, 1.0).try_init().is_ok());
}

#[test]
#[should_panic(expected = "NoiseScheduleConfig.num_timesteps: must be at least 1, got 0")]
fn init_panics_with_the_field() {
    let _serial = crate::common::serial();
    NoiseScheduleConfig::new().with_num_timesteps(0).init();
}

#[test]
fn sampler_configs() {
    let _serial = crate::common::serial();
    let s = linear_1000();
    // DDIM
    assert!(DdimConfig::new(50).try_init(&s).is_ok());
    assert_eq!(
        field(DdimConfig::new(0).try_init(&s)),
        "num_inference_steps"
    );
    assert_eq!(
        field(DdimConfig::new(1001).try_init(&s)),
        "num_inference_steps"
    );
    for eta in [-0.1, 1.5, f64::NAN] {
        let e = DdimConfig::new(10).with_eta(eta).try_init(&s).unwrap_err();
        assert_eq!(e.field, "eta");
        assert!(
            e.to_string()
                .starts_with("DdimConfig.eta: must be in [0, 1]")
        );
    }
    assert_eq!(
        field(DdimConfig::new(10).with_steps_offset(100).try_init(&s)),
        "steps_offset"
    );
    assert_eq!(
        field(
            DdimConfig::new(50)
                .with_spacing(Spacing::Quadratic)
                .try_init(&s)
        ),
        "num_inference_steps"
    );
    let clip = |c: SampleClipping| DdimConfig::new(10).with_clipping(c).try_init(&s);
    assert_eq!(
        field(clip(SampleClipping::Clip { range: 0.0 })),
        "clipping.range"
    );
    assert_eq!(
        field(clip(SampleClipping::DynamicThreshold {
            ratio: 0.0,
            max_value: 1.0
        })),
        "clipping.ratio"
    );
    assert_eq!(
        field(clip(SampleClipping::DynamicThreshold {
            ratio: 0.995,
            max_value: 0.5
        })),
        "clipping.max_value"
    );
    // DDPM and DPM-Solver++
    assert_eq!(
        field(DdpmConfig::new(0).try_init(&s)),
        "num_inference_steps"
    );
    assert_eq!(
        field(DdpmConfig::new(2000).try_init(&s)),
        "num_inference_steps"
    );
    assert_eq!(
        field(
            DdpmConfig::new(10)
                .with_clipping(SampleClipping::Clip { range: -1.0 })
                .try_init(&s)
        ),
        "clipping.range"
    );
    assert_eq!(
        field(DpmSolverConfig::new(0).try_init(&s)),
        "num_inference_steps"
    );
    assert_eq!(
        field(DpmSolverConfig::new(1001).try_init(&s)),
        "num_inference_steps"
    );
    assert!(DpmSolverConfig::new(1000).try_init(&s).is_ok());
}

#[test]
fn loss_and_analytic_configs() {
    let _serial = crate::common::serial();
    assert!(LossWeighting::Uniform.validate().is_ok());
    assert!(LossWeighting::MinSnr { gamma: 5.0 }.validate().is_ok());
    for gamma in [0.0, -1.0, f64::INFINITY] {
        let e = LossWeighting::MinSnr { gamma }.validate().unwrap_err();
        assert_eq!((e.config, e.field.as_str()), ("LossWeighting", "gamma"));
    }
    let c = AnalyticDpmConfig::new;
    assert!(c().validate().is_ok());
    assert_eq!(field(c().with_eta(1.1).validate()), "eta");
    assert_eq!(field(c().with_data_max(-1.0).validate()), "data_max");
    assert_eq!(field(c().with_data_min(f64::NAN).validate()), "data_min");
    assert_eq!(
        field(c().with_clip_pixels(Some(0.0)).validate()),
        "clip_pixels"
    );
}

#[test]
fn configs_round_trip_through_json() {
    let _serial = crate::common::serial();
    // Burn's Config derive: what a run saves is what it loads.
    let c = DdimConfig::new(25)
        .with_eta(0.3)
        .with_spacing(Spacing::Trailing)
        .with_clipping(SampleClipping::DynamicThreshold {
            ratio: 0.995,
            max_value: 1.5,
        });
    let json = c.to_string();
    let back: DdimConfig = from_json(&json);
    assert_eq!(back.eta, 0.3);
    assert_eq!(back.spacing, Spacing::Trailing);
    assert_eq!(back.clipping, c.clipping);
    let n = NoiseScheduleConfig::new().with_schedule(BetaSchedule::cosine());
    let back: NoiseScheduleConfig = from_json(&n.to_string());
    assert_eq!(back.schedule, BetaSchedule::cosine());
}

fn from_json<C: burn::config::Config>(json: &str) -> C {
    C::load_binary(json.as_bytes()).expect("config parses")
}
