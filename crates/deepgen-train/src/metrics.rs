//! `metrics.jsonl`: one JSON object per evaluation point, and running means of step metrics.
//!
//! # Format
//!
//! One line per record, written with `serde_json` (every line parses with a strict JSON
//! parser). Keys keep the order the loop wrote them in:
//!
//! ```text
//! {"epoch":3,"step":90,"train_loss":0.12,…,"test_loss":0.10,"lr":0.001,…,"eval_time_s":0.2}
//! {"epoch":3.5,"mid_epoch":true,"step":105,"test_loss":0.09,"lr":0.001,"eval_time_s":0.2}
//! ```
//!
//! - An **end-of-epoch** record has an integer `epoch`: the number of completed epochs
//!   (1-based), as before mid-epoch evaluation existed. It holds the epoch's mean training
//!   metrics (`train_*`, `grad_norm`), the evaluation metrics, the schedules' values and timings.
//! - A **mid-epoch** record (written by [`Trainer::eval_every_steps`](crate::Trainer::eval_every_steps))
//!   has `"mid_epoch": true` and a fractional `epoch`: completed epochs plus the fraction of the
//!   current epoch's batches done, e.g. `3.5` halfway through the fourth epoch. It holds only
//!   `step`, the evaluation metrics, the schedules' values and `eval_time_s` — no `train_*`
//!   means, so each `train_*` series stays one point per epoch.
//!
//! Either way `epoch` is "epochs of training behind this record", so plotting any metric
//! against it (as `loss.png` does) puts mid-epoch points where they belong.
//!
//! A NaN or infinite value is written as `null` and named in a `"non_finite"` object
//! (`"non_finite":{"test_nll":"NaN"}`, see [`crate::json`]); reading restores it.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::TrainError;
use crate::json::{NON_FINITE_KEY, non_finite_reason, value_for_reason};

/// Keys the record itself uses; a metric may not take these names.
pub const RESERVED_KEYS: [&str; 3] = ["epoch", "mid_epoch", NON_FINITE_KEY];

/// One line of `metrics.jsonl` (see the [module docs](self) for the two kinds).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsRecord {
    /// Epochs of training behind this record: the number of completed epochs for an
    /// end-of-epoch record (an integer, written as one), completed epochs plus the fraction of
    /// the current epoch for a mid-epoch record.
    pub epoch: f64,
    /// Whether this is a mid-epoch evaluation.
    pub mid_epoch: bool,
    /// Named values in insertion order (NaN/±∞ allowed; written as `null`).
    pub values: Vec<(String, f64)>,
}

impl MetricsRecord {
    /// An end-of-epoch record closing epoch `epochs_completed` (1-based).
    pub fn end_of_epoch(epochs_completed: usize, values: Vec<(String, f64)>) -> Self {
        Self {
            epoch: epochs_completed as f64,
            mid_epoch: false,
            values,
        }
    }

    /// The value named `name`, if present.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// Serialises to one JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("a metrics record always serialises")
    }

    /// Parses one line written by [`MetricsRecord::to_json_line`].
    ///
    /// # Errors
    /// `serde_json`'s error for a line that is not such a record.
    pub fn from_json_line(line: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(line)
    }
}

impl Serialize for MetricsRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let non_finite: Vec<(&str, &str)> = self
            .values
            .iter()
            .filter_map(|(n, v)| non_finite_reason(*v).map(|r| (n.as_str(), r)))
            .collect();
        let mut map = serializer.serialize_map(None)?;
        if self.mid_epoch || self.epoch.fract() != 0.0 || !self.epoch.is_finite() {
            map.serialize_entry("epoch", &crate::json::finite_or_none(self.epoch))?;
        } else {
            map.serialize_entry("epoch", &(self.epoch as u64))?;
        }
        if self.mid_epoch {
            map.serialize_entry("mid_epoch", &true)?;
        }
        for (name, value) in &self.values {
            map.serialize_entry(name, &crate::json::finite_or_none(*value))?;
        }
        if !non_finite.is_empty() {
            map.serialize_entry(NON_FINITE_KEY, &OrderedMap(&non_finite))?;
        }
        map.end()
    }
}

/// A list of pairs written as a JSON object in list order.
struct OrderedMap<'a>(&'a [(&'a str, &'a str)]);

