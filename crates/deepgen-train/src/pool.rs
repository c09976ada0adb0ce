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
//!
//! # Keeping the other workers awake
//!
//! A rayon worker that finds no work sleeps, and waking it costs the start of every parallel
//! section: on the 2-core AMD EPYC VM a section of 200 µs of work took 230 µs after 100 µs of
//! serial work on the caller and 290 µs after 3 ms (a sleeping virtual CPU wakes slowly), while
//! a training step alternates between hundreds of such sections and the serial parts between
//! them (Burn's own operations, the autodiff bookkeeping). OpenMP, under PyTorch, lets its
//! threads spin for a while instead. [`on_pool`] does the same: for as long as its closure runs
//! it keeps one spinner per other worker, a task that polls the pool with `rayon::yield_now` and
//! runs what it finds at once (the same section: 201–204 µs), napping [`NAP`] between polls once
//! it has found nothing for [`SPIN_FOR`]. The cost is a core busy while the caller works alone
//! (as with OpenMP); `DEEPGEN_SPIN=off` ([`SPIN_ENV`]) turns it off. Results are unchanged, for
//! the reason above.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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
    let spin = spin_enabled(std::env::var(SPIN_ENV).ok().as_deref());
    rayon::scope(|scope| {
        let _warm = KeepWarm::start(scope, spin);
        f()
    })
}

/// The environment variable that turns the [keep-warm spinning](self#keeping-the-other-workers-awake)
/// off (`off`, `0`, `false`, `no`, case-insensitive); unset or anything else leaves it on.
pub const SPIN_ENV: &str = "DEEPGEN_SPIN";

/// How long a keep-warm spinner polls without finding work before it starts napping.
pub const SPIN_FOR: Duration = Duration::from_millis(5);

/// A napping spinner's sleep between polls.
pub const NAP: Duration = Duration::from_micros(200);

/// Whether a value of [`SPIN_ENV`] leaves the spinning on: the same reading as the allocator
/// tuning's switch ([`tuning_enabled`](crate::allocator::tuning_enabled)).
pub fn spin_enabled(value: Option<&str>) -> bool {
    crate::allocator::tuning_enabled(value)
}

thread_local! {
    /// Whether this worker is running a spinner already (a second one found by its polling
    /// returns at once).
    static SPINNING: Cell<bool> = const { Cell::new(false) };
}

/// What the spinners of one [`on_pool`] call share.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// Spinners running now.
    running: AtomicUsize,
    /// Jobs the spinners found and ran.
    executed: AtomicUsize,
}

/// The spinners of one [`on_pool`] call: started with it, told to stop (on return or unwinding)
/// when it drops, before the enclosing `rayon::scope` waits for them.
struct KeepWarm {
    shared: Arc<Shared>,
}

impl KeepWarm {
    /// Starts one spinner on every other worker of the pool, through `scope` (none when not
    /// `enabled`). The spinner is *broadcast* — one copy queued for each worker, which only that
    /// worker runs — not spawned: a spawned spinner waits on the caller's own deque until a
    /// worker steals it, and a caller that blocks first runs the jobs of its own deque while it
    /// waits. Every example blocks first: [`Run::start`](crate::run::Run::start) flushes
    /// subnormals on every worker with `rayon::broadcast`, the caller popped the spinner there
    /// and it returned at once, so the examples' loops ran without one (perf: no `spin` sample
    /// in a `ddpm_mnist` run, its worker asleep ≈ 1 300 times a second), while the benchmark
    /// binary, which does not start that way, had one.
    fn start(scope: &rayon::Scope<'_>, enabled: bool) -> Self {
        let shared = Arc::new(Shared::default());
        let origin = rayon::current_thread_index();
        if enabled && rayon::current_num_threads() > 1 {
            let spinners = Arc::clone(&shared);
            scope.spawn_broadcast(move |_, _| spin(&spinners, origin));
        }
        Self { shared }
    }
}

impl Drop for KeepWarm {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
    }
}

