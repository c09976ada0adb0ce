//! Flush-to-zero of subnormal floats, which every example sets through `Run::start`.

use deepgen_train::allocator::tuning_enabled;
use deepgen_train::denormals::{DenormalMode, FLUSH_ENV, flush_denormals_to_zero};
use std::hint::black_box;

/// 1e-30 × 1e-10 = 1e-40 is subnormal in f32 (the smallest normal is 1.18e-38).
fn product() -> f32 {
    black_box(1e-30f32) * black_box(1e-10f32)
}

#[test]
fn flushing_makes_subnormal_results_zero_here_and_in_threads_started_afterwards() {
    // Run on a thread of its own so the other tests of this binary keep IEEE subnormals.
    std::thread::spawn(|| {
        let before = product();
        assert!(
            before > 0.0 && !before.is_normal(),
            "IEEE default: subnormal {before:e}"
        );
        let mode = flush_denormals_to_zero();
        let disabled = !tuning_enabled(std::env::var(FLUSH_ENV).ok().as_deref());
        if disabled {
            assert_eq!(mode, DenormalMode::Disabled);
            return;
        }
        if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            assert_eq!(mode, DenormalMode::Flushed);
            assert_eq!(product(), 0.0, "FTZ: a subnormal result becomes zero");
            // A thread created afterwards inherits the mode (POSIX copies the FP environment).
            let child = std::thread::spawn(product).join().unwrap();
            assert_eq!(child, 0.0, "threads started later inherit flush-to-zero");
            // Normal numbers are untouched, and a second call changes nothing.
            let normal = black_box(1e-20f32) * black_box(1e-10f32);
            assert!(
                normal.is_normal() && (normal / 1e-30 - 1.0).abs() < 1e-6,
                "{normal:e}"
            );
            assert_eq!(flush_denormals_to_zero(), DenormalMode::Flushed);
        } else {
            assert_eq!(mode, DenormalMode::Unsupported);
        }
    })
    .join()
    .unwrap();
    // This (test) thread was not touched.
    assert!(product() > 0.0);
}

#[test]
fn called_on_a_rayon_worker_it_flushes_every_worker_of_that_pool() {
    // A private pool whose workers exist before the call (as the global pool's do when an
    // example's `main` runs through `pool::on_pool`), so they cannot inherit the mode.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let before = pool.broadcast(|_| product());
    assert!(before.iter().all(|&p| p > 0.0), "IEEE default: {before:?}");
    let mode = pool.install(flush_denormals_to_zero);
    if mode != DenormalMode::Flushed {
        return; // turned off through the environment, or an unsupported architecture
    }
    let after = pool.broadcast(|_| product());
    assert_eq!(after, vec![0.0; 3], "every worker flushes");
    assert!(product() > 0.0, "the calling (test) thread is untouched");
}
