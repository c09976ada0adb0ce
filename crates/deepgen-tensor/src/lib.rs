//! # deepgen-tensor
//!
//! The ground floor of deepgen:
//! - [`device`]: run-time backend choice (`--device` / `DEEPGEN_DEVICE`), with
//!   errors that name the cargo feature to enable;
//! - [`config`]: [`ConfigError`] and the [`Validate`] trait — the one validation style of
//!   every deepgen config;
//! - [`rng`]: a seedable, checkpointable host RNG and its named [`Stream`]s;
//! - [`numerics`]: stable functions Burn lacks (logsumexp, softplus, log1mexp,
//!   lgamma, digamma, log Bessel `ln I_ν` and the von Mises–Fisher
//!   log-normaliser) on tensors and on the host in f64;
//! - [`output`]: PNG sample grids, `.npy` files and plots (loss curves, scatter plots,
//!   2-D density heat-maps);
//! - `flex` (with the `flex` feature): helpers for deepgen's own kernels on the flex backend.
//!
//! Every other deepgen crate builds on these; none of them picks a backend itself.

pub mod config;
pub mod device;
#[cfg(feature = "flex")]
pub mod flex;
pub mod rng;

pub use config::{ConfigError, Validate};
pub use device::{BackendKind, DeviceError, resolve_backend, select_device};
pub use rng::{HostRng, Stream};
pub mod numerics;
pub mod output;
pub use output::{
    OutputError, PlotOptions, RgbImage, image_grid_to_rgb8, read_npy_f32, save_density_heatmap,
    save_image_grid, save_line_plot, save_line_plot_with, save_scatter_plot, write_npy_f32,
    write_npy_i64,
};
