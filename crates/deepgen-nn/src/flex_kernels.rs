//! What deepgen's own flex kernels ([`conv`](crate::conv), [`linear`](crate::linear()),
//! [`silu`](crate::silu())) share: when
//! they apply instead of Burn's, and plain `f32` views of flex tensors for them.

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use burn::backend::flex::FlexTensor;
use burn::tensor::Tensor;
use deepgen_tensor::flex::is_flex_f32;
pub(crate) use deepgen_tensor::flex::{contiguous, flex_tensor, values};
use gemm::Parallelism;

/// The environment variable that picks the kernels of the convolutions, the linear layers
/// ([`linear`](crate::linear())), [`silu`](crate::silu()) and the fused GroupNorm: `burn` for
/// Burn's own, anything else (or unset) for deepgen's on flex. `rows` keeps deepgen's kernels
/// but sends every convolution through the row-by-row patch matrix, as before the stride-1
/// "wide" route existed (2026-12-06): results measured before then reproduce bit for bit with
/// it (the wide route sums in a different order, which moves a training run at the rounding
/// level). `strided-rows` sends only the strided convolutions there, as before strided layers
/// joined the wide route (2026-12-07): results measured between the two dates reproduce bit for
/// bit with it.
pub const KERNELS_ENV: &str = "DEEPGEN_CONV";

fn kernels_env_is(value: &str) -> bool {
    std::env::var(KERNELS_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case(value))
}

fn burn_kernels_forced() -> bool {
    static FORCED: OnceLock<bool> = OnceLock::new();
    *FORCED.get_or_init(|| kernels_env_is("burn"))
}

/// Whether [`KERNELS_ENV`] is `rows` (read once per process).
pub(crate) fn conv_rows_forced() -> bool {
    static FORCED: OnceLock<bool> = OnceLock::new();
    *FORCED.get_or_init(|| kernels_env_is("rows"))
}

/// Whether [`KERNELS_ENV`] is `strided-rows` (read once per process).
pub(crate) fn strided_conv_rows_forced() -> bool {
    static FORCED: OnceLock<bool> = OnceLock::new();
    *FORCED.get_or_init(|| kernels_env_is("strided-rows"))
}

/// The environment variable that sends only the MLP kernels — the linear layers
/// ([`linear`](crate::linear())) and [`tanh`](crate::tanh()) — back to Burn's (`burn`), leaving
/// the other kernels as [`KERNELS_ENV`] says. Numbers measured before these kernels existed
/// (docs/results.md says which) reproduce bit for bit with it: the kernels round differently
/// from Burn's ops (same values to ~1e-7 relative), which changes a training trajectory at the
/// rounding level.
pub const LINEAR_ENV: &str = "DEEPGEN_LINEAR";

/// Whether [`LINEAR_ENV`] is `burn` (read once per process).
pub(crate) fn burn_linear_forced() -> bool {
    static FORCED: OnceLock<bool> = OnceLock::new();
    *FORCED.get_or_init(|| {
        std::env::var(LINEAR_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("burn"))
    })
}

/// An `f32` tensor on a flex device (with or without autodiff), kernels not forced to Burn's.
pub(crate) fn applies<const D: usize>(t: &Tensor<D>) -> bool {
    is_flex_f32(t) && !burn_kernels_forced()
}

/// A matrix operand of the GEMM calls: its elements and its (column, row) strides in elements.
pub(crate) type Operand<'a> = (&'a [f32], isize, isize);

/// `dst [m, n]` (row-major) `= accumulate·dst + lhs [m, k] · rhs [k, n]` through the `gemm`
/// crate: the one GEMM call of the convolution and linear kernels.
///
/// # Safety
/// `dst` must be valid for writes of `m·n` elements (and initialised when `accumulate`);
/// `lhs` and `rhs` must cover every index their strides address for an `m×k` and a `k×n`
/// matrix.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_raw(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    accumulate: bool,
    lhs: Operand<'_>,
    rhs: Operand<'_>,
    parallelism: Parallelism,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            accumulate,
            lhs.0.as_ptr(),
            lhs.1,
            lhs.2,
            rhs.0.as_ptr(),
            rhs.1,
            rhs.2,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Deterministic test values in [−1, 1) (a multiplicative hash of the index), shared by the
