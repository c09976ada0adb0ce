//! Tasks for `deepgen-train`'s loop: [`vae_task::VaeTask`] for every
//! [`VariationalModel`](crate::models::variational::VariationalModel) and
//! [`cvae_task::CvaeTask`], both fed by [`feed::ImageFeed`] (seeded batches, fixed test
//! binarisation). The deterministic autoencoders' task is [`crate::ae::AeTask`].

pub mod cvae_task;
pub mod feed;
pub mod vae_task;
