//! Training flows through `deepgen-train`'s [`Task`](deepgen_train::Task) and run driver: 2-D
//! toy densities ([`toy`]), dequantised MNIST ([`image`]) and the f-VAE on it ([`fvae`]). The
//! examples `flows_2d`, `realnvp_mnist`, `glow_mnist` and `fvae_mnist` are these tasks plus
//! their flags.

pub mod fvae;
pub mod image;
pub mod toy;
