//! Training tasks for `deepgen-train`'s loop: DDPM on MNIST ([`mnist`]).

pub mod mnist;
