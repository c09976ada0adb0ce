//! Training flows through `deepgen-train`'s [`Task`](deepgen_train::Task) and run driver: 2-D
//! toy densities ([`toy`]) and dequantised MNIST ([`image`]). The examples `flows_2d`,
//! `realnvp_mnist` and `glow_mnist` are these tasks plus their flags.

pub mod image;
pub mod toy;
