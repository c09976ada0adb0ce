//! `eval.json`: the numbers an example measures after training, in one strict JSON object.
//!
//! Examples collect what they measured — the final test ELBO, an importance-weighted NLL and
//! its `k`, a Fréchet distance, the backend's name — into an [`EvalReport`] and write it with
//! [`EvalReport::write`]. The file keeps the order the entries were added in:
//!
//! ```json
//! {
//!   "test_elbo": -91.2,
//!   "test_nll": 86.9,
//!   "nll_k": 5000,
//!   "device": "flex",
//!   "frechet": null,
//!   "test_kl": null,
//!   "missing": { "frechet": "no classifier checkpoint (pass --fd-samples 0 to skip)" },
//!   "non_finite": { "test_kl": "NaN" }
//! }
//! ```
//!
//! A value that was not measured is `null` with its reason under `"missing"`; a NaN or ±∞ is
//! `null` with `"NaN"`/`"inf"`/`"-inf"` under `"non_finite"` (see [`crate::json`]). Both keys
//! are reserved. [`EvalReport::read`] restores every entry, including the non-finite ones.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::json::{NON_FINITE_KEY, finite_or_none, non_finite_reason, value_for_reason};

/// File name written by [`EvalReport::write`].
pub const EVAL_FILE: &str = "eval.json";
/// The key of the object holding the reasons of missing entries.
pub const MISSING_KEY: &str = "missing";

/// Errors writing or reading an [`EvalReport`].
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// An entry uses a key the file reserves.
    #[error(
        "eval.json entry `{name}` uses a reserved key (`missing` and `non_finite` hold the \
         reasons for null values); rename the entry"
    )]
    ReservedName {
        /// The entry's name.
        name: String,
    },
    /// The file could not be written.
    #[error(transparent)]
    Output(#[from] deepgen_tensor::output::OutputError),
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not an eval report.
    #[error("{}: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One value of an [`EvalReport`].
#[derive(Debug, Clone, PartialEq)]
pub enum ReportValue {
    /// A measurement (NaN and ±∞ allowed; written as `null` with the reason).
    Float(f64),
    /// A signed count or setting.
    Int(i64),
    /// An unsigned count or setting (`nll_k`, `nll_images`).
    UInt(u64),
    /// A string (a backend's name, a checkpoint path).
    Text(String),
    /// Not measured, with the reason (written as `null`).
    Missing(String),
    /// A list of measurements (e.g. one accuracy per class); a non-finite element is written
    /// as `null` with its reason under `"non_finite"` as `name[i]`.
    List(Vec<f64>),
}

impl From<Vec<f64>> for ReportValue {
    fn from(v: Vec<f64>) -> Self {
        ReportValue::List(v)
    }
}
impl From<&[f64]> for ReportValue {
    fn from(v: &[f64]) -> Self {
        ReportValue::List(v.to_vec())
    }
}

impl From<f64> for ReportValue {
    fn from(v: f64) -> Self {
        ReportValue::Float(v)
    }
}
impl From<f32> for ReportValue {
    fn from(v: f32) -> Self {
        ReportValue::Float(v as f64)
    }
}
impl From<i64> for ReportValue {
    fn from(v: i64) -> Self {
        ReportValue::Int(v)
    }
}
impl From<i32> for ReportValue {
    fn from(v: i32) -> Self {
        ReportValue::Int(v as i64)
    }
}
impl From<u64> for ReportValue {
    fn from(v: u64) -> Self {
        ReportValue::UInt(v)
    }
}
impl From<u32> for ReportValue {
    fn from(v: u32) -> Self {
        ReportValue::UInt(v as u64)
    }
}
impl From<usize> for ReportValue {
    fn from(v: usize) -> Self {
        ReportValue::UInt(v as u64)
    }
}
impl From<&str> for ReportValue {
    fn from(v: &str) -> Self {
        ReportValue::Text(v.to_string())
    }
}
impl From<String> for ReportValue {
    fn from(v: String) -> Self {
        ReportValue::Text(v)
    }
}

impl ReportValue {
    /// The value as an `f64` (integers converted; `None` for text and missing values).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            ReportValue::Float(v) => Some(v),
            ReportValue::Int(v) => Some(v as f64),
            ReportValue::UInt(v) => Some(v as f64),
            _ => None,
        }
    }
}