/// Polls the pool for work until told to stop: every job found (a stolen half of a parallel
/// section) runs at once, without an operating-system wake-up. After [`SPIN_FOR`] without work
/// it naps [`NAP`] between polls. Returns at once on the thread that runs the [`on_pool`]
/// closure (`origin`, which runs its own spawned jobs when it waits for the scope) and on a
/// worker that spins already.
fn spin(shared: &Shared, origin: Option<usize>) {
    if rayon::current_thread_index() == origin || SPINNING.with(|s| s.replace(true)) {
        return;
    }
    shared.running.fetch_add(1, Ordering::AcqRel);
    let mut idle_since: Option<Instant> = None;
    while !shared.stop.load(Ordering::Acquire) {
        if let Some(rayon::Yield::Executed) = rayon::yield_now() {
            shared.executed.fetch_add(1, Ordering::Relaxed);
            idle_since = None;
            continue;
        }
        if idle_since.get_or_insert_with(Instant::now).elapsed() < SPIN_FOR {
            std::hint::spin_loop();
        } else {
            std::thread::sleep(NAP);
        }
    }
    shared.running.fetch_sub(1, Ordering::AcqRel);
    SPINNING.with(|s| s.set(false));
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

    /// Runs `f` inside a scope with keep-warm spinners, as `on_pool` does, on a pool of its own
    /// with two workers (the global pool's spinners, if any, are not involved), and returns
    /// what the spinners shared once the scope has waited for them. (Shared, not unwrapped:
    /// rayon may drop the broadcast job, and the spinners' handle in it, just after the scope
    /// returns.)
    fn with_spinners<R: Send>(
        enabled: bool,
        f: impl FnOnce(&Shared) -> R + Send,
    ) -> (R, Arc<Shared>) {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a thread pool");
        pool.install(|| {
            let mut out = None;
            let mut shared = None;
            rayon::scope(|scope| {
                let warm = KeepWarm::start(scope, enabled);
                shared = Some(Arc::clone(&warm.shared));
                out = Some(f(&warm.shared));
            });
            (out.expect("set"), shared.expect("set"))
        })
    }

    /// Waits up to 5 s for `cond`.
    fn eventually(cond: impl Fn() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    #[test]
    fn spinners_run_the_stolen_half_of_a_join_and_stop_with_the_scope() {
        let others = 1;
        let ((started, ran_elsewhere), shared) = with_spinners(true, |shared| {
            let started = eventually(|| shared.running.load(Ordering::Acquire) == others);
            let me = rayon::current_thread_index();
            // This thread is busy in the first half, so only another worker can run the second.
            let ((), other) = rayon::join(
                || std::thread::sleep(Duration::from_millis(50)),
                rayon::current_thread_index,
            );
            (started, other != me)
        });
        assert!(started, "{others} spinner expected");
        assert_eq!(
            shared.running.load(Ordering::Acquire),
            0,
            "a spinner outlived the scope"
        );
        assert!(ran_elsewhere);
        assert!(
            shared.executed.load(Ordering::Relaxed) >= 1,
            "no job went through a spinner"
        );
    }

    /// The spinner must reach the other worker even when the closure starts by waiting for it:
    /// `rayon::broadcast` (what [`flush_denormals_to_zero`](crate::denormals) runs first thing
    /// in every example) blocks the caller until every worker ran its copy, and a caller that
    /// waits runs the jobs on its own deque — a spawned spinner among them, which returned at
    /// once there, so the examples trained without one.
    #[test]
    fn the_spinner_survives_a_broadcast_at_the_start() {
        for _ in 0..10 {
            let (started, shared) = with_spinners(true, |shared| {
                let ran = rayon::broadcast(|ctx| ctx.index());
                assert_eq!(ran, [0, 1]);
                eventually(|| shared.running.load(Ordering::Acquire) == 1)
            });
            assert!(started, "no spinner ran on the other worker");
            assert_eq!(shared.running.load(Ordering::Acquire), 0);
        }
    }

    #[test]
    fn disabled_spinning_starts_nothing() {
        let (running, shared) =
            with_spinners(false, |shared| shared.running.load(Ordering::Acquire));
        assert_eq!(running, 0);
        assert_eq!(shared.executed.load(Ordering::Relaxed), 0);
        assert!(spin_enabled(None));
        for on in ["1", "on", "", "yes"] {
            assert!(spin_enabled(Some(on)), "{on:?}");
        }
        for off in ["off", "0", "false", "no", " OFF "] {
            assert!(!spin_enabled(Some(off)), "{off:?}");
        }
    }

    #[test]
    fn a_panic_stops_the_spinners_and_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| {
            with_spinners(true, |_| -> () { panic!("inside the scope") })
        });
        assert!(caught.is_err());
    }

    #[test]
    fn a_panic_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| on_pool(|| panic!("inside the pool")));
        assert!(caught.is_err());
    }
}
