//! `metrics.jsonl`: one JSON object per epoch, and running means of step metrics.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::TrainError;

/// One line of `metrics.jsonl`: ordered `(name, value)` pairs; `epoch` comes first.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsRecord {
    /// The epoch this record closes (1-based: the number of completed epochs).
    pub epoch: usize,
    /// Named values in insertion order.
    pub values: Vec<(String, f64)>,
}

impl MetricsRecord {
    /// The value named `name`, if present.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// Serialises to one JSON line (non-finite values become `null`).
    pub fn to_json_line(&self) -> String {
        let mut s = format!("{{\"epoch\":{}", self.epoch);
        for (name, value) in &self.values {
            let v = if value.is_finite() {
                serde_json::Value::from(*value)
            } else {
                serde_json::Value::Null
            };
            s.push(',');
            s.push_str(&serde_json::to_string(name).expect("string serialises"));
            s.push(':');
            s.push_str(&v.to_string());
        }
        s.push('}');
        s
    }

    /// Parses one JSON line written by [`MetricsRecord::to_json_line`].
    pub fn from_json_line(line: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let obj = v.as_object()?;
        let epoch = obj.get("epoch")?.as_u64()? as usize;
        let values = obj
            .iter()
            .filter(|(k, _)| k.as_str() != "epoch")
            .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(f64::NAN)))
            .collect();
        Some(Self { epoch, values })
    }
}

/// Append-only `metrics.jsonl` writer.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    records: Vec<MetricsRecord>,
    /// The JSON lines as written (kept verbatim on resume, so key order survives).
    lines: Vec<String>,
}

impl MetricsLog {
    /// Opens `path`. With `keep_through = Some(e)` (a resumed run), existing records of epochs
    /// ≤ `e` are kept and later ones — written after the checkpoint the run resumes from — are
    /// dropped so the file never holds an epoch twice. With `None` the file starts empty.
    pub fn open(path: &Path, keep_through: Option<usize>) -> Result<Self, TrainError> {
        let mut records = Vec::new();
        let mut lines = Vec::new();
        if let Some(last) = keep_through
            && path.exists()
        {
            let f = File::open(path).map_err(|e| TrainError::io(path, e))?;
            for line in BufReader::new(f).lines() {
                let line = line.map_err(|e| TrainError::io(path, e))?;
                if let Some(r) = MetricsRecord::from_json_line(&line)
                    && r.epoch <= last
                {
                    records.push(r);
                    lines.push(line);
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

    /// The `(epoch, value)` series of metric `name`.
    pub fn series(&self, name: &str) -> Vec<(f64, f64)> {
        self.records
            .iter()
            .filter_map(|r| r.get(name).map(|v| (r.epoch as f64, v)))
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
    fn json_line_round_trip_and_nan_as_null() {
        let r = MetricsRecord {
            epoch: 3,
            values: vec![("train_loss".into(), 101.5), ("bad".into(), f64::NAN)],
        };
        let line = r.to_json_line();
        assert_eq!(line, r#"{"epoch":3,"train_loss":101.5,"bad":null}"#);
        let back = MetricsRecord::from_json_line(&line).unwrap();
        assert_eq!(back.epoch, 3);
        assert_eq!(back.get("train_loss"), Some(101.5));
        assert!(back.get("bad").unwrap().is_nan());
    }

    #[test]
    fn resume_drops_epochs_after_the_checkpoint() {
        let dir = std::env::temp_dir().join(format!("deepgen-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("metrics.jsonl");
        let mut log = MetricsLog::open(&path, None).unwrap();
        for e in 1..=4 {
            log.append(MetricsRecord {
                epoch: e,
                values: vec![("x".into(), e as f64)],
            })
            .unwrap();
        }
        let before: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        let log = MetricsLog::open(&path, Some(2)).unwrap();
        assert_eq!(log.series("x"), vec![(1.0, 1.0), (2.0, 2.0)]);
        let kept: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        assert_eq!(kept, before[..2].to_vec(), "kept lines are verbatim");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        std::fs::remove_dir_all(&dir).ok();
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