/// Ordered `(name, value)` entries written as `eval.json` (see the [module docs](self)).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalReport {
    entries: Vec<(String, ReportValue)>,
}

impl EvalReport {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets entry `name` (replacing an earlier value in place, keeping its position).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<ReportValue>) -> &mut Self {
        let name = name.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((name, value)),
        }
        self
    }

    /// Builder form of [`push`](Self::push).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<ReportValue>) -> Self {
        self.push(name, value);
        self
    }

    /// Records that `name` was not measured, and why (written as `null`).
    pub fn missing(&mut self, name: impl Into<String>, reason: impl Into<String>) -> &mut Self {
        self.push(name, ReportValue::Missing(reason.into()))
    }

    /// The value of entry `name`.
    pub fn get(&self, name: &str) -> Option<&ReportValue> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Every entry, in order.
    pub fn entries(&self) -> &[(String, ReportValue)] {
        &self.entries
    }

    fn check_names(&self) -> Result<(), ReportError> {
        match self
            .entries
            .iter()
            .find(|(n, _)| n == MISSING_KEY || n == NON_FINITE_KEY)
        {
            Some((name, _)) => Err(ReportError::ReservedName { name: name.clone() }),
            None => Ok(()),
        }
    }

    /// The report as pretty-printed strict JSON (with a trailing newline).
    ///
    /// # Errors
    /// [`ReportError::ReservedName`] when an entry is called `missing` or `non_finite`.
    pub fn to_json(&self) -> Result<String, ReportError> {
        self.check_names()?;
        let mut text = serde_json::to_string_pretty(self).expect("an eval report serialises");
        text.push('\n');
        Ok(text)
    }

    /// The report as one line of compact strict JSON with a trailing newline: a record of a
    /// JSON Lines file such as `ae_zoo`'s `results.jsonl`.
    ///
    /// # Errors
    /// [`ReportError::ReservedName`] when an entry is called `missing` or `non_finite`.
    pub fn to_json_line(&self) -> Result<String, ReportError> {
        self.check_names()?;
        let mut text = serde_json::to_string(self).expect("an eval report serialises");
        text.push('\n');
        Ok(text)
    }

    /// Writes `out_dir/eval.json` atomically (temporary file + rename); returns its path.
    ///
    /// # Errors
    /// [`ReportError::ReservedName`], or the write's error naming the file.
    pub fn write(&self, out_dir: &Path) -> Result<PathBuf, ReportError> {
        let path = out_dir.join(EVAL_FILE);
        deepgen_tensor::output::write_file_atomic(&path, self.to_json()?.as_bytes())?;
        Ok(path)
    }

    /// Reads a report written by [`write`](Self::write) (or any flat JSON object of numbers,
    /// strings, nulls and lists of numbers), restoring non-finite and missing entries from their reasons.
    ///
    /// # Errors
    /// [`ReportError::Io`] or [`ReportError::Parse`] naming the file.
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text).map_err(|reason| ReportError::Parse {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses the text of an `eval.json`; the error says what is wrong.
    ///
    /// # Errors
    /// A message when the text is not a flat JSON object of numbers, strings and nulls.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let raw: OrderedObject =
            serde_json::from_str(text).map_err(|e| format!("is not a JSON object ({e})"))?;
        let reasons = |key: &str| -> Result<Vec<(String, String)>, String> {
            match raw.0.iter().find(|(k, _)| k == key) {
                None => Ok(Vec::new()),
                Some((_, serde_json::Value::Object(m))) => m
                    .iter()
                    .map(|(k, v)| match v.as_str() {
                        Some(s) => Ok((k.clone(), s.to_string())),
                        None => Err(format!("`{key}.{k}` is not a string")),
                    })
                    .collect(),
                Some(_) => Err(format!("`{key}` is not an object")),
            }
        };
        let missing = reasons(MISSING_KEY)?;
        let non_finite = reasons(NON_FINITE_KEY)?;
        let find = |list: &[(String, String)], name: &str| {
            list.iter().find(|(k, _)| k == name).map(|(_, r)| r.clone())
        };
        let mut report = EvalReport::new();
        for (name, value) in &raw.0 {
            if name == MISSING_KEY || name == NON_FINITE_KEY {
                continue;
            }
            let v = match value {
                serde_json::Value::Null => match find(&non_finite, name) {
                    Some(r) => ReportValue::Float(value_for_reason(Some(&r))),
                    None => ReportValue::Missing(
                        find(&missing, name).unwrap_or_else(|| "no reason recorded".into()),
                    ),
                },
                serde_json::Value::Number(n) => {
                    if let Some(u) = n.as_u64() {
                        ReportValue::UInt(u)
                    } else if let Some(i) = n.as_i64() {
                        ReportValue::Int(i)
                    } else {
                        ReportValue::Float(n.as_f64().unwrap_or(f64::NAN))
                    }
                }
                serde_json::Value::String(s) => ReportValue::Text(s.clone()),
                serde_json::Value::Array(items) => ReportValue::List(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, x)| match x {
                            serde_json::Value::Number(n) => Ok(n.as_f64().unwrap_or(f64::NAN)),
                            serde_json::Value::Null => Ok(value_for_reason(
                                find(&non_finite, &format!("{name}[{i}]")).as_deref(),
                            )),
                            other => Err(format!("`{name}[{i}]` is {other}, not a number")),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                other => return Err(format!("entry `{name}` is {other}, not a number or string")),
            };
            report.entries.push((name.clone(), v));
        }
        Ok(report)
    }
}

impl Serialize for EvalReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut missing: Vec<(&str, &str)> = Vec::new();
        let mut non_finite: Vec<(String, &str)> = Vec::new();
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in &self.entries {
            match value {
                ReportValue::Float(v) => {
                    if let Some(r) = non_finite_reason(*v) {
                        non_finite.push((name.clone(), r));
                    }
                    map.serialize_entry(name, &finite_or_none(*v))?;
                }
                ReportValue::List(items) => {
                    for (i, v) in items.iter().enumerate() {
                        if let Some(r) = non_finite_reason(*v) {
                            non_finite.push((format!("{name}[{i}]"), r));
                        }
                    }
                    let values: Vec<Option<f64>> =
                        items.iter().map(|v| finite_or_none(*v)).collect();
                    map.serialize_entry(name, &values)?;
                }
                ReportValue::Int(v) => map.serialize_entry(name, v)?,
                ReportValue::UInt(v) => map.serialize_entry(name, v)?,
                ReportValue::Text(v) => map.serialize_entry(name, v)?,
                ReportValue::Missing(reason) => {
                    missing.push((name, reason));
                    map.serialize_entry(name, &())?;
                }
            }
        }
        if !missing.is_empty() {
            map.serialize_entry(MISSING_KEY, &Pairs(&missing))?;
        }
        if !non_finite.is_empty() {
            let non_finite: Vec<(&str, &str)> =
                non_finite.iter().map(|(k, r)| (k.as_str(), *r)).collect();
            map.serialize_entry(NON_FINITE_KEY, &Pairs(&non_finite))?;
        }
        map.end()
    }
}

/// Pairs written as a JSON object in list order.
struct Pairs<'a>(&'a [(&'a str, &'a str)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A JSON object read with its keys in file order.
struct OrderedObject(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for OrderedObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OrderedObject, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    entries.push((k, v));
                }
                Ok(OrderedObject(entries))
            }
        }
        deserializer.deserialize_map(V)
    }
}
