//! Atomic, resumable checkpoints, and `--resume` that survives a damaged one.
//!
//! Layout of `OUT/checkpoint/`:
//! ```text
//! latest.json            {"dir": "epoch-0003"}   ← the commit point, replaced atomically
//! epoch-0003/model.bpk   model parameters (Burn's burnpack record, ParamIds included)
//! epoch-0003/optim.bpk   optimizer state (keyed by ParamId, so it re-attaches on load)
//! epoch-0003/ema.bpk     EMA weights, when EMA is on (+ ema.json: decay, updates)
//! epoch-0003/state.json  format, completed epochs, global step, seed, elapsed seconds
//! ```
//! A checkpoint is first written complete into a hidden temporary directory, each file
//! `fsync`ed, then renamed into place; only then is `latest.json` replaced (temp file +
//! rename). A crash at any moment therefore leaves either the previous or the new checkpoint
//! as "latest", never a torn one. The two newest checkpoint directories are kept.
//!
//! No random-number state is saved: the loop's host stream of epoch `e` is
//! `HostRng::stream(seed, Stream::Epoch(e))` and the device is reseeded from
//! `Stream::DeviceEpoch(e)` at the start of every epoch, both pure functions of the seed and
//! the epoch, so a run resumed at an epoch boundary draws exactly what an uninterrupted run
//! draws. (Checkpoints of format 1 written before this change carry an `rng` field in
//! `state.json`; it is ignored.)
//!
//! # Resuming from a damaged checkpoint
//!
//! A file can still be damaged after the fact (a disk filling up, a copy cut short, a user
//! editing `state.json`). [`CheckpointDir::resume`] tries the `epoch-NNNN` directories newest
//! first and takes the first one whose `state.json`, model, optimizer state and (when wanted)
//! EMA all load; every one it skips is reported with the reason. Nothing is deleted: when the
//! resumed run later writes a checkpoint over a skipped one, the skipped directory is renamed
//! to `damaged-epoch-NNNN[-K]` beside it.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::ema::{EMA_STATE_FILE, EMA_WEIGHTS_FILE, Ema};
use crate::json::{finite_or_none, non_finite_reason, value_for_reason};

/// Version of the checkpoint layout; bumped on incompatible changes.
pub const CHECKPOINT_FORMAT: u32 = 1;

/// Everything besides tensors that `--resume` needs (`state.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "TrainStateJson", from = "TrainStateJson")]
pub struct TrainState {
    /// Layout version ([`CHECKPOINT_FORMAT`]).
    pub format: u32,
    /// Number of completed epochs.
    pub epoch: usize,
    /// Number of completed optimizer steps.
    pub step: u64,
    /// The run's seed.
    pub seed: u64,
    /// Wall-clock seconds spent training so far (summed over resumed runs).
    pub elapsed_s: f64,
}

/// The JSON form of [`TrainState`]: a non-finite `elapsed_s` is `null` with its reason in
/// `non_finite` (see [`crate::json`]).
#[derive(Serialize, Deserialize)]
struct TrainStateJson {
    format: u32,
    epoch: usize,
    step: u64,
    seed: u64,
    #[serde(default)]
    elapsed_s: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    non_finite: BTreeMap<String, String>,
}

impl From<TrainState> for TrainStateJson {
    fn from(s: TrainState) -> Self {
        let mut non_finite = BTreeMap::new();
        if let Some(r) = non_finite_reason(s.elapsed_s) {
            non_finite.insert("elapsed_s".to_string(), r.to_string());
        }
        Self {
            format: s.format,
            epoch: s.epoch,
            step: s.step,
            seed: s.seed,
            elapsed_s: finite_or_none(s.elapsed_s),
            non_finite,
        }
    }
}

impl From<TrainStateJson> for TrainState {
    fn from(j: TrainStateJson) -> Self {
        let elapsed_s = j
            .elapsed_s
            .unwrap_or_else(|| value_for_reason(j.non_finite.get("elapsed_s").map(String::as_str)));
        Self {
            format: j.format,
            epoch: j.epoch,
            step: j.step,
            seed: j.seed,
            elapsed_s,
        }
    }
}

