//! # deepgen
//!
//! Deep generative models on Burn 0.22. This umbrella crate re-exports the workspace crates
//! under short names; depend on a single crate (`deepgen-tensor`, `deepgen-data`, …) if you
//! need only one part.
//!
//! | module | crate | holds |
//! | --- | --- | --- |
//! | [`tensor`] | `deepgen-tensor` | device choice, host RNG streams, stable numerics, PNG/npy/plot output, `Validate` |
//! | [`data`] | `deepgen-data` | MNIST, 2-D toy densities, batching |
//! | [`distributions`] | `deepgen-distributions` | Gaussian, Bernoulli, … |
//! | [`nn`] | `deepgen-nn` | shared networks: MLP, conv encoder/decoder, ResBlock, attention, time embedding, U-Net |
//! | [`autoencoders`] | `deepgen-autoencoders` | autoencoders and the VAE family |
//! | [`train`] | `deepgen-train` | the training loop, the examples' run driver, `eval.json` reports |
//! | [`eval`] | `deepgen-eval` | the project's MNIST evaluator |
//! | [`flows`] | `deepgen-flows` | MADE, IAF, MAF, autoregressive-flow priors |
//! | [`diffusion`] | `deepgen-diffusion` | noise schedules, DDPM/DDIM/DPM-Solver++ samplers, Analytic-DPM, the variational bound, DDPM on MNIST |
//! | [`vq`] | `deepgen-vq` | vector quantizer, VQ-VAE, VQ-VAE-2, gated PixelCNN priors |

pub use deepgen_autoencoders as autoencoders;
pub use deepgen_data as data;
pub use deepgen_diffusion as diffusion;
pub use deepgen_distributions as distributions;
pub use deepgen_eval as eval;
pub use deepgen_flows as flows;
pub use deepgen_nn as nn;
pub use deepgen_tensor as tensor;
pub use deepgen_train as train;
pub use deepgen_vq as vq;