/// kernels' unit tests.
#[cfg(test)]
pub(crate) fn test_values(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let v = (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(seed * 97);
            (v % 1000) as f32 / 500.0 - 1.0
        })
        .collect()
}

/// An element-wise forward kernel `(x, y)` and a backward kernel `(x_or_y, dy, dx)`.
#[cfg(test)]
pub(crate) type ElementwiseKernels = (fn(&[f32], &mut [f32]), fn(&[f32], &[f32], &mut [f32]));

/// Asserts that the dispatched element-wise kernels (`fast`, at the [`simd`] level of this
/// machine) give the plain loops' bits (`plain`), forward and backward, on `x` (also the
/// backward's first input). Whatever the width, the same `f32` operations run in the same order.
#[cfg(test)]
pub(crate) fn assert_simd_matches_baseline(
    x: &[f32],
    fast: ElementwiseKernels,
    plain: ElementwiseKernels,
) {
    let dy: Vec<f32> = (0..x.len()).map(|i| 1.0 - (i % 5) as f32 / 3.0).collect();
    let (mut a, mut b) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
    let bits = |v: &[f32]| v.iter().map(|e| e.to_bits()).collect::<Vec<_>>();
    (fast.0)(x, &mut a);
    (plain.0)(x, &mut b);
    assert_eq!(bits(&a), bits(&b), "forward at {:?}", simd());
    (fast.1)(x, &dy, &mut a);
    (plain.1)(x, &dy, &mut b);
    assert_eq!(bits(&a), bits(&b), "backward at {:?}", simd());
}

/// Elements per rayon task of the element-wise kernels ([`silu`](crate::silu()),
/// [`tanh`](crate::tanh())).
const ELEMENTWISE_CHUNK: usize = 1 << 16;

/// Whether the CPU has AVX2 and FMA (the small GEMM's vectorised variant).
pub(crate) fn has_avx2() -> bool {
    simd() != Simd::Baseline
}

/// The environment variable that caps the vector instruction set of the element-wise kernels
/// ([`silu`](crate::silu()), [`tanh`](crate::tanh())): `avx2` or `baseline`; unset (or anything
/// else) uses the widest the CPU has. Every level gives the same bits (the kernels do the same
/// `f32` operations in the same order; Rust never contracts `a·b + c` into an FMA), so this only
/// exists to time one level against another with the same binary.
pub const SIMD_ENV: &str = "DEEPGEN_SIMD";

/// The vector instruction sets the element-wise kernels are compiled for, picked at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Simd {
    /// AVX-512F (16 lanes), with AVX2 and FMA.
    Avx512,
    /// AVX2 and FMA (8 lanes).
    Avx2,
    /// The target's baseline (SSE2 on x86-64, or another architecture).
    Baseline,
}

/// The widest [`Simd`] level this CPU supports, capped by [`SIMD_ENV`] (read once).
pub(crate) fn simd() -> Simd {
    static LEVEL: OnceLock<Simd> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = std::env::var(SIMD_ENV)
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma");
            let avx512 = avx2 && std::arch::is_x86_feature_detected!("avx512f");
            match cap.as_str() {
                "baseline" => Simd::Baseline,
                _ if avx512 && cap != "avx2" => Simd::Avx512,
                _ if avx2 => Simd::Avx2,
                _ => Simd::Baseline,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = cap;
            Simd::Baseline
        }
    })
}

