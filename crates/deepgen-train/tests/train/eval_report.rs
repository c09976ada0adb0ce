//! `eval.json` through `EvalReport`: strict JSON, entry order, non-finite and missing values
//! as `null` with their reasons, read back exactly.

use deepgen_train::report::{EVAL_FILE, ReportError};
use deepgen_train::{EvalReport, ReportValue};

#[test]
fn eval_json_is_strict_ordered_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = EvalReport::new();
    report
        .push("test_elbo", -91.25)
        .push("test_nll", f64::NAN)
        .push("nll_k", 5000usize)
        .push("shift", -3i64)
        .push("device", "flex")
        .push("ratio", f64::NEG_INFINITY)
        .missing("frechet", "no classifier checkpoint")
        .push("whole", 2.0);
    report.push("test_elbo", -90.5); // replaced in place
    let path = report.write(dir.path()).unwrap();
    assert_eq!(path, dir.path().join(EVAL_FILE));
    let text = std::fs::read_to_string(&path).unwrap();

    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["test_elbo"], -90.5);
    assert!(v["test_nll"].is_null() && v["ratio"].is_null() && v["frechet"].is_null());
    assert_eq!(v["nll_k"], 5000);
    assert_eq!(v["shift"], -3);
    assert_eq!(v["device"], "flex");
    assert_eq!(v["non_finite"]["test_nll"], "NaN");
    assert_eq!(v["non_finite"]["ratio"], "-inf");
    assert_eq!(v["missing"]["frechet"], "no classifier checkpoint");
    // Keys in insertion order, reserved objects last.
    let order: Vec<usize> = [
        "\"test_elbo\"",
        "\"test_nll\"",
        "\"nll_k\"",
        "\"shift\"",
        "\"device\"",
        "\"ratio\"",
        "\"frechet\"",
        "\"whole\"",
        "\"missing\"",
        "\"non_finite\"",
    ]
    .iter()
    .map(|k| {
        text.find(k)
            .unwrap_or_else(|| panic!("{k} missing in {text}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");

    let back = EvalReport::read(&path).unwrap();
    let names: Vec<&str> = back.entries().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "test_elbo",
            "test_nll",
            "nll_k",
            "shift",
            "device",
            "ratio",
            "frechet",
            "whole"
        ]
    );
    assert_eq!(back.get("test_elbo"), Some(&ReportValue::Float(-90.5)));
    assert!(matches!(back.get("test_nll"), Some(ReportValue::Float(v)) if v.is_nan()));
    assert_eq!(back.get("nll_k"), Some(&ReportValue::UInt(5000)));
    assert_eq!(back.get("shift"), Some(&ReportValue::Int(-3)));
    assert_eq!(
        back.get("ratio"),
        Some(&ReportValue::Float(f64::NEG_INFINITY))
    );
    assert_eq!(
        back.get("frechet"),
        Some(&ReportValue::Missing("no classifier checkpoint".into()))
    );
    assert_eq!(
        back.get("whole"),
        Some(&ReportValue::Float(2.0)),
        "2.0 stays a float"
    );
}

#[test]
fn reserved_names_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let report = EvalReport::new().with("missing", 1.0);
    let err = report.write(dir.path()).unwrap_err();
    assert!(matches!(err, ReportError::ReservedName { .. }), "{err}");
    assert!(err.to_string().contains("`missing`"), "{err}");
    assert!(!dir.path().join(EVAL_FILE).exists());
}

#[test]
fn reading_rejects_what_is_not_a_flat_object() {
    assert!(EvalReport::from_json("[1, 2]").is_err());
    let err = EvalReport::from_json(r#"{"a": {"b": 1}}"#).unwrap_err();
    assert!(err.contains("`a`"), "{err}");
    // Lists hold numbers only.
    let err = EvalReport::from_json(r#"{"a": [1, "x"]}"#).unwrap_err();
    assert!(err.contains("`a[1]`"), "{err}");
    let r = EvalReport::from_json(r#"{"a": [1, 2.5]}"#).unwrap();
    assert_eq!(r.get("a"), Some(&ReportValue::List(vec![1.0, 2.5])));
    // A bare null without a reason is missing, with that said.
    let r = EvalReport::from_json(r#"{"a": null}"#).unwrap();
    assert_eq!(
        r.get("a"),
        Some(&ReportValue::Missing("no reason recorded".into()))
    );
}
