//! Atomic, resumable checkpoints.
//!
//! Layout of `OUT/checkpoint/`:
//! ```text
//! latest.json            {"dir": "epoch-0003"}   ← the commit point, replaced atomically
//! epoch-0003/model.bpk   model parameters (Burn's burnpack record, ParamIds included)
//! epoch-0003/optim.bpk   optimizer state (keyed by ParamId, so it re-attaches on load)
//! epoch-0003/ema.bpk     EMA weights, when EMA is on (+ ema.json: decay, updates)
//! epoch-0003/state.json  epoch, global step, seed, host-RNG state
//! ```
//! A checkpoint is first written complete into a hidden temporary directory, each file
//! `fsync`ed, then renamed into place; only then is `latest.json` replaced (temp file +
//! rename). A crash at any moment therefore leaves either the previous or the new checkpoint
//! as "latest", never a torn one. The two newest checkpoint directories are kept.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::ema::Ema;

/// Version of the checkpoint layout; bumped on incompatible changes.
pub const CHECKPOINT_FORMAT: u32 = 1;

/// Everything besides tensors that `--resume` needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Layout version ([`CHECKPOINT_FORMAT`]).
    pub format: u32,
    /// Number of completed epochs.
    pub epoch: usize,
    /// Number of completed optimizer steps.
    pub step: u64,
    /// The run's seed.
    pub seed: u64,
    /// Host RNG state at the end of the epoch.
    pub rng: [u64; 4],
    /// Wall-clock seconds spent training so far (summed over resumed runs).
    pub elapsed_s: f64,
}

/// Writes `bytes` to `path` atomically (see [`deepgen_tensor::output::write_file_atomic`]).
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
    /// Loads the model parameters into `model` (whose structure must match).
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
    pub fn load_optimizer(&self, optim: ModuleOptimizer) -> Result<ModuleOptimizer, TrainError> {
        let path = self.dir.join("optim.bpk");
        optim
            .load(&path)
            .map_err(|e| ck_err(&path, format!("cannot read optimizer state: {e}")))
    }

    /// Loads the EMA weights and state; `model` supplies the architecture and device.
    ///
    /// # Errors
    /// [`TrainError::Checkpoint`] when the checkpoint has no EMA (the run it resumes was
    /// trained without `--ema`) or it does not fit the model.
    pub fn load_ema<M: Module>(&self, model: &M) -> Result<Ema<M>, TrainError> {
        if !self.dir.join(crate::ema::EMA_WEIGHTS_FILE).exists() {
            return Err(ck_err(
                &self.dir,
                "holds no EMA weights: the run was trained without --ema; resume it without --ema",
            ));
        }
        Ema::load(model, &self.dir).map_err(|e| ck_err(&self.dir, e.to_string()))
    }
}

/// The `checkpoint/` directory of a run.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    root: PathBuf,
    keep: usize,
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
            // Only possible when re-running an epoch after a resume: the old copy is not
            // "latest" any more once we get here (latest points to an earlier epoch).
            fs::remove_dir_all(&final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
        }
        fs::rename(&tmp, &final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
        let latest = serde_json::to_vec(&Latest { dir: name.clone() }).expect("serialises");
        write_atomic(&self.root.join("latest.json"), &latest)?;
        self.prune(&name)?;
        Ok(final_dir)
    }

    fn prune(&self, newest: &str) -> Result<(), TrainError> {
        let mut dirs: Vec<String> = fs::read_dir(&self.root)
            .map_err(|e| TrainError::io(&self.root, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("epoch-") && n.as_str() <= newest)
            .collect();
        dirs.sort();
        let excess = dirs.len().saturating_sub(self.keep);
        for d in &dirs[..excess] {
            let p = self.root.join(d);
            fs::remove_dir_all(&p).map_err(|e| TrainError::io(&p, e))?;
        }
        Ok(())
    }

    /// The latest complete checkpoint, or `None` when there is none yet.
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
        let dir = self.root.join(&latest.dir);
        let state_path = dir.join("state.json");
        let text = fs::read(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
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
        Ok(Some(Checkpoint { dir, state }))
    }
}
