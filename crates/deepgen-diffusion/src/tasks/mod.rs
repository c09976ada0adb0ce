//! Training tasks for `deepgen-train`'s loop: DDPM on MNIST ([`mnist`], unconditional or
//! class-conditional with classifier-free guidance) and on the 2-D toy densities ([`toy`]).

pub mod mnist;
pub mod toy;
