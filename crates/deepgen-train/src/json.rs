//! How this crate's JSON files hold numbers that JSON cannot: NaN and ±∞.
//!
//! JSON has no NaN or infinity, and a file that prints them as bare words is rejected by strict
//! parsers (Python's `json.loads(..., parse_constant=...)`, `jq`, `serde_json`). Every JSON
//! file this crate writes (`metrics.jsonl`, `checkpoint/*/state.json`, `eval.json`) therefore
//! writes such a value as `null` and records why in a `"non_finite"` object beside it:
//!
//! ```json
//! {"epoch": 3, "test_nll": null, "non_finite": {"test_nll": "NaN"}}
//! ```
//!
//! The reasons are `"NaN"`, `"inf"` and `"-inf"`; reading turns them back into the same
//! `f64`, and a `null` without a reason into NaN.
//!
//! [`same_config_json`] is how `--resume` compares a run's saved config file with the flags.

/// The name of the object that records why a value is `null`.
pub const NON_FINITE_KEY: &str = "non_finite";

/// `None` for a finite `value`, else the word recorded for it: `"NaN"`, `"inf"` or `"-inf"`.
pub fn non_finite_reason(value: f64) -> Option<&'static str> {
    if value.is_nan() {
        Some("NaN")
    } else if value == f64::INFINITY {
        Some("inf")
    } else if value == f64::NEG_INFINITY {
        Some("-inf")
    } else {
        None
    }
}

/// The value a `null` with the recorded `reason` stands for (NaN when the reason is unknown or
/// missing).
pub fn value_for_reason(reason: Option<&str>) -> f64 {
    match reason {
        Some("inf") | Some("+inf") | Some("infinity") => f64::INFINITY,
        Some("-inf") | Some("-infinity") => f64::NEG_INFINITY,
        _ => f64::NAN,
    }
}

/// `Some(value)` when finite, else `None` (written as `null`).
pub fn finite_or_none(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// Whether two config files (`flow_config.json`, `model_config.json`) describe the same
/// configuration: equal as JSON once `null` fields are dropped at every depth, so a run
/// written before an optional field existed (absent = `None`) still resumes with the flags it
/// was started with. Texts that are not JSON compare as text.
pub fn same_config_json(a: &str, b: &str) -> bool {
    fn strip(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => m
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip(v)))
                .collect(),
            serde_json::Value::Array(a) => a.into_iter().map(strip).collect(),
            v => v,
        }
    }
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => strip(a) == strip(b),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let back = value_for_reason(non_finite_reason(v));
            assert!(back.is_nan() && v.is_nan() || back == v, "{v} -> {back}");
        }
        assert_eq!(non_finite_reason(1.5), None);
        assert!(value_for_reason(None).is_nan());
        assert_eq!(finite_or_none(2.0), Some(2.0));
        assert_eq!(finite_or_none(f64::NAN), None);
    }
}
