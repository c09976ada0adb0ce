//! Run-time backend choice: one way to pick a Burn [`Device`] everywhere.
//!
//! Every example takes `--device NAME`; without it the `DEEPGEN_DEVICE`
//! environment variable is read; without that, `flex` is used. A backend
//! whose cargo feature was not compiled in is an error that names the
//! feature to enable, never a panic.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

/// Environment variable read when no explicit device name is given.
pub const DEVICE_ENV: &str = "DEEPGEN_DEVICE";

/// The backends deepgen knows how to select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// `burn-flex`: the fast pure-Rust CPU backend (default).
    Flex,
    /// `burn-ndarray`: deprecated upstream, kept for comparison.
    NdArray,
    /// `burn-wgpu` on the best adapter wgpu finds (a GPU when there is one).
    Wgpu,
    /// `burn-wgpu` pinned to a CPU adapter (e.g. Mesa's lavapipe).
    WgpuCpu,
    /// `burn-cuda` on the first NVIDIA GPU (CUDA driver loaded at run time).
    Cuda,
}

impl BackendKind {
    /// Every backend name accepted by `--device`, in documentation order.
    pub const ALL: [BackendKind; 5] = [
        BackendKind::Flex,
        BackendKind::NdArray,
        BackendKind::Wgpu,
        BackendKind::WgpuCpu,
        BackendKind::Cuda,
    ];

    /// The name used on the command line and in `DEEPGEN_DEVICE`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::NdArray => "ndarray",
            BackendKind::Wgpu => "wgpu",
            BackendKind::WgpuCpu => "wgpu-cpu",
            BackendKind::Cuda => "cuda",
        }
    }

    /// The cargo feature (of `deepgen` and of every deepgen crate) that compiles it in.
    pub fn feature(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::NdArray => "ndarray",
            BackendKind::Wgpu | BackendKind::WgpuCpu => "wgpu",
            BackendKind::Cuda => "cuda",
        }
    }

    /// Whether this build of deepgen contains the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            BackendKind::Flex => cfg!(feature = "flex"),
            BackendKind::NdArray => cfg!(feature = "ndarray"),
            BackendKind::Wgpu | BackendKind::WgpuCpu => cfg!(feature = "wgpu"),
            BackendKind::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The backends compiled into this build.
    pub fn compiled() -> Vec<BackendKind> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// Creates the (non-autodiff) device for this backend.
    ///
    /// Call [`Device::autodiff`] on the result to train.
    pub fn device(self) -> Result<Device, DeviceError> {
        if !self.is_compiled() {
            return Err(DeviceError::NotCompiled {
                backend: self.name(),
                feature: self.feature(),
            });
        }
        Ok(self.device_unchecked())
    }

    #[allow(unreachable_code, unused_variables)]
    fn device_unchecked(self) -> Device {
        match self {
            BackendKind::Flex => {
                #[cfg(feature = "flex")]
                return Device::flex();
            }
            BackendKind::NdArray => {
                #[cfg(feature = "ndarray")]
                #[allow(deprecated)]
                return Device::ndarray();
            }
            BackendKind::Wgpu => {
                #[cfg(feature = "wgpu")]
                return Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
            }
            BackendKind::WgpuCpu => {
                #[cfg(feature = "wgpu")]
                return Device::wgpu(burn::tensor::DeviceKind::Cpu);
            }
            BackendKind::Cuda => {
                #[cfg(feature = "cuda")]
                return Device::cuda(0);
            }
        }
        unreachable!("backend {} checked as compiled", self.name())
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        BackendKind::ALL
            .into_iter()
            .find(|b| b.name() == lower || (lower == "nd-array" && *b == BackendKind::NdArray))
            .ok_or_else(|| DeviceError::Unknown {
                given: s.to_string(),
            })
    }
}

/// Why a device could not be selected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The name is not one of [`BackendKind::ALL`].
    #[error("unknown device `{given}`: expected one of flex, ndarray, wgpu, wgpu-cpu, cuda")]
    Unknown {
        /// What the user typed.
        given: String,
    },
    /// The backend exists but this binary was built without it.
    #[error(
        "device `{backend}` is not compiled into this build: rebuild with `--features {feature}` \
         (e.g. `cargo run --release --features {feature} --example vae -- --device {backend}`)"
    )]
    NotCompiled {
        /// Backend name.
        backend: &'static str,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
}

/// Resolves the backend from an explicit name, else `DEEPGEN_DEVICE`, else `flex`.
///
/// An empty `DEEPGEN_DEVICE` counts as unset.
pub fn resolve_backend(explicit: Option<&str>) -> Result<BackendKind, DeviceError> {
    let from_env = std::env::var(DEVICE_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty());
    match explicit.map(str::to_string).or(from_env) {
        Some(name) => name.parse(),
        None => Ok(BackendKind::Flex),
    }
}

/// [`resolve_backend`] followed by [`BackendKind::device`].
pub fn select_device(explicit: Option<&str>) -> Result<(BackendKind, Device), DeviceError> {
    let kind = resolve_backend(explicit)?;
    Ok((kind, kind.device()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in BackendKind::ALL {
            assert_eq!(b.name().parse::<BackendKind>().unwrap(), b);
            assert_eq!(b.to_string(), b.name());
        }
        assert_eq!("  FLEX ".parse::<BackendKind>().unwrap(), BackendKind::Flex);
    }

    #[test]
    fn unknown_name_is_an_error_listing_choices() {
        let err = "cuda9".parse::<BackendKind>().unwrap_err();
        assert_eq!(
            err,
            DeviceError::Unknown {
                given: "cuda9".into()
            }
        );
        let msg = err.to_string();
        assert!(
            msg.contains("cuda9") && msg.contains("flex") && msg.contains("wgpu-cpu"),
            "{msg}"
        );
    }

    #[test]
    fn explicit_name_wins_over_environment() {
        // Not touching the environment here (tests run in parallel); an explicit
        // name never reads it.
        assert_eq!(
            resolve_backend(Some("ndarray")).unwrap(),
            BackendKind::NdArray
        );
    }

    #[test]
    fn not_compiled_error_names_the_cargo_feature() {
        // The test build compiles every backend, so build the error directly.
        let e = DeviceError::NotCompiled {
            backend: BackendKind::Wgpu.name(),
            feature: BackendKind::Wgpu.feature(),
        };
        let msg = e.to_string();
        assert!(
            msg.contains("wgpu") && msg.contains("--features wgpu"),
            "{msg}"
        );
    }

    #[test]
    fn missing_backend_names_its_feature() {
        for b in BackendKind::ALL {
            match b.device() {
                Ok(_) => assert!(b.is_compiled()),
                Err(e) => {
                    assert!(!b.is_compiled());
                    assert_eq!(
                        e,
                        DeviceError::NotCompiled {
                            backend: b.name(),
                            feature: b.feature()
                        }
                    );
                    assert!(
                        e.to_string()
                            .contains(&format!("--features {}", b.feature()))
                    );
                }
            }
        }
    }
}
