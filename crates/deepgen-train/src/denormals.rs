//! Flushing subnormal floats to zero in training binaries (x86-64 FTZ/DAZ, AArch64 FZ).
//!
//! Subnormal (denormal) f32 values — magnitudes below 1.18 × 10⁻³⁸ — are handled by x86 CPUs in
//! a microcode assist that costs ~100 cycles per operation instead of one. Training produces them
//! steadily: Adam's first moment of a weight whose gradient is exactly zero (a dead ReLU unit,
//! a masked input) decays by β₁ = 0.9 per step and spends ~100 steps between 10⁻³⁸ and 10⁻⁴⁵
//! before it underflows to zero, the second moment (β₂ = 0.999) ~70 000 steps; tiny activations
//! and gradients do the same. The slowdown grows as training goes on (more dead units): the
//! RealNVP 2-D run's epochs went from 10.2 s to 12.3 s before this was set (docs/results.md).
//! PyTorch offers the same switch as `torch.set_flush_denormal(True)`.
//!
//! [`flush_denormals_to_zero`] sets the control bits of the calling thread: on x86-64 FTZ
//! (results that would be subnormal become ±0) and DAZ (subnormal inputs read as ±0) in MXCSR,
//! on AArch64 FZ in FPCR. Threads created afterwards inherit them (POSIX `pthread_create` copies
//! the floating-point environment), so calling it first thing in `main`, before the first tensor
//! operation starts the thread pools, covers the compute threads too; called on a rayon worker
//! (every deepgen example runs its `main` on one through [`on_pool`](crate::pool::on_pool), and
//! [`Run::start`](crate::run::Run::start) calls it there) it sets the bits on every worker of the
//! pool as well. The library never changes
//! the floating-point environment of an application that merely links it.
//! `DEEPGEN_FLUSH_DENORMALS=off` (or `0`, `false`, `no`) keeps IEEE subnormals.
//!
//! The numerical effect is nil for training: values below 10⁻³⁸ become 0, which every loss here
//! already tolerates (they are 10³¹ times smaller than f32's machine epsilon relative to 1).
//! Written with two lines of inline assembly because the `_mm_setcsr` intrinsics are deprecated
//! and no maintained crate does only this.

/// Environment variable that keeps subnormals (`off`, `0`, `false`, `no`).
pub const FLUSH_ENV: &str = "DEEPGEN_FLUSH_DENORMALS";

/// What [`flush_denormals_to_zero`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenormalMode {
    /// Subnormals are now flushed to zero on this thread (and threads it creates).
    Flushed,
    /// Turned off through [`FLUSH_ENV`].
    Disabled,
    /// Neither x86-64 nor AArch64: left as it was.
    Unsupported,
}

/// Sets flush-to-zero (and denormals-are-zero on x86-64) for the calling thread and the threads
/// it creates afterwards — and, called on a rayon worker (inside
/// [`on_pool`](crate::pool::on_pool), as every example's `main` is), for every worker of that
/// pool, which existed before the call and so inherited nothing — unless [`FLUSH_ENV`] turns it
/// off (see the [module docs](self)); idempotent.
pub fn flush_denormals_to_zero() -> DenormalMode {
    if !crate::allocator::tuning_enabled(std::env::var(FLUSH_ENV).ok().as_deref()) {
        return DenormalMode::Disabled;
    }
    if rayon::current_thread_index().is_some() {
        rayon::broadcast(|_| set_flush());
    }
    set_flush()
}

#[cfg(target_arch = "x86_64")]
fn set_flush() -> DenormalMode {
    use std::arch::asm;
    const FTZ: u32 = 1 << 15;
    const DAZ: u32 = 1 << 6;
    let mut csr: u32 = 0;
    // SAFETY: stmxcsr/ldmxcsr read and write the SSE control/status register of this thread; only
    // the FTZ and DAZ bits change (rounding mode and exception masks are kept). SSE2 is part of
    // the x86-64 baseline, so both instructions exist on every x86-64 CPU.
    unsafe {
        asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
        csr |= FTZ | DAZ;
        asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags));
    }
    DenormalMode::Flushed
}

#[cfg(target_arch = "aarch64")]
fn set_flush() -> DenormalMode {
    use std::arch::asm;
    const FZ: u64 = 1 << 24;
    let mut fpcr: u64;
    // SAFETY: reads and writes the floating-point control register of this thread; only the FZ
    // bit changes.
    unsafe {
        asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack, preserves_flags));
        fpcr |= FZ;
        asm!("msr fpcr, {}", in(reg) fpcr, options(nomem, nostack, preserves_flags));
    }
    DenormalMode::Flushed
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn set_flush() -> DenormalMode {
    DenormalMode::Unsupported
}
