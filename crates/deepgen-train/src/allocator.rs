//! Keeping freed tensor memory in the process: glibc `malloc` tuning for training binaries.
//!
//! A training step allocates and frees the same large buffers (activations, gradients, GEMM
//! packing) thousands of times. glibc serves every block above its mmap threshold (128 KiB at
//! start, adapting upwards) with a fresh `mmap` and returns it with `munmap`, and trims the
//! heap top above 128 KiB, so each step faults its memory back in page by page: a `perf`
//! profile of `ddpm_mnist`'s step spent ≈ 15 % of its samples in the kernel (page faults,
//! `clear_page`, `brk`/`munmap`; docs/performance.md). [`keep_memory_in_process`] sets
//! `M_MMAP_THRESHOLD` to 32 MiB (glibc's maximum on 64-bit) and `M_TRIM_THRESHOLD` to 256 MiB,
//! so such blocks are reused from the heap instead, and `M_TOP_PAD` to 64 MiB: a rayon worker's
//! blocks live in its own arena, made of 64 MiB heaps, and glibc unmaps a heap beyond the
//! arena's first as soon as it empties, whatever the trim threshold, unless the pad keeps it.
//! Without the pad the U-Net's training step mapped, faulted in and unmapped ≈ 30 such heaps
//! per second (strace) and ran 4–8 % slower (2026-12-06, AMD EPYC, four alternating pairs;
//! the peak RSS did not change). [`Run::start`](crate::run::Run::start)
//! calls it, i.e. every deepgen example; the library itself never touches the allocator of an
//! application that merely links it. `DEEPGEN_MALLOC_TUNING=off` (or `0`, `false`) skips it.
//!
//! Written by hand (two `extern "C"` declarations) because `mallopt` is all that is needed: a
//! replacement allocator such as mimalloc would have to be chosen by each binary with
//! `#[global_allocator]` and adds a C build to CI.

/// Environment variable that turns the tuning off (`off`, `0`, `false`, `no`).
pub const TUNING_ENV: &str = "DEEPGEN_MALLOC_TUNING";

/// What [`keep_memory_in_process`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocatorTuning {
    /// Both thresholds were set.
    Applied,
    /// Turned off through [`TUNING_ENV`].
    Disabled,
    /// Not glibc (another OS or libc): nothing to tune.
    Unsupported,
    /// glibc refused a value (not expected on 64-bit Linux).
    Rejected,
}

/// Whether a value of [`TUNING_ENV`] leaves the tuning on (unset or anything but
/// `off`/`0`/`false`/`no`, case-insensitive).
pub fn tuning_enabled(value: Option<&str>) -> bool {
    !matches!(
        value.map(|v| v.trim().to_ascii_lowercase()).as_deref(),
        Some("off" | "0" | "false" | "no")
    )
}

/// Sets glibc's mmap and trim thresholds and its top pad so that freed tensor memory stays in
/// the process (see the [module docs](self)); idempotent, and process-wide.
pub fn keep_memory_in_process() -> AllocatorTuning {
    if !tuning_enabled(std::env::var(TUNING_ENV).ok().as_deref()) {
        return AllocatorTuning::Disabled;
    }
    apply()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> AllocatorTuning {
    use std::ffi::c_int;
    const M_TRIM_THRESHOLD: c_int = -1;
    const M_TOP_PAD: c_int = -2;
    const M_MMAP_THRESHOLD: c_int = -3;
    unsafe extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }
    // SAFETY: mallopt only changes allocator parameters and is thread-safe; the values are
    // within glibc's accepted ranges (the mmap threshold may be at most 32 MiB on 64-bit).
    let ok = unsafe {
        mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1
            && mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1
            && mallopt(M_TOP_PAD, 64 << 20) == 1
    };
    if ok {
        AllocatorTuning::Applied
    } else {
        AllocatorTuning::Rejected
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> AllocatorTuning {
    AllocatorTuning::Unsupported
}
