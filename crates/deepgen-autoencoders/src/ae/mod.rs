//! Deterministic autoencoders: plain, denoising (Gaussian and masking noise), sparse (KL
//! penalty on the mean activation), k-sparse (top-k code) and contractive (analytic encoder
//! Jacobian), sharing one model type with MLP or convolutional nets.
//!
//! - [`model`]: [`Autoencoder`] / [`AutoencoderConfig`] (encoder net → code activation →
//!   decoder net producing Bernoulli logits);
//! - [`kind`]: [`AeKind`], the objective, with command-line names (`plain`,
//!   `denoising-gaussian:0.5`, `denoising-masking:0.25`, `sparse:0.05`, `k-sparse:32`,
//!   `contractive`);
//! - [`loss`]: reconstruction cross-entropy (nats per image) and MSE per pixel;
//! - [`corruption`]: the denoising noise, drawn from a [`deepgen_tensor::HostRng`];
//! - [`sparse`], [`ksparse`], [`contractive`]: the three regularisers;
//! - [`terms`]: one forward pass → [`AeTerms`] (every term separately, and the weighted loss);
//! - [`task`]: [`AeTask`], the whole thing as a [`deepgen_train::Task`].
//!
//! Loss weights are not part of the model: the task reads them from the trainer's schedules
//! (`"sparsity"`, `"contraction"`, and `"k"` for the number of kept units).

pub mod contractive;
pub mod corruption;
pub mod error;
pub mod kind;
pub mod ksparse;
pub mod loss;
pub mod model;
pub mod sparse;
pub mod task;
pub mod terms;

pub use contractive::contractive_penalty;
pub use corruption::Corruption;
pub use error::AeError;
pub use kind::AeKind;
pub use ksparse::{k_at, keep_top_k};
pub use loss::{bernoulli_cross_entropy, mse_per_element};
pub use model::{Autoencoder, AutoencoderConfig, CodeActivation};
pub use sparse::sparsity_kl;
pub use task::{AeBatch, AeTask};
pub use terms::{AeTerms, ae_terms};