/// Defines `fn $name(args)` that runs the `#[inline(always)]` function `$body(args)` compiled
/// for AVX-512, for AVX2 + FMA or for the baseline, whichever [`simd`] picks: the body is
/// written once as plain loops and the compiler vectorises each copy for its instruction set.
macro_rules! simd_dispatch {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $body:path;) => {
        $(#[$meta])*
        fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                match $crate::flex_kernels::simd() {
                    // SAFETY: `simd()` detected these features on this CPU at run time.
                    $crate::flex_kernels::Simd::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::flex_kernels::Simd::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::flex_kernels::Simd::Baseline => {}
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use simd_dispatch;

/// Elements a rayon leaf job covers at least (see [`leaf_len`]).
pub(crate) const LEAF_MIN: usize = 1 << 15;

/// The most `chunk`-element items one rayon leaf job may take, for `with_max_len`: as many as
/// make [`LEAF_MIN`] elements, at least one. Left to itself, rayon cuts an indexed parallel
/// iterator into about twice as many leaves as threads and runs each leaf's items in order
/// on one thread, so with 2 threads a worker that finished its leaves had nothing to steal
/// while the other still ran up to a quarter of the items (two of the 8 image groups of a
/// convolution's backward; a perf profile of the U-Net step found one core idle at the end of
/// many parallel sections). Which thread runs an item never changes its result, so the bits
/// stay.
pub(crate) fn leaf_len(chunk: usize) -> usize {
    (LEAF_MIN / chunk.max(1)).max(1)
}

/// A new vector of `len` elements, cut into chunks of `chunk` elements (the last may be
/// shorter), and `work(i, chunk_i)`'s result for each chunk, in order. `work` runs on rayon when
/// `parallel` (else in order on this thread) and receives its chunk **zeroed by the task
/// itself**: `vec![0.0; len]` zeroed the whole output on the calling thread while the other
/// threads waited, which was a tenth of a U-Net training step's wall time on 2 cores (perf,
/// 2026-12-06: every output of SiLU, GroupNorm and the convolutions' input gradients); zeroing
/// a chunk just before filling it also leaves it in cache.
pub(crate) fn zeroed_chunks<R: Send>(
    len: usize,
    chunk: usize,
    parallel: bool,
    work: impl Fn(usize, &mut [f32]) -> R + Sync,
) -> (Vec<f32>, Vec<R>) {
    use rayon::prelude::*;
    let chunk = chunk.max(1);
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let run = |i: usize, c: &mut [MaybeUninit<f32>]| {
        c.iter_mut().for_each(|e| {
            e.write(0.0);
        });
        // SAFETY: every element of `c` was initialised just above, and `MaybeUninit<f32>` has
        // the layout of `f32` (this is `MaybeUninit::slice_assume_init_mut`, not yet stable).
        let c = unsafe { &mut *(c as *mut [MaybeUninit<f32>] as *mut [f32]) };
        work(i, c)
    };
    let spare = &mut out.spare_capacity_mut()[..len];
    let results: Vec<R> = if parallel {
        spare
            .par_chunks_mut(chunk)
            .with_max_len(leaf_len(chunk))
            .enumerate()
            .map(|(i, c)| run(i, c))
            .collect()
    } else {
        spare
            .chunks_mut(chunk)
            .enumerate()
            .map(|(i, c)| run(i, c))
            .collect()
    };
    // SAFETY: the chunks cover `0..len` and each was initialised by `run` (a panic in `work`
    // propagates before this line, leaving `out` empty).
    unsafe { out.set_len(len) };
    (out, results)
}

/// `out[i] = f(x[i])` computed by `run(x_chunk, out_chunk)` over chunks on rayon (one chunk,
/// i.e. no task, below 64 Ki elements).
pub(crate) fn par_map(x: &[f32], run: impl Fn(&[f32], &mut [f32]) + Sync) -> Vec<f32> {
    let c = ELEMENTWISE_CHUNK;
    zeroed_chunks(x.len(), c, true, |i, out| {
        run(&x[i * c..i * c + out.len()], out)
    })
    .0
}

/// [`par_map`] of two equally long inputs: `run(a_chunk, b_chunk, out_chunk)`.
pub(crate) fn par_map2(
    a: &[f32],
    b: &[f32],
    run: impl Fn(&[f32], &[f32], &mut [f32]) + Sync,
) -> Vec<f32> {
    assert_eq!(a.len(), b.len(), "element-wise kernel: operand lengths");
    let c = ELEMENTWISE_CHUNK;
    zeroed_chunks(a.len(), c, true, |i, out| {
        let r = i * c..i * c + out.len();
        run(&a[r.clone()], &b[r], out)
    })
    .0
}

/// `f` applied to the elements of `t`, as a flex tensor of `t`'s shape.
pub(crate) fn flex_apply(t: &FlexTensor, f: impl FnOnce(&[f32]) -> Vec<f32>) -> FlexTensor {
    let t = contiguous(t.clone());
    flex_tensor(f(values(&t)), t.layout().shape().to_vec())
}
