//! Step schedules for the learning rate and for loss weights (a VAE's KL weight β).
//!
//! # Design
//!
//! A [`Schedule`] is a *pure function of the step*: [`Schedule::value`] takes the
//! step and returns an `f64`, with no internal counter. The training loop passes
//! the **global optimizer step** — the number of optimizer steps already taken
//! (0 for the first update, not the epoch and not the batch index within an
//! epoch) — so that a run resumed from a checkpoint at step `s` sees exactly the
//! values an uninterrupted run would have seen, with no scheduler state to save.
//! Burn's own `LrScheduler`s are stateful iterators (`step()` advances them) and
//! only produce learning rates; the same `Schedule` here drives both the learning
//! rate and β, and is computed on the host in `f64`.
//!
//! # Command-line syntax
//!
//! [`Schedule`] implements [`FromStr`] and [`Display`](fmt::Display), and
//! `schedule.to_string().parse()` returns the same schedule. Fields are separated
//! by `:`; numbers are anything Rust's `f64` parser accepts (`0.001`, `1e-3`);
//! step counts are non-negative integers (`100000`, or `1e5` if it is integral):
//!
//! | text | schedule |
//! | --- | --- |
//! | `0.001` or `constant:0.001` | [`Schedule::Constant`] |
//! | `linear:START:END:WARMUP_STEPS`, e.g. `linear:0:1:10000` | [`Schedule::LinearWarmup`] |
//! | `cosine:BASE:MIN:WARMUP_STEPS:TOTAL_STEPS`, e.g. `cosine:1e-3:1e-5:500:100000` | [`Schedule::Cosine`] |
//! | `cyclical:MIN:MAX:PERIOD:RATIO`, e.g. `cyclical:0:1:10000:0.5` | [`Schedule::Cyclical`] |
//! | `exp:START:RATE:MIN`, e.g. `exp:1:1e-4:0.5` | [`Schedule::Exponential`] |
//!
//! Parsing validates the result with [`Validate::validate`] (a [`ConfigError`] naming
//! `Schedule.<field>`, wrapped in [`ScheduleError::Invalid`]).

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

use deepgen_tensor::{ConfigError, Validate};

/// The accepted command-line forms, quoted in every parse error.
pub const SCHEDULE_SYNTAX: &str = "expected one of: `VALUE` or `constant:VALUE` (e.g. `0.001`), \
`linear:START:END:WARMUP_STEPS` (e.g. `linear:0:1:10000`), \
`cosine:BASE:MIN:WARMUP_STEPS:TOTAL_STEPS` (e.g. `cosine:1e-3:1e-5:500:100000`), \
`cyclical:MIN:MAX:PERIOD:RATIO` (e.g. `cyclical:0:1:10000:0.5`), \
`exp:START:RATE:MIN` (e.g. `exp:1:1e-4:0.5`)";

