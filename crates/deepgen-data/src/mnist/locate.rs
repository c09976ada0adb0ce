//! Where MNIST comes from: an ordered search over directories, then a download.
//!
//! Order (first success wins):
//! 1. the explicit directory (`--data DIR`) — if given, it is the only place
//!    looked at, and its error is returned as is;
//! 2. `$DEEPGEN_DATA` — also a deliberate choice, so also no fall-through;
//! 3. the repository's bundled `data/mnist/` (path fixed at compile time);
//! 4. `./data/mnist` relative to the current directory;
//! 5. the user cache: `$DEEPGEN_CACHE/mnist`, else `$XDG_CACHE_HOME/deepgen/mnist`,
//!    else `$HOME/.cache/deepgen/mnist`;
//! 6. a download into that cache (cargo feature `download`, skipped when
//!    `DEEPGEN_NO_DOWNLOAD` is set).
//!
//! When every step fails the error ([`DataError::NotFound`]) lists each place
//! with its reason and says how to fix it. The environment is read once into
//! a [`SearchEnv`], so tests can run the search on values of their own
//! without touching the process environment or the network.

use std::path::{Path, PathBuf};

use super::dataset::{Mnist, mnist_dir_in};
use crate::error::{Attempt, DataError};

/// Environment variable naming a data directory (holding the four files, or a `mnist/` subdirectory).
pub const DATA_ENV: &str = "DEEPGEN_DATA";
/// Environment variable naming deepgen's cache root (MNIST goes into `mnist/` below it).
pub const CACHE_ENV: &str = "DEEPGEN_CACHE";
/// Environment variable that, when set to anything but `0`/`false`/`no`/`off`/empty, forbids downloading.
pub const NO_DOWNLOAD_ENV: &str = "DEEPGEN_NO_DOWNLOAD";

/// The repository's bundled MNIST directory, fixed when this crate is compiled.
pub const BUNDLED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist");

/// The inputs of the search, as plain values (see [`SearchEnv::from_process`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchEnv {
    /// `$DEEPGEN_DATA`.
    pub data: Option<PathBuf>,
    /// `$DEEPGEN_CACHE`.
    pub cache: Option<PathBuf>,
    /// `$XDG_CACHE_HOME` (ignored unless absolute, as the XDG spec says).
    pub xdg_cache_home: Option<PathBuf>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// Whether `$DEEPGEN_NO_DOWNLOAD` forbids the download step.
    pub no_download: bool,
    /// The bundled directory ([`BUNDLED_DIR`], canonicalised), or `None` to skip that step.
    pub bundled: Option<PathBuf>,
    /// The current directory, for `./data/mnist`, or `None` to skip that step.
    pub current_dir: Option<PathBuf>,
}

impl SearchEnv {
    /// Reads the variables of the running process (empty values count as unset).
    pub fn from_process() -> SearchEnv {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        SearchEnv {
            data: var(DATA_ENV),
            cache: var(CACHE_ENV),
            xdg_cache_home: var("XDG_CACHE_HOME"),
            home: var("HOME"),
            no_download: std::env::var_os(NO_DOWNLOAD_ENV)
                .is_some_and(|v| flag_is_set(&v.to_string_lossy())),
            bundled: Some(
                std::fs::canonicalize(BUNDLED_DIR).unwrap_or_else(|_| PathBuf::from(BUNDLED_DIR)),
            ),
            current_dir: std::env::current_dir().ok(),
        }
    }

    /// The MNIST cache directory these values select, if any can be formed.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        if let Some(c) = &self.cache {
            return Some(c.join("mnist"));
        }
        if let Some(x) = self.xdg_cache_home.as_ref().filter(|x| x.is_absolute()) {
            return Some(x.join("deepgen").join("mnist"));
        }
        self.home
            .as_ref()
            .map(|h| h.join(".cache").join("deepgen").join("mnist"))
    }
}

/// Whether an environment flag's value means "on".
pub fn flag_is_set(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    !(v.is_empty() || v == "0" || v == "false" || v == "no" || v == "off")
}

impl Mnist {
    /// Finds and reads MNIST, trying the places listed in the
    /// [module docs](crate::mnist) in order (`explicit_dir` is `--data DIR`).
    ///
    /// # Errors
    /// The directory's own error when `explicit_dir` or `$DEEPGEN_DATA` is
    /// given and fails; otherwise [`DataError::NotFound`] listing every place tried.
    pub fn load(explicit_dir: Option<&Path>) -> Result<Mnist, DataError> {
        load_with(explicit_dir, &SearchEnv::from_process(), default_download)
    }
}

/// The download step used by [`Mnist::load`]: the public mirrors, when the
/// `download` feature is compiled in.
fn default_download(dir: &Path) -> Result<(), String> {
    #[cfg(feature = "download")]
    {
        super::download::download_mnist(dir).map_err(|e| e.to_string())
    }
    #[cfg(not(feature = "download"))]
    {
        let _ = dir;
        Err("this build of deepgen-data has no `download` feature".to_string())
    }
}

/// The search behind [`Mnist::load`], on given values and with a given
/// download step (`download(dir)` must leave the four files in `dir`).
///
/// # Errors
/// As [`Mnist::load`].
pub fn load_with(
    explicit_dir: Option<&Path>,
    env: &SearchEnv,
    download: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<Mnist, DataError> {
    if let Some(dir) = explicit_dir {
        return Mnist::load_dir(dir);
    }
    if let Some(dir) = &env.data {
        return Mnist::load_dir(dir);
    }
    let mut attempts = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut try_dir = |place: String, dir: &Path, attempts: &mut Vec<Attempt>| {
        let key = std::fs::canonicalize(mnist_dir_in(dir)).unwrap_or_else(|_| dir.to_path_buf());
        if seen.contains(&key) {
            return None;
        }
        seen.push(key);
        if !dir.is_dir() {
            attempts.push(Attempt {
                place,
                reason: "no such directory".to_string(),
            });
            return None;
        }
        match Mnist::load_dir(dir) {
            Ok(m) => Some(m),
            Err(e) => {
                attempts.push(Attempt {
                    place,
                    reason: e.to_string(),
                });
                None
            }
        }
    };
    if let Some(dir) = &env.bundled {
        let place = format!("bundled data ({})", dir.display());
        if let Some(m) = try_dir(place, dir, &mut attempts) {
            return Ok(m);
        }
    }
    if let Some(cwd) = &env.current_dir {
        let dir = cwd.join("data").join("mnist");
        let place = format!("./data/mnist ({})", dir.display());
        if let Some(m) = try_dir(place, &dir, &mut attempts) {
            return Ok(m);
        }
    }
    let cache = env.cache_dir();
    match &cache {
        Some(dir) => {
            let place = format!("user cache ({})", dir.display());
            if let Some(m) = try_dir(place, dir, &mut attempts) {
                return Ok(m);
            }
        }
        None => attempts.push(Attempt {
            place: "user cache".to_string(),
            reason: "none of DEEPGEN_CACHE, XDG_CACHE_HOME (absolute) or HOME is set".to_string(),
        }),
    }
    let place = "download from public mirrors".to_string();
    let reason = match &cache {
        _ if env.no_download => format!("skipped because {NO_DOWNLOAD_ENV} is set"),
        None => "skipped: there is no cache directory to download into".to_string(),
        Some(dir) => match download(dir).and_then(|()| {
            Mnist::load_dir(dir).map_err(|e| format!("downloaded files do not load: {e}"))
        }) {
            Ok(m) => return Ok(m),
            Err(e) => e,
        },
    };
    attempts.push(Attempt { place, reason });
    Err(DataError::NotFound { attempts })
}
