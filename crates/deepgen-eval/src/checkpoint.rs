//! Where the classifier's weights live, and the small cache beside them.
//!
//! The trained classifier is committed to the repository as a burnpack file,
//! [`COMMITTED_CHECKPOINT`] (`data/models/mnist_classifier.bpk`), so that
//! evaluation never trains in CI. [`resolve_checkpoint`] looks, in order, at
//! 1. `$DEEPGEN_CLASSIFIER` (a file path) — a deliberate choice, so no fall-through;
//! 2. the committed file;
//! 3. the user cache: `$DEEPGEN_CACHE/models/`, else `$XDG_CACHE_HOME/deepgen/models/`,
//!    else `$HOME/.cache/deepgen/models/` (file `mnist_classifier.bpk`).
//!
//! Next to a checkpoint `X.bpk` sits `X.json` ([`EvaluatorCache`]): the
//! train-vs-test Fréchet floor and the test accuracy, tagged with an FNV-1a
//! hash of the checkpoint bytes so a retrained checkpoint never reuses a
//! stale floor.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::EvalError;
use crate::classifier::{MnistClassifier, MnistClassifierConfig};

/// Environment variable naming a classifier checkpoint file to use instead of the committed one.
pub const CLASSIFIER_ENV: &str = "DEEPGEN_CLASSIFIER";

/// The committed checkpoint, located at compile time relative to this crate.
pub const COMMITTED_CHECKPOINT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/models/mnist_classifier.bpk"
);

/// File name of the checkpoint inside the user cache's `models/` directory.
pub const CHECKPOINT_FILE_NAME: &str = "mnist_classifier.bpk";

/// Where a checkpoint path came from (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointSource {
    /// `$DEEPGEN_CLASSIFIER`.
    Env(PathBuf),
    /// The committed repository file.
    Committed(PathBuf),
    /// The user cache.
    UserCache(PathBuf),
}

impl CheckpointSource {
    /// The file path.
    pub fn path(&self) -> &Path {
        match self {
            CheckpointSource::Env(p)
            | CheckpointSource::Committed(p)
            | CheckpointSource::UserCache(p) => p,
        }
    }
}

/// The search result of [`resolve_checkpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedCheckpoint {
    /// An existing file to load.
    Found(CheckpointSource),
    /// No file exists: train, then save to the first writable of these paths.
    Missing {
        /// Candidate save locations, in order of preference.
        save_to: Vec<PathBuf>,
    },
}

/// The user-cache checkpoint path for the given variable values
/// (`DEEPGEN_CACHE`, `XDG_CACHE_HOME`, `HOME`), if any can be formed.
pub fn user_cache_checkpoint_in(
    deepgen_cache: Option<&Path>,
    xdg_cache_home: Option<&Path>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    let dir = if let Some(c) = deepgen_cache {
        c.join("models")
    } else if let Some(x) = xdg_cache_home.filter(|x| x.is_absolute()) {
        x.join("deepgen").join("models")
    } else {
        home?.join(".cache").join("deepgen").join("models")
    };
    Some(dir.join(CHECKPOINT_FILE_NAME))
}

fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The user-cache checkpoint path from the process environment.
pub fn user_cache_checkpoint() -> Option<PathBuf> {
    user_cache_checkpoint_in(
        env_path("DEEPGEN_CACHE").as_deref(),
        env_path("XDG_CACHE_HOME").as_deref(),
        env_path("HOME").as_deref(),
    )
}

/// Runs the search of the [module docs](self) on the process environment.
pub fn resolve_checkpoint() -> ResolvedCheckpoint {
    resolve_checkpoint_in(
        env_path(CLASSIFIER_ENV),
        PathBuf::from(COMMITTED_CHECKPOINT),
        user_cache_checkpoint(),
    )
}

/// The search of [`resolve_checkpoint`] on explicit values (for tests).
pub fn resolve_checkpoint_in(
    from_env: Option<PathBuf>,
    committed: PathBuf,
    user_cache: Option<PathBuf>,
) -> ResolvedCheckpoint {
    if let Some(p) = from_env {
        return if p.is_file() {
            ResolvedCheckpoint::Found(CheckpointSource::Env(p))
        } else {
            ResolvedCheckpoint::Missing { save_to: vec![p] }
        };
    }
    if committed.is_file() {
        return ResolvedCheckpoint::Found(CheckpointSource::Committed(committed));
    }
    if let Some(c) = user_cache.as_ref().filter(|c| c.is_file()) {
        return ResolvedCheckpoint::Found(CheckpointSource::UserCache(c.clone()));
    }
    let mut save_to = vec![committed];
    save_to.extend(user_cache);
    ResolvedCheckpoint::Missing { save_to }
}