/// A value that changes with the global optimizer step (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Schedule {
    /// The same value at every step.
    Constant(f64),
    /// Linear from `start` (at step 0) to `end` (at step `warmup_steps`), then `end`.
    ///
    /// `warmup_steps == 0` means `end` from the first step. This is the usual
    /// "KL warm-up" of a VAE (`linear:0:1:10000`) and a plain LR warm-up.
    LinearWarmup {
        /// Value at step 0.
        start: f64,
        /// Value at and after step `warmup_steps`.
        end: f64,
        /// Length of the linear ramp in steps.
        warmup_steps: u64,
    },
    /// Linear warm-up from 0 to `base` over `warmup_steps`, then a half-cosine decay
    /// from `base` to `min` that reaches `min` at `total_steps`, then `min`.
    ///
    /// For `warmup_steps ≤ s ≤ total_steps`, with `t = (s − warmup_steps) /
    /// (total_steps − warmup_steps)`:
    /// `value = min + (base − min)·(1 + cos(π t))/2` — the single-cycle form of
    /// SGDR (Loshchilov & Hutter, 2017, eq. 5). During warm-up
    /// `value = base·s/warmup_steps` (so step 0 gives 0, as in the Hugging Face
    /// `get_cosine_schedule_with_warmup`). With `total_steps == warmup_steps` there
    /// is no decay phase and the value drops to `min` at `total_steps`.
    Cosine {
        /// Peak value, reached at the end of the warm-up.
        base: f64,
        /// Final value, reached at `total_steps` and kept afterwards.
        min: f64,
        /// Length of the linear warm-up from 0 in steps (0 = no warm-up).
        warmup_steps: u64,
        /// Step at which the decay reaches `min`; must be ≥ `warmup_steps` and > 0.
        total_steps: u64,
    },
    /// Cyclical annealing (Fu et al., 2019, "Cyclical Annealing Schedule: A Simple
    /// Approach to Mitigating KL Vanishing", eq. 6), for a VAE's β.
    ///
    /// With `τ = (step mod period)/period`: `value = min + (max − min)·τ/ratio`
    /// while `τ < ratio`, else `max`. Each period thus starts at `min`, rises
    /// linearly to `max` over its first `ratio·period` steps and holds `max` for
    /// the rest. (The paper counts steps from 1; here step 0 is the first step.)
    Cyclical {
        /// Value at the start of each period.
        min: f64,
        /// Value held after the ramp of each period.
        max: f64,
        /// Length of one cycle in steps; must be > 0.
        period: u64,
        /// Fraction of each period spent rising, in `(0, 1]`.
        ratio: f64,
    },
    /// Exponential decay with a floor: `value = max(min, start·exp(−rate·step))`.
    ///
    /// The temperature annealing of the Gumbel-softmax (Jang et al., 2017,
    /// "Categorical Reparameterization with Gumbel-Softmax", §4.1:
    /// `τ = max(0.5, exp(−r t))` with `r ∈ {1e-5, 1e-4}`, i.e. `exp:1:1e-4:0.5`).
    /// Jang et al. refresh τ only every 500 steps; this schedule is evaluated at
    /// every step (the caller may pass `step − step % 500` to reproduce that).
    /// The decay starts at `start` (step 0) and reaches `min` at
    /// `step = ln(start/min)/rate`; `rate == 0` keeps `max(min, start)`.
    Exponential {
        /// Value at step 0 (before the floor is applied).
        start: f64,
        /// Decay rate per step; must be ≥ 0.
        rate: f64,
        /// Floor, reached after `ln(start/min)/rate` steps and kept afterwards.
        min: f64,
    },
}

/// Why text could not be parsed as a [`Schedule`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    /// Text that does not follow the command-line syntax.
    #[error("cannot parse schedule `{input}`: {reason}; {SCHEDULE_SYNTAX}")]
    Parse {
        /// The text given.
        input: String,
        /// What was wrong with it.
        reason: String,
    },
    /// Well-formed text for a schedule whose values are invalid (`cyclical:0:1:0:0.5`).
    #[error("invalid schedule: {0}")]
    Invalid(#[from] ConfigError),
}

impl Schedule {
    /// The value at global optimizer step `step` (0 = before the first update).
    ///
    /// Pure: the same step always gives the same value. Call [`Validate::validate`]
    /// once (parsing does it for you); on an invalid schedule the result is
    /// unspecified but never a panic.
    pub fn value(&self, step: u64) -> f64 {
        match *self {
            Schedule::Constant(v) => v,
            Schedule::LinearWarmup {
                start,
                end,
                warmup_steps,
            } => {
                if step >= warmup_steps {
                    end
                } else {
                    start + (end - start) * (step as f64 / warmup_steps as f64)
                }
            }
            Schedule::Cosine {
                base,
                min,
                warmup_steps,
                total_steps,
            } => {
                if step < warmup_steps {
                    base * (step as f64 / warmup_steps as f64)
                } else if step >= total_steps {
                    min
                } else {
                    let t = (step - warmup_steps) as f64 / (total_steps - warmup_steps) as f64;
                    min + (base - min) * 0.5 * (1.0 + (PI * t).cos())
                }
            }
            Schedule::Cyclical {
                min,
                max,
                period,
                ratio,
            } => {
                if period == 0 {
                    return min;
                }
                let tau = (step % period) as f64 / period as f64;
                if tau < ratio {
                    min + (max - min) * (tau / ratio)
                } else {
                    max
                }
            }
            Schedule::Exponential { start, rate, min } => {
                (start * (-rate * step as f64).exp()).max(min)
            }
        }
    }
}