/// Writes `bytes` to `path` atomically (see [`deepgen_tensor::output::write_file_atomic`]).
///
/// # Errors
/// [`TrainError::Output`] naming the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    Ok(deepgen_tensor::output::write_file_atomic(path, bytes)?)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let mut f = fs::File::create(path).map_err(|e| TrainError::io(path, e))?;
    f.write_all(bytes).map_err(|e| TrainError::io(path, e))?;
    f.sync_all().map_err(|e| TrainError::io(path, e))
}

fn ck_err(path: &Path, reason: impl Into<String>) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// `latest.json`.
#[derive(Serialize, Deserialize)]
struct Latest {
    dir: String,
}

/// A checkpoint found on disk.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The `epoch-NNNN` directory.
    pub dir: PathBuf,
    /// Its scalar state.
    pub state: TrainState,
}

impl Checkpoint {
    /// Reads `dir/state.json` and checks its format.
    ///
    /// # Errors
    /// [`TrainError::Checkpoint`] when the file is missing, not valid JSON for
    /// [`TrainState`], or of another format.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, TrainError> {
        let dir = dir.into();
        let state_path = dir.join("state.json");
        let text = fs::read(&state_path).map_err(|e| ck_err(&state_path, e.to_string()))?;
        let state: TrainState = serde_json::from_slice(&text)
            .map_err(|e| ck_err(&state_path, format!("is not valid ({e})")))?;
        if state.format != CHECKPOINT_FORMAT {
            return Err(ck_err(
                &state_path,
                format!(
                    "has format {} but this build reads format {CHECKPOINT_FORMAT}",
                    state.format
                ),
            ));
        }
        Ok(Self { dir, state })
    }

    /// Loads the model parameters into `model` (whose structure must match).
    ///
    /// # Errors
    /// [`TrainError::Checkpoint`] when `model.bpk` cannot be read or does not fit.
    pub fn load_model<M: Module>(&self, model: M) -> Result<M, TrainError> {
        let path = self.dir.join("model.bpk");
        let record =
            ModuleRecord::load(&path).map_err(|e| ck_err(&path, format!("cannot read: {e}")))?;
        model.try_load_record(record).map_err(|e| {
            ck_err(
                &path,
                format!("does not fit this model ({e}); was it written with other layer sizes?"),
            )
        })
    }

    /// Loads the optimizer state.
    ///
    /// Burn 0.22's `ModuleOptimizer::load_record` materialises the state on `Device::default()`
    /// (burn-optim `module_optimizer.rs`), which in a build with the `wgpu` feature is the GPU
    /// (or lavapipe) whatever device the run uses; each tensor moves to its parameter's device
    /// on the next step, so a resumed run is unchanged, but that build initialises wgpu once
    /// on resume (Mesa may print `XDG_RUNTIME_DIR` warnings). `BURN_DEVICE=flex` avoids it.
    ///
    /// # Errors
    /// [`TrainError::Checkpoint`] when `optim.bpk` cannot be read.
    pub fn load_optimizer(&self, optim: ModuleOptimizer) -> Result<ModuleOptimizer, TrainError> {
        let path = self.dir.join("optim.bpk");
        optim
            .load(&path)
            .map_err(|e| ck_err(&path, format!("cannot read optimizer state: {e}")))
    }

    /// Whether the checkpoint holds EMA weights (either EMA file is present).
    pub fn has_ema(&self) -> bool {
        self.dir.join(EMA_WEIGHTS_FILE).exists() || self.dir.join(EMA_STATE_FILE).exists()
    }

    /// Loads the EMA weights and state; `model` supplies the architecture and device.
    ///
    /// # Errors
    /// [`TrainError::Checkpoint`] when the checkpoint has no EMA (the run it resumes was
    /// trained without `--ema`) or it does not fit the model.
    pub fn load_ema<M: Module>(&self, model: &M) -> Result<Ema<M>, TrainError> {
        if !self.has_ema() {
            return Err(ck_err(
                &self.dir,
                "holds no EMA weights: the run was trained without --ema; resume it without --ema",
            ));
        }
        Ema::load(model, &self.dir).map_err(|e| ck_err(&self.dir, e.to_string()))
    }
}

/// A checkpoint [`CheckpointDir::resume`] passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedCheckpoint {
    /// The `epoch-NNNN` directory.
    pub dir: PathBuf,
    /// What could not be read.
    pub reason: String,
}

