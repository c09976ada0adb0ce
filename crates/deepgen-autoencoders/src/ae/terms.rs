//! The loss terms of one forward pass, for every kind.

use burn::tensor::Tensor;
use deepgen_nn::EncoderNet;

use super::contractive::contractive_penalty;
use super::error::AeError;
use super::kind::AeKind;
use super::ksparse::keep_top_k;
use super::loss::{bernoulli_cross_entropy, mse_per_element};
use super::model::Autoencoder;
use super::sparse::sparsity_kl;

/// The terms of an autoencoder objective on one batch, in explicit units.
#[derive(Debug, Clone)]
pub struct AeTerms {
    /// Bernoulli cross-entropy of the target, nats per example, `[B]`.
    pub recon: Tensor<1>,
    /// Mean squared error per element of the reconstruction σ(ℓ), `[B]`.
    pub mse: Tensor<1>,
    /// The code fed to the decoder (after top-k for `k-sparse`), `[B, m]`.
    pub code: Tensor<2>,
    /// `sparse`: Σ_j KL(ρ ‖ ρ̂_j) over the batch, nats, `[1]`.
    pub sparsity_kl: Option<Tensor<1>>,
    /// `contractive`: ‖∂h/∂x‖²_F of the first encoder layer per example, `[B]`.
    pub contraction: Option<Tensor<1>>,
}

impl AeTerms {
    /// The training loss, `[1]`: mean_b recon + `sparsity_weight`·sparsity_kl +
    /// `contraction_weight`·mean_b contraction (absent terms count 0).
    pub fn loss(&self, sparsity_weight: f64, contraction_weight: f64) -> Tensor<1> {
        let mut loss = self.recon.clone().mean();
        if let Some(s) = &self.sparsity_kl {
            loss = loss + s.clone() * sparsity_weight;
        }
        if let Some(c) = &self.contraction {
            loss = loss + c.clone().mean() * contraction_weight;
        }
        loss
    }
}

/// Runs `model` on `input` with the code rule of `kind` and scores the reconstruction against
/// `target` (the clean data; `input` is the corrupted copy for the denoising kinds, else the
/// same tensor). `k` is the number of kept units for `k-sparse` (ignored otherwise).
///
/// # Errors
/// [`AeError::Model`] for `contractive` with a model whose first encoder layer is not sigmoid.
pub fn ae_terms(
    model: &Autoencoder,
    kind: &AeKind,
    input: Tensor<2>,
    target: Tensor<2>,
    k: usize,
) -> Result<AeTerms, AeError> {
    let mut contraction = None;
    let code = match kind {
        AeKind::Contractive => {
            let (h1, w) = model.sigmoid_first_layer(input.clone())?;
            contraction = Some(contractive_penalty(h1.clone(), w));
            match &model.encoder {
                // One sigmoid layer: the code is h₁ itself.
                EncoderNet::Mlp(m) if m.layers.len() == 1 => h1,
                _ => model.encode(input),
            }
        }
        AeKind::KSparse { .. } => keep_top_k(model.encode(input), k),
        _ => model.encode(input),
    };
    let sparsity = match kind {
        AeKind::Sparse { rho } => Some(sparsity_kl(code.clone(), *rho)),
        _ => None,
    };
    let logits = model.decode(code.clone());
    Ok(AeTerms {
        recon: bernoulli_cross_entropy(logits.clone(), target.clone()),
        mse: mse_per_element(logits, target),
        code,
        sparsity_kl: sparsity,
        contraction,
    })
}