impl Validate for Schedule {
    /// Checks every field; the error names the first bad one (`Schedule.ratio`, …) and how to
    /// fix it.
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "Schedule";
        fn finite(field: &str, value: f64) -> Result<(), ConfigError> {
            if value.is_finite() {
                Ok(())
            } else {
                Err(ConfigError::new(
                    C,
                    field,
                    format!("is {value}, but it must be a finite number"),
                ))
            }
        }
        match *self {
            Schedule::Constant(v) => finite("value", v),
            Schedule::LinearWarmup { start, end, .. } => {
                finite("start", start)?;
                finite("end", end)
            }
            Schedule::Cosine {
                base,
                min,
                warmup_steps,
                total_steps,
            } => {
                finite("base", base)?;
                finite("min", min)?;
                if total_steps == 0 {
                    return Err(ConfigError::new(
                        C,
                        "total_steps",
                        "is 0; a cosine schedule needs at least 1 step",
                    ));
                }
                if total_steps < warmup_steps {
                    return Err(ConfigError::new(
                        C,
                        "total_steps",
                        format!(
                            "is {total_steps}, less than `warmup_steps` = {warmup_steps}; the \
                             cosine decay must end at or after the warm-up"
                        ),
                    ));
                }
                Ok(())
            }
            Schedule::Cyclical {
                min,
                max,
                period,
                ratio,
            } => {
                finite("min", min)?;
                finite("max", max)?;
                finite("ratio", ratio)?;
                if period == 0 {
                    return Err(ConfigError::new(
                        C,
                        "period",
                        "is 0; a cyclical schedule needs a period of at least 1 step",
                    ));
                }
                if !(ratio > 0.0 && ratio <= 1.0) {
                    return Err(ConfigError::new(
                        C,
                        "ratio",
                        format!(
                            "is {ratio}, but it must lie in (0, 1] (the fraction of each period \
                             spent rising)"
                        ),
                    ));
                }
                Ok(())
            }
            Schedule::Exponential { start, rate, min } => {
                finite("start", start)?;
                finite("rate", rate)?;
                finite("min", min)?;
                if rate < 0.0 {
                    return Err(ConfigError::new(
                        C,
                        "rate",
                        format!("is {rate}, but it must be ≥ 0 (an exponential schedule decays)"),
                    ));
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Schedule {
    /// Writes the command-line form; `Display` output parses back to an equal schedule
    /// (Rust prints the shortest decimal that round-trips each `f64`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Constant(v) => write!(f, "{v}"),
            Schedule::LinearWarmup {
                start,
                end,
                warmup_steps,
            } => write!(f, "linear:{start}:{end}:{warmup_steps}"),
            Schedule::Cosine {
                base,
                min,
                warmup_steps,
                total_steps,
            } => write!(f, "cosine:{base}:{min}:{warmup_steps}:{total_steps}"),
            Schedule::Cyclical {
                min,
                max,
                period,
                ratio,
            } => write!(f, "cyclical:{min}:{max}:{period}:{ratio}"),
            Schedule::Exponential { start, rate, min } => write!(f, "exp:{start}:{rate}:{min}"),
        }
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    /// Parses the command-line syntax of the [module docs](self), then validates.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let input = s.trim();
        let err = |reason: String| ScheduleError::Parse {
            input: s.to_string(),
            reason,
        };
        let parts: Vec<&str> = input.split(':').map(str::trim).collect();
        let num = |name: &str, text: &str| -> Result<f64, ScheduleError> {
            text.parse::<f64>()
                .map_err(|_| err(format!("`{name}` = `{text}` is not a number")))
        };
        let steps = |name: &str, text: &str| -> Result<u64, ScheduleError> {
            parse_steps(text).ok_or_else(|| {
                err(format!(
                    "`{name}` = `{text}` is not a non-negative whole number of steps"
                ))
            })
        };
        let arity = |kind: &str, names: &[&str]| -> Result<(), ScheduleError> {
            if parts.len() == names.len() + 1 {
                Ok(())
            } else {
                Err(err(format!(
                    "`{kind}` takes {} fields ({}) but {} were given",
                    names.len(),
                    names.join(":"),
                    parts.len() - 1
                )))
            }
        };

        let schedule = match parts[0].to_ascii_lowercase().as_str() {
            "" => return Err(err("it is empty".to_string())),
            "constant" => {
                arity("constant", &["VALUE"])?;
                Schedule::Constant(num("VALUE", parts[1])?)
            }
            "linear" => {
                arity("linear", &["START", "END", "WARMUP_STEPS"])?;
                Schedule::LinearWarmup {
                    start: num("START", parts[1])?,
                    end: num("END", parts[2])?,
                    warmup_steps: steps("WARMUP_STEPS", parts[3])?,
                }
            }
            "cosine" => {
                arity("cosine", &["BASE", "MIN", "WARMUP_STEPS", "TOTAL_STEPS"])?;
                Schedule::Cosine {
                    base: num("BASE", parts[1])?,
                    min: num("MIN", parts[2])?,
                    warmup_steps: steps("WARMUP_STEPS", parts[3])?,
                    total_steps: steps("TOTAL_STEPS", parts[4])?,
                }
            }
            "cyclical" => {
                arity("cyclical", &["MIN", "MAX", "PERIOD", "RATIO"])?;
                Schedule::Cyclical {
                    min: num("MIN", parts[1])?,
                    max: num("MAX", parts[2])?,
                    period: steps("PERIOD", parts[3])?,
                    ratio: num("RATIO", parts[4])?,
                }
            }
            "exp" | "exponential" => {
                arity("exp", &["START", "RATE", "MIN"])?;
                Schedule::Exponential {
                    start: num("START", parts[1])?,
                    rate: num("RATE", parts[2])?,
                    min: num("MIN", parts[3])?,
                }
            }
            first if parts.len() == 1 => match first.parse::<f64>() {
                Ok(v) => Schedule::Constant(v),
                Err(_) => {
                    return Err(err(format!(
                        "`{first}` is neither a number nor a schedule kind"
                    )));
                }
            },
            kind => {
                return Err(err(format!(
                    "unknown schedule kind `{kind}` (known: constant, linear, cosine, cyclical, exp)"
                )));
            }
        };
        schedule.validate()?;
        Ok(schedule)
    }
}

/// A step count: a `u64`, or an integral non-negative float such as `1e5`.
fn parse_steps(text: &str) -> Option<u64> {
    if let Ok(n) = text.parse::<u64>() {
        return Some(n);
    }
    let x = text.parse::<f64>().ok()?;
    // 2^53: above it not every integer is representable, so the text would be ambiguous.
    if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_992.0 {
        Some(x as u64)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_steps_accepts_integral_floats_only() {
        assert_eq!(parse_steps("100000"), Some(100_000));
        assert_eq!(parse_steps("1e5"), Some(100_000));
        assert_eq!(parse_steps("1.5"), None);
        assert_eq!(parse_steps("-3"), None);
        assert_eq!(parse_steps("abc"), None);
    }

    #[test]
    fn exponential_values_match_the_closed_form() {
        // Reference values from Python 3 `math`: max(min, start*math.exp(-rate*s)).
        let s: Schedule = "exp:1:1e-4:0.5".parse().unwrap();
        assert_eq!(
            s,
            Schedule::Exponential {
                start: 1.0,
                rate: 1e-4,
                min: 0.5
            }
        );
        let reference = [
            (0, 1.0),
            (1, 0.9999000049998333),
            (1_000, 0.9048374180359595),
            (5_000, 0.6065306597126334),
            (6_931, 0.5000235908364827), // just above the floor: ln 2 / 1e-4 = 6931.47
            (6_932, 0.5),
            (10_000, 0.5),
            (u64::MAX, 0.5),
        ];
        for (step, want) in reference {
            let got = s.value(step);
            assert!(
                (got - want).abs() <= 1e-15 * want,
                "step {step}: got {got}, want {want}"
            );
        }
        // Non-increasing in the step.
        let v: Vec<f64> = (0..20_000).step_by(97).map(|t| s.value(t)).collect();
        assert!(v.windows(2).all(|w| w[1] <= w[0]));
        // rate 0: constant max(min, start).
        let flat = Schedule::Exponential {
            start: 2.0,
            rate: 0.0,
            min: 0.5,
        };
        assert_eq!(flat.value(123_456), 2.0);
    }

    #[test]
    fn exponential_parses_prints_and_validates() {
        for text in [
            "exp:1:1e-4:0.5",
            "exponential:1:0.0001:0.5",
            " EXP : 1 : 1e-4 : 0.5 ",
        ] {
            let s: Schedule = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(s.to_string(), "exp:1:0.0001:0.5");
            assert_eq!(s.to_string().parse::<Schedule>().unwrap(), s);
        }
        match "exp:1:-1e-4:0.5".parse::<Schedule>() {
            Err(ScheduleError::Invalid(e)) => {
                assert_eq!((e.config, e.field.as_str()), ("Schedule", "rate"));
                assert!(e.reason.contains("-0.0001"), "{e}");
            }
            other => panic!("expected an invalid rate, got {other:?}"),
        }
        assert!(matches!(
            "exp:1:inf:0.5".parse::<Schedule>(),
            Err(ScheduleError::Invalid(e)) if e.field == "rate"
        ));
        match "exp:1:1e-4".parse::<Schedule>() {
            Err(ScheduleError::Parse { reason, .. }) => {
                assert!(reason.contains("START:RATE:MIN"), "{reason}")
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
        assert!(SCHEDULE_SYNTAX.contains("exp:START:RATE:MIN"));
        let json = serde_json::to_string(&Schedule::Exponential {
            start: 1.0,
            rate: 1e-5,
            min: 0.5,
        })
        .unwrap();
        assert_eq!(
            serde_json::from_str::<Schedule>(&json).unwrap().value(0),
            1.0
        );
    }
}