/// What [`CheckpointDir::resume`] restored.
pub struct Resumed<M: Module> {
    /// The checkpoint used.
    pub checkpoint: Checkpoint,
    /// The model with the checkpoint's parameters (and ParamIds).
    pub model: M,
    /// The optimizer with its state.
    pub optim: ModuleOptimizer,
    /// The EMA, when one was asked for.
    pub ema: Option<Ema<M>>,
    /// Newer checkpoints passed over because they are damaged, newest first.
    pub skipped: Vec<SkippedCheckpoint>,
}

/// The `checkpoint/` directory of a run.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    root: PathBuf,
    keep: usize,
}

impl<M: Module> std::fmt::Debug for Resumed<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resumed")
            .field("checkpoint", &self.checkpoint)
            .field("ema", &self.ema.as_ref().map(|e| e.state()))
            .field("skipped", &self.skipped)
            .finish_non_exhaustive()
    }
}

impl CheckpointDir {
    /// A checkpoint directory at `root` keeping the two newest checkpoints.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            keep: 2,
        }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes a checkpoint atomically and makes it the latest. Returns its directory.
    ///
    /// A directory of the same epoch already on disk (only possible after resuming past a
    /// damaged checkpoint) is renamed to `damaged-epoch-NNNN[-K]`, not deleted.
    ///
    /// # Errors
    /// I/O and serialisation errors naming the file.
    pub fn save<M: Module>(
        &self,
        state: &TrainState,
        model: &M,
        optim: &ModuleOptimizer,
        ema: Option<&Ema<M>>,
    ) -> Result<PathBuf, TrainError> {
        fs::create_dir_all(&self.root).map_err(|e| TrainError::io(&self.root, e))?;
        let name = format!("epoch-{:04}", state.epoch);
        let tmp = self
            .root
            .join(format!(".tmp-{name}-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        }
        fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;

        let model_bytes = model
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| ck_err(&tmp, format!("cannot serialise model: {e}")))?;
        write_synced(&tmp.join("model.bpk"), &model_bytes)?;
        let optim_bytes: Bytes = optim
            .into_bytes()
            .map_err(|e| ck_err(&tmp, format!("cannot serialise optimizer: {e}")))?;
        write_synced(&tmp.join("optim.bpk"), &optim_bytes)?;
        if let Some(ema) = ema {
            ema.save(&tmp).map_err(|e| ck_err(&tmp, e.to_string()))?;
        }
        let json = serde_json::to_vec_pretty(state).expect("TrainState serialises");
        write_synced(&tmp.join("state.json"), &json)?;

        let final_dir = self.root.join(&name);
        if final_dir.exists() {
            let aside = self.free_name(&format!("damaged-{name}"));
            fs::rename(&final_dir, &aside).map_err(|e| TrainError::io(&final_dir, e))?;
            println!(
                "kept the checkpoint skipped on resume as {} (replaced by a new {name})",
                aside.display()
            );
        }
        fs::rename(&tmp, &final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
        let latest = serde_json::to_vec(&Latest { dir: name.clone() }).expect("serialises");
        write_atomic(&self.root.join("latest.json"), &latest)?;
        self.prune(&name)?;
        Ok(final_dir)
    }

    /// `root/base`, or `root/base-K` with the first free `K`.
    fn free_name(&self, base: &str) -> PathBuf {
        let first = self.root.join(base);
        if !first.exists() {
            return first;
        }
        (1..)
            .map(|k| self.root.join(format!("{base}-{k}")))
            .find(|p| !p.exists())
            .expect("some suffix is free")
    }

    fn prune(&self, newest: &str) -> Result<(), TrainError> {
        let mut dirs: Vec<String> = self
            .epoch_dirs()?
            .into_iter()
            .map(|(_, name)| name)
            .filter(|n| n.as_str() <= newest)
            .collect();
        dirs.sort();
        let excess = dirs.len().saturating_sub(self.keep);
        for d in &dirs[..excess] {
            let p = self.root.join(d);
            fs::remove_dir_all(&p).map_err(|e| TrainError::io(&p, e))?;
        }
        Ok(())
    }

    /// The `epoch-NNNN` directories, `(epoch, name)`, oldest first.
    fn epoch_dirs(&self) -> Result<Vec<(usize, String)>, TrainError> {
        if !self.root.exists() {
            return Ok(Vec::new());
        }
        let mut dirs: Vec<(usize, String)> = fs::read_dir(&self.root)
            .map_err(|e| TrainError::io(&self.root, e))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let epoch = name.strip_prefix("epoch-")?.parse::<usize>().ok()?;
                Some((epoch, name))
            })
            .collect();
        dirs.sort();
        Ok(dirs)
    }

    /// Whether any checkpoint (intact or not) or `latest.json` is on disk.
    ///
    /// # Errors
    /// I/O errors naming the directory.
    pub fn is_empty(&self) -> Result<bool, TrainError> {
        Ok(!self.root.join("latest.json").exists() && self.epoch_dirs()?.is_empty())
    }

    /// The newest `epoch-NNNN` directory on disk, intact or not.
    ///
    /// # Errors
    /// I/O errors naming the directory.
    pub fn newest_dir(&self) -> Result<Option<PathBuf>, TrainError> {
        Ok(self.epoch_dirs()?.pop().map(|(_, n)| self.root.join(n)))
    }

    /// The checkpoint `latest.json` points to, or `None` when there is none yet.
    ///
    /// # Errors
    /// [`TrainError::Checkpoint`] when `latest.json` or the `state.json` it points to is
    /// unreadable.
    pub fn latest(&self) -> Result<Option<Checkpoint>, TrainError> {
        let latest_path = self.root.join("latest.json");
        if !latest_path.exists() {
            return Ok(None);
        }
        let text = fs::read(&latest_path).map_err(|e| TrainError::io(&latest_path, e))?;
        let latest: Latest = serde_json::from_slice(&text).map_err(|e| {
            ck_err(
                &latest_path,
                format!("is not valid ({e}); delete it to start over"),
            )
        })?;
        Checkpoint::open(self.root.join(&latest.dir)).map(Some)
    }

    /// Restores the newest intact checkpoint into `model`, `optim` and (when `want_ema`) an
    /// EMA with the checkpoint's decay and update count; returns `None` when there is no
    /// checkpoint at all.
    ///
    /// Candidates are the `epoch-NNNN` directories, newest first (`latest.json` only records
    /// the last commit; a directory is complete as soon as it has its final name). One is
    /// taken when its `state.json` parses with this build's format and its `model.bpk`,
    /// `optim.bpk` and, if asked for, EMA files load; otherwise it is recorded in
    /// [`Resumed::skipped`] and the next older one is tried. Nothing is deleted.
    ///
    /// # Errors
    /// [`TrainError::Checkpoint`] when checkpoints exist but none is intact (listing each
    /// with its reason), or when EMA is asked for and the newest readable checkpoint was
    /// written without it (a different run configuration, not damage).
    pub fn resume<M: Module>(
        &self,
        model: &M,
        optim: &ModuleOptimizer,
        want_ema: bool,
    ) -> Result<Option<Resumed<M>>, TrainError> {
        let dirs = self.epoch_dirs()?;
        if dirs.is_empty() {
            return Ok(None);
        }
        let mut skipped = Vec::new();
        for (_, name) in dirs.into_iter().rev() {
            let dir = self.root.join(&name);
            let attempt = (|| {
                let ck = Checkpoint::open(&dir)?;
                let model = ck.load_model(model.clone())?;
                let optim = ck.load_optimizer(optim.clone())?;
                let ema = match want_ema {
                    true if !ck.has_ema() => return Ok(Err(ck)),
                    true => Some(ck.load_ema(&model)?),
                    false => None,
                };
                Ok::<_, TrainError>(Ok((ck, model, optim, ema)))
            })();
            match attempt {
                Ok(Ok((checkpoint, model, optim, ema))) => {
                    return Ok(Some(Resumed {
                        checkpoint,
                        model,
                        optim,
                        ema,
                        skipped,
                    }));
                }
                Ok(Err(ck)) => {
                    return Err(ck_err(
                        &ck.dir,
                        "holds no EMA weights: the run was trained without --ema; resume it \
                         without --ema",
                    ));
                }
                Err(e) => skipped.push(SkippedCheckpoint {
                    dir,
                    reason: e.to_string(),
                }),
            }
        }
        let list: Vec<String> = skipped
            .iter()
            .map(|s| format!("{} ({})", s.dir.display(), s.reason))
            .collect();
        Err(ck_err(
            &self.root,
            format!(
                "no intact checkpoint to resume from: {}; nothing was deleted — repair or move \
                 them away to start over, or choose another --out",
                list.join("; ")
            ),
        ))
    }
}
