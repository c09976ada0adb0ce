//! What the tasks and the evaluation need from a VAE-family model, implemented by every model
//! in [`crate::models`]: [`VariationalModel`] (a training step, the ELBO parts, prior samples,
//! importance weights — what [`VaeTask`](crate::tasks::vae_task::VaeTask) drives) and
//! [`LatentCodec`] (a deterministic code for the latent tools of [`crate::eval`]).

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use deepgen_tensor::HostRng;
use deepgen_tensor::config::{ConfigError, Validate};
use deepgen_train::{StepContext, StepOutput};

use crate::objective::VaeObjective;
use crate::objective::importance::ImportanceSampled;

/// What [`VaeTask`](crate::tasks::vae_task::VaeTask) needs from a latent-variable model.
pub trait VariationalModel: Module + ImportanceSampled {
    /// Checks that `objective` applies to this model (e.g. free bits needs a per-dimension
    /// KL); the message names the setting.
    ///
    /// # Errors
    /// A [`ConfigError`] on `VaeObjective`'s field.
    fn check_objective(&self, objective: &VaeObjective) -> Result<(), ConfigError> {
        objective.validate()
    }

    /// Loss and metrics (nats per image) of one training batch `x` (`[B, D]`), with the
    /// reparameterisation noise drawn from `rng`.
    fn train_step(
        &self,
        objective: &VaeObjective,
        x: Tensor<2>,
        rng: &mut HostRng,
        ctx: &StepContext,
    ) -> StepOutput;

    /// `(−ln p(x|z), KL(q(z|x) ‖ p(z)))` per example (`[B]` each), one z per example drawn
    /// with `rng` — the two parts of the negative ELBO reported at evaluation.
    fn elbo_parts(&self, x: Tensor<2>, rng: &mut HostRng) -> (Tensor<1>, Tensor<1>);

    /// `n` images from the model (likelihood means at prior samples), `[n, D]` in [0, 1].
    fn sample_means(&self, n: usize, device: &Device, rng: &mut HostRng) -> Tensor<2>;
}

/// A model with a deterministic code: x ↦ E_q[z | x] and z ↦ E_p[x | z].
pub trait LatentCodec {
    /// Latent dimensionality L.
    fn latent_dim(&self) -> usize;
    /// Posterior means E_q[z | x], `[B, D]` → `[B, L]`.
    fn encode_mean(&self, x: Tensor<2>) -> Tensor<2>;
    /// Likelihood means (images in [0, 1]), `[B, L]` → `[B, D]`.
    fn decode_mean(&self, z: Tensor<2>) -> Tensor<2>;
}