impl Serialize for OrderedMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for MetricsRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = MetricsRecord;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a metrics.jsonl record: a JSON object with an `epoch` and numeric metrics")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MetricsRecord, A::Error> {
        let mut epoch: Option<f64> = None;
        let mut mid_epoch = false;
        let mut values: Vec<(String, Option<f64>)> = Vec::new();
        let mut reasons: BTreeMap<String, String> = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "epoch" => {
                    epoch = Some(map.next_value::<Option<f64>>()?.unwrap_or(f64::NAN));
                }
                "mid_epoch" => mid_epoch = map.next_value()?,
                NON_FINITE_KEY => reasons = map.next_value()?,
                _ => {
                    let v: Option<f64> = map.next_value().map_err(|_| {
                        de::Error::custom(format!("metric `{key}` is not a number or null"))
                    })?;
                    values.push((key, v));
                }
            }
        }
        let epoch = epoch.ok_or_else(|| de::Error::missing_field("epoch"))?;
        let values = values
            .into_iter()
            .map(|(k, v)| {
                let v = v.unwrap_or_else(|| value_for_reason(reasons.get(&k).map(String::as_str)));
                (k, v)
            })
            .collect();
        Ok(MetricsRecord {
            epoch,
            mid_epoch,
            values,
        })
    }
}

/// Append-only `metrics.jsonl` writer.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    records: Vec<MetricsRecord>,
    /// The JSON lines as written (kept verbatim on resume).
    lines: Vec<String>,
}

impl MetricsLog {
    /// Opens `path`. With `keep_through = Some(e)` (a resumed run), existing records with
    /// `epoch ≤ e` are kept — end-of-epoch records of epochs 1..=e and the mid-epoch records
    /// before them — and later ones, written after the checkpoint the run resumes from, are
    /// dropped so the file never holds a point twice. A line that does not parse (e.g. cut
    /// short by a crash) is dropped with a warning on stderr. With `None` the file starts empty.
    ///
    /// # Errors
    /// I/O errors naming `path`.
    pub fn open(path: &Path, keep_through: Option<usize>) -> Result<Self, TrainError> {
        let mut records = Vec::new();
        let mut lines = Vec::new();
        if let Some(last) = keep_through
            && path.exists()
        {
            let f = File::open(path).map_err(|e| TrainError::io(path, e))?;
            for (i, line) in BufReader::new(f).lines().enumerate() {
                let line = line.map_err(|e| TrainError::io(path, e))?;
                if line.trim().is_empty() {
                    continue;
                }
                match MetricsRecord::from_json_line(&line) {
                    Ok(r) if r.epoch <= last as f64 => {
                        records.push(r);
                        lines.push(line);
                    }
                    Ok(_) => {}
                    Err(e) => eprintln!(
                        "warning: {} line {} is not a metrics record ({e}); dropped",
                        path.display(),
                        i + 1
                    ),
                }
            }
        }
        let log = Self {
            path: path.to_path_buf(),
            records,
            lines,
        };
        log.rewrite()?;
        Ok(log)
    }

    fn rewrite(&self) -> Result<(), TrainError> {
        let mut text = String::new();
        for line in &self.lines {
            text.push_str(line);
            text.push('\n');
        }
        crate::checkpoint::write_atomic(&self.path, text.as_bytes())
    }

    /// Appends a record and flushes it to disk.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn append(&mut self, record: MetricsRecord) -> Result<(), TrainError> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| TrainError::io(&self.path, e))?;
        let line = record.to_json_line();
        writeln!(f, "{line}").map_err(|e| TrainError::io(&self.path, e))?;
        self.lines.push(line);
        self.records.push(record);
        Ok(())
    }

    /// All records so far (including those kept from before a resume).
    pub fn records(&self) -> &[MetricsRecord] {
        &self.records
    }

    /// The `(epoch, value)` series of metric `name` over every record that has it (mid-epoch
    /// records at their fractional epoch).
    pub fn series(&self, name: &str) -> Vec<(f64, f64)> {
        self.records
            .iter()
            .filter_map(|r| r.get(name).map(|v| (r.epoch, v)))
            .collect()
    }
}

/// Running sums of named scalars over an epoch.
#[derive(Debug, Default, Clone)]
pub struct RunningMeans {
    names: Vec<String>,
    sums: Vec<f64>,
    count: usize,
}

