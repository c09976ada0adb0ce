//! Values of `deepgen_train::schedule::Schedule` at boundary steps, the text
//! round trip, and the errors for bad input.

use deepgen_tensor::Validate;
use deepgen_train::schedule::{Schedule, ScheduleError};

/// Relative closeness for values computed through `cos` (f64 on both sides).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1e-300)
}

#[test]
fn constant_is_constant() {
    let s: Schedule = "0.001".parse().unwrap();
    assert_eq!(s, Schedule::Constant(0.001));
    for step in [0, 1, 10, u64::MAX] {
        assert_eq!(s.value(step), 0.001);
    }
    assert_eq!(
        "constant:2.5".parse::<Schedule>().unwrap(),
        Schedule::Constant(2.5)
    );
}

#[test]
fn linear_warmup_boundaries() {
    let s: Schedule = "linear:0:1:10000".parse().unwrap();
    assert_eq!(
        s,
        Schedule::LinearWarmup {
            start: 0.0,
            end: 1.0,
            warmup_steps: 10_000
        }
    );
    // Hand-computed: start + (end - start) * step / warmup.
    assert_eq!(s.value(0), 0.0);
    assert_eq!(s.value(2_500), 0.25);
    assert_eq!(s.value(5_000), 0.5);
    assert_eq!(s.value(9_999), 0.9999);
    assert_eq!(s.value(10_000), 1.0);
    assert_eq!(s.value(1_000_000), 1.0);

    // Decreasing ramps work too: 2 -> 1 over 4 steps.
    let down = Schedule::LinearWarmup {
        start: 2.0,
        end: 1.0,
        warmup_steps: 4,
    };
    assert_eq!(down.value(1), 1.75);
    // No warm-up: `end` from the first step.
    let none = Schedule::LinearWarmup {
        start: 0.0,
        end: 3.0,
        warmup_steps: 0,
    };
    assert_eq!(none.value(0), 3.0);
}

#[test]
fn cosine_boundaries_and_midpoint() {
    let s: Schedule = "cosine:1e-3:1e-5:500:100000".parse().unwrap();
    // Reference values from Python 3.11 `math`:
    //   f(s) = base*s/w                                    for s < w
    //        = min + (base-min)*0.5*(1+cos(pi*(s-w)/(T-w))) for w <= s < T
    //        = min                                         for s >= T
    // with base=1e-3, min=1e-5, w=500, T=100000.
    let reference = [
        (0, 0.0),
        (1, 2e-06),
        (250, 0.0005),
        (499, 0.000998),
        (500, 0.001), // warm-up end = base
        (25_375, 0.000855017856687341),
        (50_250, 0.000505), // decay midpoint = (base + min) / 2
        (75_125, 0.000154982143312659),
        (99_999, 1.000000024673388e-05),
        (100_000, 1e-05),
    ];
    for (step, want) in reference {
        let got = s.value(step);
        assert!(close(got, want), "step {step}: got {got}, want {want}");
    }
    // Midpoint by the closed form, independently of the table above.
    assert!(close(s.value(50_250), (1e-3 + 1e-5) / 2.0));
    assert_eq!(s.value(10_000_000), 1e-5);

    // No warm-up: step 0 is already `base`.
    let no_warmup = Schedule::Cosine {
        base: 1.0,
        min: 0.0,
        warmup_steps: 0,
        total_steps: 100,
    };
    assert_eq!(no_warmup.value(0), 1.0);
    assert!(close(no_warmup.value(50), 0.5));
}

#[test]
fn cyclical_period_boundaries() {
    let s: Schedule = "cyclical:0:1:10000:0.5".parse().unwrap();
    // Hand-computed from Fu et al. (2019) eq. 6 with tau = (step mod 10000)/10000:
    // rises 0 -> 1 over the first 5000 steps of each period, then holds 1.
    let reference = [
        (0, 0.0),
        (2_500, 0.5),
        (4_999, 0.9998),
        (5_000, 1.0),
        (7_500, 1.0),
        (9_999, 1.0),
        (10_000, 0.0), // next period starts over
        (12_500, 0.5),
        (30_000, 0.0),
    ];
    for (step, want) in reference {
        let got = s.value(step);
        assert!(
            (got - want).abs() < 1e-15,
            "step {step}: got {got}, want {want}"
        );
    }
    // ratio = 1: one ramp over the whole period, back to min at the boundary.
    let full = Schedule::Cyclical {
        min: 0.5,
        max: 1.0,
        period: 4,
        ratio: 1.0,
    };
    let got: Vec<f64> = (0..5).map(|s| full.value(s)).collect();
    assert_eq!(got, vec![0.5, 0.625, 0.75, 0.875, 0.5]);
}

