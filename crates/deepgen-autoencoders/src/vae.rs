//! The Gaussian-latent VAE (Kingma & Welling 2014) with MLP encoder and decoder.

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::tensor::{Device, Distribution, Tensor};
use deepgen_distributions::{Bernoulli, DiagGaussian, Distribution as _, Rsample as _};

use crate::mlp::{Mlp, MlpConfig};

/// Configuration of a [`Vae`]. Defaults: 784-512-256-32 with ReLU (the benchmark network).
#[derive(Config, Debug)]
pub struct VaeConfig {
    /// Flattened input size (784 for MNIST).
    #[config(default = 784)]
    pub input_dim: usize,
    /// Encoder hidden widths; the decoder mirrors them.
    #[config(default = "vec![512, 256]")]
    pub hidden: Vec<usize>,
    /// Latent dimensionality.
    #[config(default = 32)]
    pub latent_dim: usize,
    /// Activation of the hidden layers.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
}

/// Per-example terms of the negative ELBO, in nats (`[B]` each).
#[derive(Debug, Clone)]
pub struct ElboTerms {
    /// −log p(x | z) for the sampled z, summed over pixels.
    pub recon_nll: Tensor<1>,
    /// KL(q(z | x) ‖ p(z)), summed over latent dimensions.
    pub kl: Tensor<1>,
}

impl ElboTerms {
    /// The negative ELBO with KL weight β: recon + β·KL, averaged over the batch, `[1]`.
    pub fn loss(&self, beta: f64) -> Tensor<1> {
        (self.recon_nll.clone() + self.kl.clone() * beta).mean()
    }
}

/// Variational autoencoder: q(z|x) = N(μ(x), diag σ(x)²), p(z) = N(0, I),
/// p(x|z) = Bernoulli(logits(z)).
///
/// The encoder outputs `[μ, log σ]` (log **standard deviation**) in one layer of width
/// `2 · latent_dim`.
#[derive(Module, Debug)]
pub struct Vae {
    /// x → [μ, log σ].
    pub encoder: Mlp,
    /// z → Bernoulli logits.
    pub decoder: Mlp,
    /// Latent dimensionality.
    pub latent_dim: usize,
}

impl VaeConfig {
    /// Initialises the model on `device`.
    ///
    /// # Panics
    /// If `input_dim` or `latent_dim` is zero (the message names the field).
    pub fn init(&self, device: &Device) -> Vae {
        assert!(
            self.input_dim > 0,
            "VaeConfig: `input_dim` must be positive"
        );
        assert!(
            self.latent_dim > 0,
            "VaeConfig: `latent_dim` must be positive"
        );
        let encoder = MlpConfig::new(self.input_dim, self.hidden.clone(), 2 * self.latent_dim)
            .with_activation(self.activation.clone())
            .init(device);
        let mut rev = self.hidden.clone();
        rev.reverse();
        let decoder = MlpConfig::new(self.latent_dim, rev, self.input_dim)
            .with_activation(self.activation.clone())
            .init(device);
        Vae {
            encoder,
            decoder,
            latent_dim: self.latent_dim,
        }
    }
}

impl Vae {
    /// q(z | x) for `x` of shape `[B, input_dim]`.
    pub fn encode(&self, x: Tensor<2>) -> DiagGaussian {
        let h = self.encoder.forward(x);
        let [mean, log_std] = h
            .chunk(2, 1)
            .try_into()
            .expect("encoder output has 2·latent columns");
        DiagGaussian::new(mean, log_std).expect("encoder heads have equal shapes")
    }

    /// p(x | z): Bernoulli logits `[B, input_dim]` for `z` of shape `[B, latent_dim]`.
    pub fn decode(&self, z: Tensor<2>) -> Bernoulli {
        Bernoulli::new(self.decoder.forward(z)).expect("decoder output is non-empty")
    }

    /// The negative-ELBO terms with the reparameterisation noise `eps` (`[B, latent_dim]`).
    pub fn elbo_terms_with_noise(&self, x: Tensor<2>, eps: Tensor<2>) -> ElboTerms {
        let q = self.encode(x.clone());
        let z = q.rsample_from_noise(eps);
        let recon_nll = self.decode(z).log_prob(x).neg();
        ElboTerms {
            recon_nll,
            kl: q.kl_standard_normal(),
        }
    }

    /// The negative-ELBO terms with noise from the device RNG.
    pub fn elbo_terms(&self, x: Tensor<2>) -> ElboTerms {
        let [b, _] = x.dims();
        let eps = Tensor::random(
            [b, self.latent_dim],
            Distribution::Normal(0.0, 1.0),
            &x.device(),
        );
        self.elbo_terms_with_noise(x, eps)
    }

    /// Draws `n` images from the model: the Bernoulli means σ(logits(z)), z ~ N(0, I),
    /// `[n, input_dim]` in [0, 1].
    pub fn sample_means(&self, n: usize, device: &Device) -> Tensor<2> {
        let z = Tensor::random([n, self.latent_dim], Distribution::Normal(0.0, 1.0), device);
        self.decode(z).probs()
    }
}

impl crate::importance::ImportanceSampled for Vae {
    /// ln p(x|z) + ln N(z; 0, I) − ln q(z|x) with z = μ + σ·ε, ε host-drawn: `[B, k]`.
    fn log_weights(&self, x: Tensor<2>, k: usize, rng: &mut deepgen_tensor::HostRng) -> Tensor<2> {
        let [b, d] = x.dims();
        let l = self.latent_dim;
        let q = self.encode(x.clone());
        let rep =
            |t: Tensor<2>, w: usize| t.unsqueeze_dim::<3>(1).repeat_dim(1, k).reshape([b * k, w]);
        let qk = DiagGaussian::new(rep(q.mean, l), rep(q.log_std, l))
            .expect("repeated encoder heads have equal shapes");
        let eps = deepgen_distributions::noise::standard_normal(rng, [b * k, l], &x.device());
        let z = qk.rsample_from_noise(eps);
        let prior = deepgen_distributions::StandardNormal::new(b * k, l, &x.device())
            .expect("b·k ≥ 1 and latent_dim ≥ 1");
        let log_pz = prior.log_prob(z.clone());
        let log_qz = qk.log_prob(z.clone());
        let log_px = self.decode(z).log_prob(rep(x, d));
        (log_px + log_pz - log_qz).reshape([b, k])
    }
}
