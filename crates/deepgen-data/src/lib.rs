//! # deepgen-data
//!
//! The data every deepgen model trains on:
//! - [`mnist`]: strict reading of the MNIST IDX files (raw or gzip), the
//!   search for them (`--data`, `DEEPGEN_DATA`, bundled `data/mnist/`, user
//!   cache, verified download) and [`MnistSplit`] / [`Mnist`];
//! - [`binarize`]: pixels to `f32` in `[0, 1]`, or to bits by static or
//!   dynamic Bernoulli binarisation ([`Binarization`]);
//! - [`batch`]: seeded, reproducible epoch orders ([`BatchPlan`]) and the
//!   helpers that turn a split plus indices into Burn tensors;
//! - [`toy`]: 2-D toy densities ([`ToyDensity`]) for flows and diffusion, with
//!   exact log-densities where they exist;
//! - [`error`]: [`DataError`], the single error type.
//!
//! Typical flow: `Mnist::load(args.data)?` → `BatchPlan::new(..)?.epoch(e)` →
//! for each index batch `images_tensor(&split, &idx, bin, &mut rng, &device)`.
//! Randomness comes from [`deepgen_tensor::HostRng`], so equal seeds give
//! equal batches on every backend.

pub mod batch;
pub mod binarize;
pub mod error;
pub mod mnist;
pub mod toy;

pub use batch::{
    BatchPlan, EpochBatches, epoch_batches, images_host, images_tensor, images_tensor_4d,
    labels_tensor,
};
pub use binarize::{Binarization, static_binarized};
pub use error::{Attempt, DataError};
pub use mnist::{Mnist, MnistSplit, split_validation};
pub use toy::ToyDensity;