impl RunningMeans {
    /// Adds one observation of every metric (in a stable order).
    pub fn add(&mut self, values: &[(String, f64)]) {
        if self.names.is_empty() {
            self.names = values.iter().map(|(n, _)| n.clone()).collect();
            self.sums = vec![0.0; values.len()];
        }
        for (i, (_, v)) in values.iter().enumerate() {
            if let Some(s) = self.sums.get_mut(i) {
                *s += v;
            }
        }
        self.count += 1;
    }

    /// Means so far, named.
    pub fn means(&self) -> Vec<(String, f64)> {
        let n = self.count.max(1) as f64;
        self.names
            .iter()
            .cloned()
            .zip(self.sums.iter().map(|s| s / n))
            .collect()
    }

    /// Number of observations.
    pub fn count(&self) -> usize {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_round_trip_and_non_finite_as_null_with_reason() {
        let r = MetricsRecord::end_of_epoch(
            3,
            vec![
                ("train_loss".into(), 101.5),
                ("bad".into(), f64::NAN),
                ("big".into(), f64::NEG_INFINITY),
            ],
        );
        let line = r.to_json_line();
        assert_eq!(
            line,
            r#"{"epoch":3,"train_loss":101.5,"bad":null,"big":null,"non_finite":{"bad":"NaN","big":"-inf"}}"#
        );
        let strict: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(strict["non_finite"]["bad"], "NaN");
        let back = MetricsRecord::from_json_line(&line).unwrap();
        assert_eq!(back.epoch, 3.0);
        assert!(!back.mid_epoch);
        assert_eq!(back.get("train_loss"), Some(101.5));
        assert!(back.get("bad").unwrap().is_nan());
        assert_eq!(back.get("big"), Some(f64::NEG_INFINITY));
        // Key order survives the round trip.
        let names: Vec<&str> = back.values.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["train_loss", "bad", "big"]);
    }

    #[test]
    fn mid_epoch_records_carry_a_fractional_epoch_and_a_marker() {
        let r = MetricsRecord {
            epoch: 2.25,
            mid_epoch: true,
            values: vec![("step".into(), 45.0), ("test_loss".into(), 0.5)],
        };
        let line = r.to_json_line();
        assert_eq!(
            line,
            r#"{"epoch":2.25,"mid_epoch":true,"step":45.0,"test_loss":0.5}"#
        );
        assert_eq!(MetricsRecord::from_json_line(&line).unwrap(), r);
        // A bare null without a reason reads as NaN; an old-style line without reasons parses.
        let old = MetricsRecord::from_json_line(r#"{"epoch":1,"x":null}"#).unwrap();
        assert!(old.get("x").unwrap().is_nan());
        assert!(MetricsRecord::from_json_line(r#"{"x":1}"#).is_err());
        assert!(MetricsRecord::from_json_line(r#"{"epoch":1,"x":"a"}"#).is_err());
    }

    #[test]
    fn resume_drops_points_after_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&path, None).unwrap();
        for e in 1..=4 {
            log.append(MetricsRecord {
                epoch: e as f64 - 0.5,
                mid_epoch: true,
                values: vec![("x".into(), -(e as f64))],
            })
            .unwrap();
            log.append(MetricsRecord::end_of_epoch(e, vec![("x".into(), e as f64)]))
                .unwrap();
        }
        let before: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        // A torn last line (crash mid-append) is dropped, not fatal.
        std::fs::write(&path, format!("{}\n{{\"epoch\":4,\"x\"", before.join("\n"))).unwrap();
        let log = MetricsLog::open(&path, Some(2)).unwrap();
        assert_eq!(
            log.series("x"),
            vec![(0.5, -1.0), (1.0, 1.0), (1.5, -2.0), (2.0, 2.0)]
        );
        let kept: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        assert_eq!(kept, before[..4].to_vec(), "kept lines are verbatim");
    }

    #[test]
    fn running_means_average() {
        let mut m = RunningMeans::default();
        m.add(&[("a".into(), 1.0), ("b".into(), 10.0)]);
        m.add(&[("a".into(), 3.0), ("b".into(), 20.0)]);
        assert_eq!(m.means(), vec![("a".into(), 2.0), ("b".into(), 15.0)]);
        assert_eq!(m.count(), 2);
    }
}