/// Loads a classifier of the default architecture ([`MnistClassifierConfig::new`]) from a burnpack file.
///
/// # Errors
/// [`EvalError::Checkpoint`] if the file is missing, unreadable, or holds
/// weights of another architecture.
pub fn load_classifier(path: &Path, device: &Device) -> Result<MnistClassifier, EvalError> {
    if !path.is_file() {
        return Err(EvalError::Checkpoint {
            path: path.to_path_buf(),
            message: "file not found".into(),
        });
    }
    MnistClassifierConfig::new()
        .init(device)
        .try_load_file(path)
        .map_err(|e| EvalError::Checkpoint {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Saves the classifier's weights as burnpack to `path`, creating parent directories.
///
/// # Errors
/// [`EvalError::Io`] if the directory cannot be created, [`EvalError::Checkpoint`] if writing fails.
pub fn save_classifier(model: &MnistClassifier, path: &Path) -> Result<(), EvalError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| EvalError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    model
        .clone()
        .save_file(path)
        .map_err(|e| EvalError::Checkpoint {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// 64-bit FNV-1a hash of a byte string, as 16 hex digits.
pub fn fnv1a_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The FNV-1a hash of a checkpoint file's bytes.
///
/// # Errors
/// [`EvalError::Io`] if the file cannot be read.
pub fn checkpoint_fingerprint(path: &Path) -> Result<String, EvalError> {
    let bytes = std::fs::read(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(fnv1a_hex(&bytes))
}

/// Values derived from a checkpoint that are worth not recomputing, stored as
/// JSON next to it ([`EvaluatorCache::path_for`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluatorCache {
    /// [`checkpoint_fingerprint`] of the checkpoint these values belong to.
    pub checkpoint_fnv1a: String,
    /// Fréchet distance between `floor_images` training images and the test set.
    pub floor: f64,
    /// Number of training images behind `floor`.
    pub floor_images: usize,
    /// Seed of the training-image selection behind `floor`.
    pub floor_seed: u64,
    /// The classifier's accuracy on the MNIST test split.
    pub test_accuracy: f64,
}

impl EvaluatorCache {
    /// `X.json` for checkpoint `X.bpk`.
    pub fn path_for(checkpoint: &Path) -> PathBuf {
        checkpoint.with_extension("json")
    }

    /// Reads the cache beside `checkpoint` if it exists, parses, and matches
    /// `fingerprint`, `floor_images` and `floor_seed`; `None` otherwise (a
    /// stale or damaged cache is simply recomputed).
    pub fn read_matching(
        checkpoint: &Path,
        fingerprint: &str,
        floor_images: usize,
        floor_seed: u64,
    ) -> Option<Self> {
        let text = std::fs::read_to_string(Self::path_for(checkpoint)).ok()?;
        let cache: Self = serde_json::from_str(&text).ok()?;
        let ok = cache.checkpoint_fnv1a == fingerprint
            && cache.floor_images == floor_images
            && cache.floor_seed == floor_seed
            && cache.floor.is_finite()
            && cache.test_accuracy.is_finite();
        ok.then_some(cache)
    }

    /// Writes the cache beside `checkpoint` (pretty JSON).
    ///
    /// # Errors
    /// [`EvalError::Io`] if the file cannot be written.
    pub fn write(&self, checkpoint: &Path) -> Result<(), EvalError> {
        let path = Self::path_for(checkpoint);
        let text = serde_json::to_string_pretty(self).expect("EvaluatorCache serialises");
        std::fs::write(&path, text + "\n").map_err(|source| EvalError::Io { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_published_vectors() {
        // FNV-1a 64 test vectors (Fowler/Noll/Vo reference, fnv_test.c):
        // "" → cbf29ce484222325, "a" → af63dc4c8601ec8c, "foobar" → 85944171f73967e8.
        assert_eq!(fnv1a_hex(b""), "cbf29ce484222325");
        assert_eq!(fnv1a_hex(b"a"), "af63dc4c8601ec8c");
        assert_eq!(fnv1a_hex(b"foobar"), "85944171f73967e8");
    }

    #[test]
    fn user_cache_path_order() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            user_cache_checkpoint_in(Some(&p("/c")), Some(&p("/x")), Some(&p("/h"))),
            Some(p("/c/models/mnist_classifier.bpk"))
        );
        assert_eq!(
            user_cache_checkpoint_in(None, Some(&p("/x")), Some(&p("/h"))),
            Some(p("/x/deepgen/models/mnist_classifier.bpk"))
        );
        // A relative XDG_CACHE_HOME is ignored, as the XDG spec says.
        assert_eq!(
            user_cache_checkpoint_in(None, Some(&p("rel")), Some(&p("/h"))),
            Some(p("/h/.cache/deepgen/models/mnist_classifier.bpk"))
        );
        assert_eq!(user_cache_checkpoint_in(None, None, None), None);
    }

    #[test]
    fn resolution_order() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let present = dir.join("present.bpk");
        std::fs::write(&present, b"x").unwrap();
        let absent = dir.join("absent.bpk");

        // The environment wins, and does not fall through when its file is missing.
        assert_eq!(
            resolve_checkpoint_in(Some(present.clone()), absent.clone(), None),
            ResolvedCheckpoint::Found(CheckpointSource::Env(present.clone()))
        );
        assert_eq!(
            resolve_checkpoint_in(Some(absent.clone()), present.clone(), None),
            ResolvedCheckpoint::Missing {
                save_to: vec![absent.clone()]
            }
        );
        // Committed before user cache; user cache when the committed file is gone.
        assert_eq!(
            resolve_checkpoint_in(None, present.clone(), Some(present.clone())),
            ResolvedCheckpoint::Found(CheckpointSource::Committed(present.clone()))
        );
        assert_eq!(
            resolve_checkpoint_in(None, absent.clone(), Some(present.clone())),
            ResolvedCheckpoint::Found(CheckpointSource::UserCache(present.clone()))
        );
        let other = dir.join("other.bpk");
        assert_eq!(
            resolve_checkpoint_in(None, absent.clone(), Some(other.clone())),
            ResolvedCheckpoint::Missing {
                save_to: vec![absent, other]
            }
        );
    }

    #[test]
    fn cache_round_trip_and_staleness() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let ckpt = dir.join("m.bpk");
        let cache = EvaluatorCache {
            checkpoint_fnv1a: "0123456789abcdef".into(),
            floor: 1.25,
            floor_images: 10_000,
            floor_seed: 0,
            test_accuracy: 0.99,
        };
        cache.write(&ckpt).unwrap();
        assert_eq!(EvaluatorCache::path_for(&ckpt), dir.join("m.json"));
        assert_eq!(
            EvaluatorCache::read_matching(&ckpt, "0123456789abcdef", 10_000, 0),
            Some(cache)
        );
        assert_eq!(
            EvaluatorCache::read_matching(&ckpt, "ffffffffffffffff", 10_000, 0),
            None
        );
        assert_eq!(
            EvaluatorCache::read_matching(&ckpt, "0123456789abcdef", 5_000, 0),
            None
        );
        std::fs::write(EvaluatorCache::path_for(&ckpt), "{ not json").unwrap();
        assert_eq!(
            EvaluatorCache::read_matching(&ckpt, "0123456789abcdef", 10_000, 0),
            None
        );
    }

    #[test]
    fn missing_or_foreign_checkpoint_is_a_named_error() {
        let device = Device::flex();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let missing = dir.join("nope.bpk");
        let err = load_classifier(&missing, &device).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("nope.bpk") && msg.contains("train_classifier"),
            "{msg}"
        );

        let garbage = dir.join("garbage.bpk");
        std::fs::write(&garbage, b"not a burnpack file").unwrap();
        assert!(matches!(
            load_classifier(&garbage, &device),
            Err(EvalError::Checkpoint { .. })
        ));

        // A round trip through save/load keeps the weights exactly.
        let model = MnistClassifierConfig::new().init(&device);
        let path = dir.join("sub/dir/model.bpk");
        save_classifier(&model, &path).unwrap();
        let back = load_classifier(&path, &device).unwrap();
        let a = model
            .fc2
            .weight
            .val()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        let b = back
            .fc2
            .weight
            .val()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        assert_eq!(a, b);
    }
}
