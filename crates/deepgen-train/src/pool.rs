//! Running a whole program on rayon's global pool: [`on_pool`].
//!
//! deepgen's CPU kernels, Burn's flex backend and the `gemm` crate split their work over rayon's
//! global thread pool. Called from a thread outside the pool — a program's main thread — every
//! parallel section is *injected*: a sleeping worker is woken, the caller blocks on a latch and
//! is woken again when the section ends, two operating-system wake-ups per kernel, which for
//! small kernels (an MLP's layers, 7×7 convolutions, element-wise passes) cost as much as the
//! work. Called from one of the pool's own workers, a section starts at once on the caller and
//! the other workers steal halves of it. [`on_pool`] runs a closure on a worker of the global
//! pool so that everything it calls takes the second path; [`Trainer::fit`](crate::Trainer::fit)
//! runs its loop through it, and every example runs its whole `main` through it (sampling and
//! evaluation included).
//!
//! Measured on the 2-core Xeon the project benchmarks on (2026-12-06, `workloads --timed`,
//! alternating with and without, 2 threads): `iwae_net` 1.22×, `glow_mnist` 1.17×, `conv_vae`
//! 1.06–1.13×, `mlp_vae` 1.08×, `ddpm_unet` 1.03×, `ddim_50` 1.03–1.05× the steps/s. Results
//! are unchanged: which thread runs a kernel never changes its arithmetic (deepgen's kernels
//! fix their summation order independently of threads; a test checks the bits).
//!
//! The first call builds the global pool — with rayon's usual thread count
//! (`RAYON_NUM_THREADS`, else one per core) and [`WORKER_STACK_BYTES`] of stack per worker, the
//! size of a Linux main thread's stack, since the closure now runs on a worker — unless
//! something built it already, in which case that pool is used as it is.

/// The stack of each rayon worker when [`on_pool`] builds the global pool: 8 MiB, what a Linux
/// program's main thread gets by default (rayon's own default is Rust's 2 MiB).
pub const WORKER_STACK_BYTES: usize = 8 << 20;

/// Runs `f` on a worker thread of rayon's global pool and returns its result (see the
/// [module docs](self)); on a worker already, it simply calls `f`. A panic in `f` propagates
/// to the caller.
///
/// ```
/// let sum: u64 = deepgen_train::pool::on_pool(|| (1..=10u64).sum());
/// assert_eq!(sum, 55);
/// ```
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return f();
    }
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        // Fails only when the global pool exists already; then that one is used.
        let _ = rayon::ThreadPoolBuilder::new()
            .stack_size(WORKER_STACK_BYTES)
            .build_global();
    });
    rayon::scope(|_| f())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_on_a_worker_and_returns_the_value() {
        assert!(rayon::current_thread_index().is_none());
        let (index, value) = on_pool(|| (rayon::current_thread_index(), 21 * 2));
        assert!(index.is_some(), "the closure ran outside the pool");
        assert_eq!(value, 42);
        // Nested: already on a worker, the closure runs where it is.
        let nested = on_pool(|| {
            let outer = rayon::current_thread_index();
            on_pool(|| rayon::current_thread_index() == outer)
        });
        assert!(nested);
    }

    #[test]
    fn a_panic_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| on_pool(|| panic!("inside the pool")));
        assert!(caught.is_err());
    }
}
