//! Integration tests of deepgen-autoencoders: objectives, every model, the latent tools.
//!
//! One integration-test binary per crate: every test binary links all of Burn (flex, ndarray
//! and wgpu), so one binary instead of one per file saves minutes of linking and gigabytes of
//! disk in CI. Each module below is one topic; run one with `cargo test --release --test autoencoders <module>::`.

/// Burn's flex (and ndarray) backend has one process-wide RNG: `device.seed(s)` and every
/// random initialisation go through it, so tests running in parallel threads interleave their
/// draws and a seeded initialisation is not the one its seed names (the conv VAE's overfitting
/// test failed now and then: `23.55 → 9.75` nats against its `< 8`). Every test of this binary
/// holds this lock for its whole body, as the flows, diffusion, train and vq binaries do.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

mod ae;
mod cvae;
mod iaf_vae;
mod importance;
mod latent_tools;
mod spherical_vae;
mod vae;
mod vae_objectives;