#[test]
fn display_round_trips() {
    let schedules = [
        Schedule::Constant(0.001),
        Schedule::Constant(-2.0),
        Schedule::Constant(1e-300),
        Schedule::LinearWarmup {
            start: 0.0,
            end: 1.0,
            warmup_steps: 10_000,
        },
        Schedule::Cosine {
            base: 1e-3,
            min: 1e-5,
            warmup_steps: 500,
            total_steps: 100_000,
        },
        Schedule::Cyclical {
            min: 0.0,
            max: 1.0,
            period: 10_000,
            ratio: 0.5,
        },
        Schedule::Cyclical {
            min: 0.1,
            max: 0.7,
            period: 3,
            ratio: 1.0 / 3.0,
        },
    ];
    for s in schedules {
        let text = s.to_string();
        let back: Schedule = text
            .parse()
            .unwrap_or_else(|e| panic!("`{text}` did not parse: {e}"));
        assert_eq!(back, s, "round trip of `{text}`");
    }
    assert_eq!(
        Schedule::Cosine {
            base: 1e-3,
            min: 1e-5,
            warmup_steps: 500,
            total_steps: 100_000
        }
        .to_string(),
        "cosine:0.001:0.00001:500:100000"
    );
}

#[test]
fn serde_round_trips() {
    let s: Schedule = "cyclical:0:1:10000:0.5".parse().unwrap();
    let json = serde_json::to_string(&s).unwrap();
    let back: Schedule = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
}

#[test]
fn step_counts_accept_integral_scientific_notation() {
    let s: Schedule = "cosine:1e-3:1e-5:5e2:1e5".parse().unwrap();
    assert_eq!(
        s,
        Schedule::Cosine {
            base: 1e-3,
            min: 1e-5,
            warmup_steps: 500,
            total_steps: 100_000
        }
    );
}

#[test]
fn validation_errors_name_the_field() {
    let cases: Vec<(Schedule, &str, &str)> = vec![
        (
            Schedule::Cyclical {
                min: 0.0,
                max: 1.0,
                period: 0,
                ratio: 0.5,
            },
            "period",
            "is 0",
        ),
        (
            Schedule::Cyclical {
                min: 0.0,
                max: 1.0,
                period: 10,
                ratio: 0.0,
            },
            "ratio",
            "must lie in (0, 1]",
        ),
        (
            Schedule::Cyclical {
                min: 0.0,
                max: 1.0,
                period: 10,
                ratio: 1.5,
            },
            "ratio",
            "is 1.5",
        ),
        (
            Schedule::Cosine {
                base: 1.0,
                min: 0.0,
                warmup_steps: 10,
                total_steps: 5,
            },
            "total_steps",
            "less than `warmup_steps` = 10",
        ),
        (
            Schedule::Cosine {
                base: 1.0,
                min: 0.0,
                warmup_steps: 0,
                total_steps: 0,
            },
            "total_steps",
            "at least 1 step",
        ),
        (
            Schedule::LinearWarmup {
                start: 0.0,
                end: f64::INFINITY,
                warmup_steps: 3,
            },
            "end",
            "is inf",
        ),
        (
            Schedule::Cosine {
                base: f64::NAN,
                min: 0.0,
                warmup_steps: 0,
                total_steps: 10,
            },
            "base",
            "is NaN",
        ),
        (
            Schedule::Exponential {
                start: 1.0,
                rate: -1.0,
                min: 0.5,
            },
            "rate",
            "must be ≥ 0",
        ),
    ];
    for (schedule, field, reason) in cases {
        let got = schedule.validate().unwrap_err();
        assert_eq!(
            (got.config, got.field.as_str()),
            ("Schedule", field),
            "{got}"
        );
        assert!(got.reason.contains(reason), "`{got}` should say `{reason}`");
        assert!(
            got.to_string().starts_with(&format!("Schedule.{field}: ")),
            "{got}"
        );
    }
    for ok in [
        Schedule::Constant(1e-3),
        "cosine:1e-3:1e-5:500:100000".parse().unwrap(),
        "cyclical:0:1:10000:0.5".parse().unwrap(),
    ] {
        assert_eq!(ok.validate(), Ok(()));
    }
}

#[test]
fn parse_errors_show_the_syntax() {
    let bad = [
        ("", "empty"),
        ("fast", "neither a number nor a schedule kind"),
        ("linear:0:1", "takes 3 fields"),
        ("cosine:1e-3:1e-5:500:100000:7", "takes 4 fields"),
        ("cosine:abc:1e-5:500:100000", "`BASE` = `abc`"),
        ("linear:0:1:-5", "`WARMUP_STEPS` = `-5`"),
        ("linear:0:1:2.5", "`WARMUP_STEPS` = `2.5`"),
        ("warmup:0:1:10", "unknown schedule kind `warmup`"),
    ];
    for (text, reason) in bad {
        let err = text.parse::<Schedule>().unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, ScheduleError::Parse { .. }),
            "`{text}`: {msg}"
        );
        assert!(msg.contains(reason), "`{text}`: `{msg}` lacks `{reason}`");
        assert!(
            msg.contains("cosine:BASE:MIN:WARMUP_STEPS:TOTAL_STEPS"),
            "`{text}`: `{msg}` does not show the syntax"
        );
    }
    // Parsing validates: a well-formed but invalid schedule is a validation error.
    match "cyclical:0:1:0:0.5".parse::<Schedule>().unwrap_err() {
        ScheduleError::Invalid(e) => assert_eq!(e.field, "period"),
        other => panic!("expected an invalid period, got {other}"),
    }
    let err = "nan".parse::<Schedule>().unwrap_err();
    assert!(
        matches!(&err, ScheduleError::Invalid(e) if e.field == "value"),
        "{err}"
    );
    assert!(err.to_string().contains("Schedule.value"), "{err}");
}
