//! The CPU kernels behind [`conv2d`](super::conv2d) on the flex backend, on plain `f32` slices.
//!
//! Layout is NCHW throughout, and nothing is converted: for one image, `im2col` writes the
//! `[C·kh·kw, Ho·Wo]` patch matrix row by row (each row is a shifted copy of one input row, so
//! stride-1 rows are `memcpy`s), and one GEMM with the `[C_out, C·kh·kw]` weight (its natural
//! memory order) gives the `[C_out, Ho·Wo]` output of that image in place. The backward pass
//! reuses the same patch matrix: `dWᵀ += cols · dY_bᵀ` (transposed operands through strides, no
//! copy; accumulated as `dWᵀ` so that gemm packs only `dY_b`, see [`weight_gradient`]) and
//! `dX_b = col2im(Wᵀ · dY_b)`. Images are independent, so the batch runs on rayon with
//! a single-threaded GEMM per image; when the batch is smaller than the thread pool, images run
//! one after the other and the GEMM itself uses every thread. The weight and bias gradients are
//! summed over at most 8 groups of consecutive images fixed by the batch size, then over the
//! groups in order, so the result is the same to the bit for every thread count (tested).
//!
//! Convolutions with at most 64 output channels (every 3×3 layer of the U-Net and the VQ
//! models, the U-Net's down-sampling, the conv VAE's and VQ models' 4×4 stride-2 encoders and,
//! as input gradients, their transposed decoders, Glow's output layers) take a "wide" route
//! instead: the image is first copied into a zero-padded `[C, Hp, Wp]` plane — at stride
//! `(sh, sw)` split into `sh·sw` phase planes per channel, pixel `(Y, X)` in plane
//! `(Y mod sh, X mod sw)` at `(Y / sh, X / sw)` ([`Wide`]) — and the output is computed on a
//! grid `Ho × Wq`, `Wq − Wo` columns wider than the output (its length rounded up to a multiple
//! of 16, see [`Geometry::wide`]). On that grid every patch-matrix row is one contiguous slice
//! of one plane, so `im2col` is one long `memcpy` per row instead of one short copy (or, strided,
//! one short gather) per output row (a profile of the 16-channel 28×28 U-Net layer had `im2col`
//! and those copies at 29 % of its training step, one of the conv VAE's step 24 %), and `col2im`
//! one long vector add per row. The extra columns are dropped from the output (and are zeros in
//! the output gradient, so they add nothing to `dW` or `dX`); they cost `Wq / Wo − 1` more GEMM
//! work (7 % at 28 × 28, 29 % at 7 × 7), which is why layers with more output channels,
//! GEMM-bound, keep the row-by-row patch matrix.
//!
//! Why not Burn's own flex convolution: it converts the whole input to NHWC on the calling thread
//! before the parallel part starts, and its weight gradient is a convolution whose kernel is the
//! whole output-gradient image. Profiles of Glow and the DDPM U-Net (docs/performance.md) found
//! one of the two cores idle for much of every step because of it. `groups = 1` only; the caller
//! ([`super::conv2d`]) sends grouped convolutions to Burn.

use std::mem::MaybeUninit;

use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use gemm::Parallelism;
use rayon::prelude::*;

use crate::flex_kernels::{Operand, gemm_raw, leaf_len, zeroed_chunks};

/// The sizes of one 2-D convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: [usize; 2],
    pub pad: [usize; 2],
    pub dilation: [usize; 2],
    pub oh: usize,
    pub ow: usize,
}

impl Geometry {
    /// The geometry of `x [B, C, H, W] ⋆ w [C_out, C, kh, kw]` (padding may be asymmetric: only
    /// its beginning offsets the taps, its end only changes the output size).
    pub fn new(x: [usize; 4], weight: [usize; 4], options: &ConvOptions<2>) -> Self {
        let [batch, c_in, h, w] = x;
        let [c_out, _, kh, kw] = weight;
        let out = |size: usize, k: usize, i: usize| {
            let (p0, p1) = options.padding[i];
            let span = options.dilation[i] * (k - 1) + 1;
            (size + p0 + p1).saturating_sub(span) / options.stride[i] + 1
        };
        Self {
            batch,
            c_in,
            h,
            w,
            c_out,
            kh,
            kw,
            stride: options.stride,
            pad: options.padding_begin(),
            dilation: options.dilation,
            oh: out(h, kh, 0),
            ow: out(w, kw, 1),
        }
    }

    /// The transposed convolution of `x [B, C_in, H, W]` with `weight [C_in, C_out, kh, kw]` is the
    /// input gradient of the convolution returned here (input `[B, C_out, H_out, W_out]`, weight
    /// `[C_in, C_out, kh, kw]` read as `[c_out, c_in, kh, kw]`, output `[B, C_in, H, W]`).
    /// `None` for geometries that do not invert (Burn's own kernel then handles them).
    pub fn transposed(
        x: [usize; 4],
        weight: [usize; 4],
        options: &ConvTransposeOptions<2>,
    ) -> Option<Self> {
        let [batch, c_in, h, w] = x;
        let [w_in, c_out, kh, kw] = weight;
        if w_in != c_in || options.groups != 1 || h == 0 || w == 0 {
            return None;
        }
        let size = |n: usize, k: usize, i: usize| {
            let full = (n - 1) * options.stride[i]
                + options.dilation[i] * (k - 1)
                + 1
                + options.padding_out[i];
            full.checked_sub(2 * options.padding[i])
        };
        let (h_out, w_out) = (size(h, kh, 0)?, size(w, kw, 1)?);
        let conv = ConvOptions::new(options.stride, options.padding, options.dilation, 1);
        let g = Self::new([batch, c_out, h_out, w_out], [c_in, c_out, kh, kw], &conv);
        (g.oh == h && g.ow == w).then_some(g)
    }

    /// Rows of the patch matrix: `C·kh·kw`.
    pub fn k(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Columns of the patch matrix: `Ho·Wo`.
    pub fn n(&self) -> usize {
        self.oh * self.ow
    }

    fn image_len(&self) -> usize {
        self.c_in * self.h * self.w
    }

    /// A 1×1, stride-1, unpadded convolution: the image *is* its patch matrix.
    fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == [1, 1] && self.pad == [0, 0]
    }

    /// The wide layout of a convolution (see the module docs); `None` for pointwise
    /// convolutions and wide layers, which keep the row-by-row patch matrix, for every
    /// convolution under `DEEPGEN_CONV=rows` (the bits of results measured before this route
    /// existed) and for strided ones under `DEEPGEN_CONV=strided-rows` (those measured before
    /// strided layers took it, 2026-12-07).
    fn wide(&self) -> Option<Wide> {
        // Layers with more than 64 output channels are GEMM-bound: the extra columns cost them
        // more than the copies save (Glow's 2 → 128 at 14 × 14: forward 0.82× measured).
        if self.pointwise()
            || self.c_out > 64
            || crate::flex_kernels::conv_rows_forced()
            || self.n() == 0
            || self.image_len() == 0
            || self.stride.contains(&0)
            || (self.stride != [1, 1] && crate::flex_kernels::strided_conv_rows_forced())
        {
            return None;
        }
        let [sh, sw] = self.stride;
        // The padded extent the taps read: `(Ho − 1)·s + d·(k − 1) + 1` (at stride 1,
        // `Ho + d·(k − 1)`).
        let hp = (self.oh - 1) * sh + self.dilation[0] * (self.kh - 1) + 1;
        let wp = (self.ow - 1) * sw + self.dilation[1] * (self.kw - 1) + 1;
        let (hp, wp) = if self.stride == [1, 1] {
            // The image must fit in the padded plane at its begin offsets (it always does at
            // stride 1 unless the kernel is larger than the padded image; those stay on the
            // general path).
            if hp < self.pad[0] + self.h || wp < self.pad[1] + self.w {
                return None;
            }
            (hp, wp)
        } else {
            // Strided: image pixels no tap reads still get their place (zero-cost to keep).
            (hp.max(self.pad[0] + self.h), wp.max(self.pad[1] + self.w))
        };
        let (hq, wq) = (hp.div_ceil(sh), wp.div_ceil(sw));
        // The GEMMs run with `Ho·Wq` rounded up to a multiple of 16 columns: gemm copies
        // ("prepacks") a whole operand whose leading dimension is not a multiple of the SIMD
        // width, which cost a fifth of a 28 × 28 layer's time at `Ho·Wp` = 840 (the extra
        // columns read past the last row and are dropped like the others).
        let n = (self.oh * wq).next_multiple_of(16);
        Some(Wide { hq, wq, n })
    }

    /// The output columns `ox` whose tap `j` lands inside the input row: `lo..hi`.
    fn valid_cols(&self, j: usize) -> (usize, usize) {
        let offset = j * self.dilation[1];
        let [_, sw] = self.stride;
        let pw = self.pad[1];
        // ix = ox·sw + offset − pw must lie in [0, w).
        let lo = if pw > offset {
            (pw - offset).div_ceil(sw)
        } else {
            0
        };
        let hi = if self.w + pw > offset {
            (self.w + pw - offset).div_ceil(sw)
        } else {
            0
        };
        (lo.min(self.ow), hi.min(self.ow).max(lo.min(self.ow)))
    }

    /// The input row of output row `oy` for tap `i`, if it is inside the image.
    fn input_row(&self, oy: usize, i: usize) -> Option<usize> {
        let iy = (oy * self.stride[0] + i * self.dilation[0]) as isize - self.pad[0] as isize;
        (iy >= 0 && (iy as usize) < self.h).then_some(iy as usize)
    }
}

/// The padded image of a convolution's wide route, split into `sh·sw` phase planes per channel.
///
/// Padded pixel `(Y, X)` of channel `c` lives in plane `(c, Y mod sh, X mod sw)` at
/// `(Y / sh, X / sw)`; every plane is `Hq × Wq`. Output pixel `(oy, ox)` reads padded pixel
/// `(oy·sh + i·d, ox·sw + j·d)` for tap `(i, j)`, i.e. pixel `(oy + a, ox + b)` of one plane
/// (`a = ⌊i·d / sh⌋`, `b = ⌊j·d / sw⌋`), so on the output grid `Ho × Wq` every tap is one
/// contiguous slice of one plane; the first `Wo` columns of the grid are the output. At stride 1
/// there is one plane per channel, the padded image itself (`Hq × Wq = Hp × Wp`).
#[derive(Clone, Copy, Debug)]
struct Wide {
    hq: usize,
    wq: usize,
    /// Columns of the wide patch matrix: `Ho·Wq` rounded up to a multiple of 16.
    n: usize,
}

impl Wide {
    fn plane(&self) -> usize {
        self.hq * self.wq
    }

    /// Elements of a padded image: `C·sh·sw` planes, plus what the last rows' extra columns
    /// read past the last plane (they only feed dropped columns).
    fn padded_len(&self, g: &Geometry) -> usize {
        let [sh, sw] = g.stride;
        g.c_in * sh * sw * self.plane()
            + g.dilation[1] * (g.kw - 1) / sw
            + (self.n - g.oh * self.wq)
    }

    /// Offset in the padded image of patch row `(c, i, j)`'s slice.
    #[inline]
    fn row_offset(&self, g: &Geometry, c: usize, i: usize, j: usize) -> usize {
        let [sh, sw] = g.stride;
        let (yy, xx) = (i * g.dilation[0], j * g.dilation[1]);
        ((c * sh + yy % sh) * sw + xx % sw) * self.plane() + (yy / sh) * self.wq + xx / sw
    }

    /// For image row `(c, y)`, its pixels by column phase: `(first column x0, offset in the
    /// padded image of its first pixel, pixel count)`; the pixels are `x0, x0 + sw, …` and lie
    /// consecutively in their plane.
    fn row_phases(
        &self,
        g: &Geometry,
        c: usize,
        y: usize,
    ) -> impl Iterator<Item = (usize, usize, usize)> + use<> {
        let [sh, sw] = g.stride;
        let (plane, wq, w, pw) = (self.plane(), self.wq, g.w, g.pad[1]);
        let yp = y + g.pad[0];
        let row = (c * sh + yp % sh) * sw * plane + (yp / sh) * wq;
        (0..sw).filter_map(move |px| {
            let x0 = (px + sw - pw % sw) % sw;
            (x0 < w).then(|| (x0, row + px * plane + (x0 + pw) / sw, (w - x0).div_ceil(sw)))
        })
    }

    /// `xp` = the image `x [C, H, W]` at offset `(pad_h, pad_w)` of zeroed planes.
    fn pad(&self, g: &Geometry, x: &[f32], xp: &mut [f32]) {
        xp.fill(0.0);
        let sw = g.stride[1];
        for (r, row) in x.chunks_exact(g.w).enumerate() {
            for (x0, at, len) in self.row_phases(g, r / g.h, r % g.h) {
                if sw == 1 {
                    xp[at..at + len].copy_from_slice(row);
                } else {
                    for (d, s) in xp[at..at + len]
                        .iter_mut()
                        .zip(row[x0..].iter().step_by(sw))
                    {
                        *d = *s;
                    }
                }
            }
        }
    }

    /// The adjoint of [`Wide::pad`] restricted to the image: `dx [C, H, W]` = the image part of
    /// the padded gradient `dxp`.
    fn crop(&self, g: &Geometry, dxp: &[f32], dx: &mut [f32]) {
        let sw = g.stride[1];
        for (r, row) in dx.chunks_exact_mut(g.w).enumerate() {
            for (x0, at, len) in self.row_phases(g, r / g.h, r % g.h) {
                if sw == 1 {
                    row.copy_from_slice(&dxp[at..at + len]);
                } else {
                    for (d, s) in row[x0..].iter_mut().step_by(sw).zip(&dxp[at..at + len]) {
                        *d = *s;
                    }
                }
            }
        }
    }

    /// The offsets in the padded image of the patch rows' slices, in row order `(c, i, j)`.
    fn row_offsets<'a>(&'a self, g: &'a Geometry) -> impl Iterator<Item = usize> + 'a {
        (0..g.c_in).flat_map(move |c| {
            (0..g.kh).flat_map(move |i| (0..g.kw).map(move |j| self.row_offset(g, c, i, j)))
        })
    }

    /// The wide patch matrix `cols [C·kh·kw, Nw]` of a padded image: one slice per row.
    fn im2col(&self, g: &Geometry, xp: &[f32], cols: &mut [f32]) {
        let n = self.n;
        for (row, at) in cols.chunks_exact_mut(n).zip(self.row_offsets(g)) {
            row.copy_from_slice(&xp[at..at + n]);
        }
    }

    /// The adjoint of [`Wide::im2col`]: adds every row of `dcols` onto its slice of `dxp`.
    fn col2im(&self, g: &Geometry, dcols: &[f32], dxp: &mut [f32]) {
        let n = self.n;
        for (row, at) in dcols.chunks_exact(n).zip(self.row_offsets(g)) {
            for (d, s) in dxp[at..at + n].iter_mut().zip(row) {
                *d += *s;
            }
        }
    }

    /// `dyw [C_out, Ho·Wp]`: the output gradient `dy [C_out, Ho, Wo]` on the wide grid, zeros
    /// in the extra columns (so they add nothing to the weight or input gradient).
    fn widen(&self, g: &Geometry, dy: &[f32], dyw: &mut [f32]) {
        let (ow, wp) = (g.ow, self.wq);
        for (dst_c, src_c) in dyw.chunks_exact_mut(self.n).zip(dy.chunks_exact(g.n())) {
            let (rows, tail) = dst_c.split_at_mut(g.oh * wp);
            for (dst, src) in rows.chunks_exact_mut(wp).zip(src_c.chunks_exact(ow)) {
                dst[..ow].copy_from_slice(src);
                zero_short(&mut dst[ow..]);
            }
            tail.fill(0.0);
        }
    }
}

/// Fills `cols [C·kh·kw, Ho·Wo]` with the patches of one image `x [C, H, W]` (zeros outside).
fn im2col(g: &Geometry, x: &[f32], cols: &mut [f32]) {
    let n = g.n();
    let (sw, pw, dw) = (g.stride[1], g.pad[1], g.dilation[1]);
    for c in 0..g.c_in {
        let plane = &x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let r = (c * g.kh + i) * g.kw + j;
                let row = &mut cols[r * n..(r + 1) * n];
                let (lo, hi) = g.valid_cols(j);
                for oy in 0..g.oh {
                    let dst = &mut row[oy * g.ow..(oy + 1) * g.ow];
                    let Some(iy) = g.input_row(oy, i) else {
                        dst.fill(0.0);
                        continue;
                    };
                    let src = &plane[iy * g.w..(iy + 1) * g.w];
                    // The padding columns are 0–2 elements per row: store them directly rather
                    // than through a `memset` call per row (8 % of a U-Net step was memset).
                    zero_short(&mut dst[..lo]);
                    zero_short(&mut dst[hi..]);
                    if lo < hi {
                        let first = lo * sw + j * dw - pw;
                        if sw == 1 {
                            dst[lo..hi].copy_from_slice(&src[first..first + (hi - lo)]);
                        } else {
                            for (k, d) in dst[lo..hi].iter_mut().enumerate() {
                                *d = src[first + k * sw];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Zeroes a slice that is usually empty or a few elements long (the padding columns of an
/// `im2col` row) without a library call for the common lengths.
#[inline(always)]
fn zero_short(dst: &mut [f32]) {
    match dst {
        [] => {}
        [a] => *a = 0.0,
        [a, b] => {
            *a = 0.0;
            *b = 0.0;
        }
        _ => dst.fill(0.0),
    }
}

/// Scratch buffers for the patch matrices, one set per thread and kept between calls, so that
/// a training step does not allocate, zero and fault in a fresh `C·kh·kw × Ho·Wo` matrix per
/// image group and layer (the first version did; `memset` and page faults were ≈ 10 % of a
/// U-Net step). Buffers above [`SCRATCH_KEEP`] elements are freed after use.
#[derive(Default)]
struct Scratch {
    cols: Vec<f32>,
    dcols: Vec<f32>,
    /// The wide route's padded image (or padded input gradient).
    padded: Vec<f32>,
    /// The wide route's output, or output gradient, on the `Ho × Wp` grid.
    wide: Vec<f32>,
}

/// The largest buffer (elements) a thread keeps between calls: 16 MiB of `f32`.
const SCRATCH_KEEP: usize = 1 << 22;

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's [`Scratch`] (or a fresh one if the thread's is in use, e.g. by
/// a convolution further up this thread's stack that rayon's work stealing interrupted).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            let r = f(&mut scratch);
            let s = &mut *scratch;
            for v in [&mut s.cols, &mut s.dcols, &mut s.padded, &mut s.wide] {
                if v.capacity() > SCRATCH_KEEP {
                    *v = Vec::new();
                }
            }
            r
        }
        Err(_) => f(&mut Scratch::default()),
    })
}

/// `v` with length `len`, reusing its allocation: only elements beyond its current length are
/// written (zeros); the callers overwrite every element before reading it.
fn sized(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if v.len() < len {
        v.resize(len, 0.0);
    }
    &mut v[..len]
}

/// Adds the patch-matrix gradient `dcols [C·kh·kw, Ho·Wo]` back onto the image gradient
/// `dx [C, H, W]` (the adjoint of [`im2col`]).
fn col2im(g: &Geometry, dcols: &[f32], dx: &mut [f32]) {
    let n = g.n();
    let (sw, pw, dw) = (g.stride[1], g.pad[1], g.dilation[1]);
    for c in 0..g.c_in {
        let plane = &mut dx[c * g.h * g.w..(c + 1) * g.h * g.w];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let r = (c * g.kh + i) * g.kw + j;
                let row = &dcols[r * n..(r + 1) * n];
                let (lo, hi) = g.valid_cols(j);
                if lo >= hi {
                    continue;
                }
                let first = lo * sw + j * dw - pw;
                for oy in 0..g.oh {
                    let Some(iy) = g.input_row(oy, i) else {
                        continue;
                    };
                    let src = &row[oy * g.ow + lo..oy * g.ow + hi];
                    let dst = &mut plane[iy * g.w..(iy + 1) * g.w];
                    if sw == 1 {
                        for (d, s) in dst[first..first + src.len()].iter_mut().zip(src) {
                            *d += *s;
                        }
                    } else {
                        for (k, s) in src.iter().enumerate() {
                            dst[first + k * sw] += *s;
                        }
                    }
                }
            }
        }
    }
}

/// `dst [m, n] (row-major) = read·dst + lhs · rhs`, strides given as (column, row).
#[allow(clippy::too_many_arguments)]
fn gemm_f32(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    accumulate: bool,
    lhs: Operand<'_>,
    rhs: Operand<'_>,
    parallelism: Parallelism,
) {
    debug_assert!(dst.len() >= m * n);
    // SAFETY: `dst` holds at least m·n initialised elements (the callers' shapes); every operand
    // slice covers the index range its strides address (the callers' shapes: lhs is m×k, rhs
    // is k×n, both in bounds of their slices).
    unsafe { gemm_raw(m, n, k, dst.as_mut_ptr(), accumulate, lhs, rhs, parallelism) }
}

/// Whether to run images in parallel (single-threaded GEMMs) or one after the other
/// (multi-threaded GEMMs).
fn batch_parallel(batch: usize) -> bool {
    batch >= rayon::current_num_threads() && batch > 1
}

/// `y [B, C_out, Ho, Wo] = x ⋆ weight + bias` (cross-correlation, as Burn and PyTorch).
pub(crate) fn forward(g: &Geometry, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (k, n) = (g.k(), g.n());
    let out_len = g.c_out * n;
    let len = g.batch * out_len;
    if out_len == 0 {
        return vec![0.0; len];
    }
    // Every output element is written before it is read (the bias fill, or the GEMM with
    // `accumulate = false`), so `y` is not zeroed first.
    let mut y: Vec<f32> = Vec::with_capacity(len);
    let wide = g.wide();
    let one = |b: usize, y_b: &mut [MaybeUninit<f32>], par: Parallelism| {
        let x_b = &x[b * g.image_len()..(b + 1) * g.image_len()];
        if let (Some(bias), None) = (bias, wide) {
            for (row, &v) in y_b.chunks_exact_mut(n).zip(bias) {
                row.iter_mut().for_each(|e| {
                    e.write(v);
                });
            }
        }
        let dst = y_b.as_mut_ptr().cast::<f32>();
        let gemm = |cols: &[f32]| {
            // SAFETY: `y_b` holds `c_out · n` elements, valid for writes and initialised when
            // `accumulate` (the bias fill above); `weight` is `[c_out, k]` and `cols` `[k, n]`.
            unsafe {
                gemm_raw(
                    g.c_out,
                    n,
                    k,
                    dst,
                    bias.is_some(),
                    (weight, 1, k as isize),
                    (cols, 1, n as isize),
                    par,
                )
            }
        };
        if let Some(wd) = wide {
            let nw = wd.n;
            with_scratch(|s| {
                let xp = sized(&mut s.padded, wd.padded_len(g));
                wd.pad(g, x_b, xp);
                let cols = sized(&mut s.cols, k * nw);
                wd.im2col(g, xp, cols);
                let yw = sized(&mut s.wide, g.c_out * nw);
                let (w, cols) = ((weight, 1, k as isize), (&*cols, 1, nw as isize));
                gemm_f32(g.c_out, nw, k, yw, false, w, cols, par);
                // Keep the first `Wo` columns of every row, adding the bias.
                for (co, (y_c, yw_c)) in
                    y_b.chunks_exact_mut(n).zip(yw.chunks_exact(nw)).enumerate()
                {
                    let v = bias.map_or(0.0, |bias| bias[co]);
                    for (y_row, yw_row) in y_c.chunks_exact_mut(g.ow).zip(yw_c.chunks_exact(wd.wq))
                    {
                        for (e, s) in y_row.iter_mut().zip(yw_row) {
                            e.write(*s + v);
                        }
                    }
                }
            });
        } else if g.pointwise() {
            gemm(x_b);
        } else {
            with_scratch(|s| {
                let cols = sized(&mut s.cols, k * n);
                im2col(g, x_b, cols);
                gemm(cols);
            });
        }
    };
    let spare = &mut y.spare_capacity_mut()[..len];
    if batch_parallel(g.batch) {
        spare
            .par_chunks_mut(out_len)
            // Leaves sized by work (output elements × patch length), not output elements:
            // at 64 channels × 7 × 7 a leaf of `leaf_len(out_len)` held 10 images (a fifth of
            // the layer), and the other core waited for the last one.
            .with_max_len(leaf_len(out_len.saturating_mul(k.max(1))))
            .enumerate()
            .for_each(|(b, y_b)| one(b, y_b, Parallelism::None));
    } else {
        for (b, y_b) in spare.chunks_mut(out_len).enumerate() {
            one(b, y_b, Parallelism::Rayon(0));
        }
    }
    // SAFETY: every one of the `len` elements was written above (each image's chunk by `one`).
    unsafe { y.set_len(len) };
    y
}

/// Gradients of [`forward`] with respect to the input, the weight and the bias, each only when
/// asked for. `dy` is `[B, C_out, Ho, Wo]`.
pub(crate) struct Grads {
    pub x: Option<Vec<f32>>,
    pub weight: Option<Vec<f32>>,
    pub bias: Option<Vec<f32>>,
}

/// Groups of consecutive images whose `dW`, `db` are summed separately (see [`backward`]).
const SUM_GROUPS: usize = 8;

/// Per-group state of the backward pass: partial sums of `dW` (kept transposed, see
/// [`weight_gradient`]) and `db`.
struct Partial {
    dwt: Vec<f32>,
    db: Vec<f32>,
}

impl Partial {
    fn new(g: &Geometry, want_w: bool, want_b: bool) -> Self {
        Self {
            dwt: if want_w {
                vec![0.0; g.c_out * g.k()]
            } else {
                Vec::new()
            },
            db: if want_b {
                vec![0.0; g.c_out]
            } else {
                Vec::new()
            },
        }
    }

    fn merge(mut self, other: Self) -> Self {
        for (a, b) in self.dwt.iter_mut().zip(&other.dwt) {
            *a += *b;
        }
        for (a, b) in self.db.iter_mut().zip(&other.db) {
            *a += *b;
        }
        self
    }
}

/// The backward pass of [`forward`].
pub(crate) fn backward(
    g: &Geometry,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    want: [bool; 3],
) -> Grads {
    backward_strided(g, x, weight, dy, g.c_out * g.n(), want)
}

/// [`backward`] with image `b`'s output gradient at `dy[b·dy_stride..][..C_out·Ho·Wo]`: the
/// gradient Burn's `cat` hands back to the convolutions before a U-Net skip connection is a
/// channel slice of a larger tensor (each image contiguous, images `dy_stride ≥ C_out·Ho·Wo`
/// apart), read in place instead of copied out on the calling thread first.
///
/// # Panics
/// If `dy_stride < C_out·Ho·Wo` (images would overlap) or `dy` is too short for the batch.
pub(crate) fn backward_strided(
    g: &Geometry,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    dy_stride: usize,
    want: [bool; 3],
) -> Grads {
    let [want_x, want_w, want_b] = want;
    let (k, n) = (g.k(), g.n());
    let out_len = g.c_out * n;
    assert!(
        dy_stride >= out_len && (g.batch == 0 || dy.len() >= (g.batch - 1) * dy_stride + out_len),
        "conv backward: output gradient of {} elements with image stride {dy_stride} for a batch \
         of {} images of {out_len}",
        dy.len(),
        g.batch
    );
    let image = g.image_len();
    let wide = g.wide();

    let one = |b: usize, dx_b: Option<&mut [f32]>, p: &mut Partial, par: Parallelism| {
        let dy_b = &dy[b * dy_stride..b * dy_stride + out_len];
        if want_b {
            for (acc, sum) in p.db.iter_mut().zip(row_sums(dy_b, n)) {
                *acc += sum;
            }
        }
        if let Some(wd) = wide {
            let nw = wd.n;
            with_scratch(|s| {
                let dyw = sized(&mut s.wide, g.c_out * nw);
                wd.widen(g, dy_b, dyw);
                if want_w {
                    let xp = sized(&mut s.padded, wd.padded_len(g));
                    wd.pad(g, &x[b * image..(b + 1) * image], xp);
                    let cols = sized(&mut s.cols, k * nw);
                    wd.im2col(g, xp, cols);
                    weight_gradient(g, nw, dyw, cols, &mut p.dwt, par);
                }
                if let Some(dx_b) = dx_b {
                    // dcols [K, Nw] = Wᵀ [K, C_out] · dYw [C_out, Nw], added back onto the
                    // padded plane, whose image part is the input gradient.
                    let dcols = sized(&mut s.dcols, k * nw);
                    let (wt, dyw) = ((weight, k as isize, 1), (&*dyw, 1, nw as isize));
                    gemm_f32(k, nw, g.c_out, dcols, false, wt, dyw, par);
                    let dxp = sized(&mut s.padded, wd.padded_len(g));
                    dxp.fill(0.0);
                    wd.col2im(g, dcols, dxp);
                    wd.crop(g, dxp, dx_b);
                }
            });
            return;
        }
        if want_w && n > 0 {
            let x_b = &x[b * image..(b + 1) * image];
            if g.pointwise() {
                weight_gradient(g, n, dy_b, x_b, &mut p.dwt, par);
            } else {
                with_scratch(|s| {
                    let cols = sized(&mut s.cols, k * n);
                    im2col(g, x_b, cols);
                    weight_gradient(g, n, dy_b, cols, &mut p.dwt, par);
                });
            }
        }
        if let Some(dx_b) = dx_b {
            if n == 0 {
                return;
            }
            // dcols [K, N] = Wᵀ [K, C_out] · dY_b [C_out, N]
            let wt = (weight, k as isize, 1);
            if g.pointwise() {
                gemm_f32(k, n, g.c_out, dx_b, false, wt, (dy_b, 1, n as isize), par);
            } else {
                with_scratch(|s| {
                    let dcols = sized(&mut s.dcols, k * n);
                    gemm_f32(k, n, g.c_out, dcols, false, wt, (dy_b, 1, n as isize), par);
                    col2im(g, dcols, dx_b);
                });
            }
        }
    };

    // The batch is cut into at most `SUM_GROUPS` groups of consecutive images whose bounds depend
    // on the batch size alone; each group sums its images' `dW`, `db` in image order, and the
    // groups' sums are added in group order. The floating-point additions therefore happen in
    // one fixed order whatever the thread count or rayon's work stealing, so a seeded training
    // run gives the same bits every time (a fold/reduce over rayon's splits did not).
    let group = g.batch.div_ceil(SUM_GROUPS).max(1);
    let run_group = |gi: usize, dx_g: Option<&mut [f32]>, par: Parallelism| {
        let mut p = Partial::new(g, want_w, want_b);
        let lo = gi * group;
        match dx_g {
            Some(dx_g) => {
                for (j, dx_b) in dx_g.chunks_mut(image.max(1)).enumerate() {
                    one(lo + j, Some(dx_b), &mut p, par);
                }
            }
            None => {
                for b in lo..(lo + group).min(g.batch) {
                    one(b, None, &mut p, par);
                }
            }
        }
        p
    };
    let groups = g.batch.div_ceil(group);
    // `dX` is cut into one slice per group, zeroed by the group's own task
    // (`zeroed_chunks`); without an input gradient the groups run on `None`.
    let parallel = batch_parallel(g.batch);
    let par = if parallel {
        Parallelism::None
    } else {
        Parallelism::Rayon(0)
    };
    let (dx, partials): (Option<Vec<f32>>, Vec<Partial>) = if want_x && image > 0 {
        let (dx, partials) = zeroed_chunks(g.batch * image, group * image, parallel, |gi, dx_g| {
            run_group(gi, Some(dx_g), par)
        });
        (Some(dx), partials)
    } else {
        let partials = if parallel {
            (0..groups)
                .into_par_iter()
                .with_max_len(1)
                .map(|gi| run_group(gi, None, par))
                .collect()
        } else {
            (0..groups).map(|gi| run_group(gi, None, par)).collect()
        };
        (want_x.then(Vec::new), partials)
    };
    let partial = partials
        .into_iter()
        .reduce(Partial::merge)
        .unwrap_or_else(|| Partial::new(g, want_w, want_b));
    Grads {
        x: dx,
        weight: want_w.then(|| transpose(&partial.dwt, k, g.c_out)),
        bias: want_b.then_some(partial.db),
    }
}

/// `dWᵀ [K, C_out] += cols [K, N] · dYᵀ [N, C_out]` for one image's patch matrix `cols` and
/// output gradient `dy` (both `N` columns wide, pixel index contiguous).
///
/// The gradient is accumulated transposed on purpose. Asked for the row-major `dW [C_out, K] +=
/// dY · colsᵀ`, the `gemm` crate transposes the product so that its destination is column-major
/// and its microkernel's vectors run along `K`; the patch matrix then enters as a left operand
/// whose vector index is the strided one, and gemm packs (transposes) all of it for every image.
/// With the destination `[K, C_out]` the patch matrix becomes the right operand, whose elements
/// the microkernel broadcasts in place, and only the small `dY` is packed. Timed alone on one
/// thread (AMD EPYC, Zen 4), e.g. `C_out = 16, K = 144, N = 848` (the U-Net's first level):
/// 69 µs → 38 µs; `32, 576, 224`: 113 → 75 µs (docs/performance.md).
fn weight_gradient(
    g: &Geometry,
    n: usize,
    dy: &[f32],
    cols: &[f32],
    dwt: &mut [f32],
    par: Parallelism,
) {
    let (lhs, rhs) = ((cols, 1, n as isize), (dy, n as isize, 1));
    gemm_f32(g.k(), g.c_out, n, dwt, true, lhs, rhs, par);
}

/// The sum of every `len`-element row of `rows`, each added from left to right exactly as
/// `row.iter().sum::<f32>()` adds it (the same bits), but eight rows at a time: one row's sum is
/// a chain of dependent additions (four cycles each), and eight independent chains overlap. The
/// bias gradients summed one row at a time were ≈ 3 % of a U-Net training step (perf, AMD EPYC,
/// 2026-12-06).
fn row_sums(rows: &[f32], len: usize) -> Vec<f32> {
    const CHAINS: usize = 8;
    if len == 0 {
        return Vec::new();
    }
    let mut sums = Vec::with_capacity(rows.len() / len);
    let mut blocks = rows.chunks_exact(CHAINS * len);
    for block in &mut blocks {
        let (r01, r27) = block.split_at(2 * len);
        let (r0, r1) = r01.split_at(len);
        let (r23, r47) = r27.split_at(2 * len);
        let (r2, r3) = r23.split_at(len);
        let (r45, r67) = r47.split_at(2 * len);
        let (r4, r5) = r45.split_at(len);
        let (r6, r7) = r67.split_at(len);
        // Eight named accumulators (an array of them was kept on the stack, through memory),
        // starting from −0.0 as `Sum for f32` does.
        let (mut a0, mut a1, mut a2, mut a3) = (-0.0f32, -0.0f32, -0.0f32, -0.0f32);
        let (mut a4, mut a5, mut a6, mut a7) = (-0.0f32, -0.0f32, -0.0f32, -0.0f32);
        for i in 0..len {
            a0 += r0[i];
            a1 += r1[i];
            a2 += r2[i];
            a3 += r3[i];
            a4 += r4[i];
            a5 += r5[i];
            a6 += r6[i];
            a7 += r7[i];
        }
        sums.extend_from_slice(&[a0, a1, a2, a3, a4, a5, a6, a7]);
    }
    sums.extend(
        blocks
            .remainder()
            .chunks_exact(len)
            .map(|row| row.iter().sum::<f32>()),
    );
    sums
}

/// The `[cols, rows]` transpose of a row-major `[rows, cols]` matrix.
fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; a.len()];
    for (r, row) in a.chunks_exact(cols.max(1)).enumerate().take(rows) {
        for (c, &v) in row.iter().enumerate() {
            t[c * rows + r] = v;
        }
    }
    t
}

/// The transposed convolution `y [B, C_out, H_out, W_out]` of `x [B, C_in, H, W]` for the
/// geometry of [`Geometry::transposed`]: the input gradient of that convolution, with `x` as the
/// output gradient, plus the bias.
pub(crate) fn transpose_forward(
    g: &Geometry,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let mut y = backward(g, &[], weight, x, [true, false, false])
        .x
        .expect("the input gradient was asked for");
    if let Some(bias) = bias {
        let plane = g.h * g.w;
        for image in y.chunks_exact_mut((g.c_in * plane).max(1)) {
            for (channel, &v) in image.chunks_exact_mut(plane.max(1)).zip(bias) {
                channel.iter_mut().for_each(|e| *e += v);
            }
        }
    }
    y
}

/// Gradients of [`transpose_forward`] for `x`, the weight and the bias, given `dy` of the
/// transposed convolution's output: a convolution of `dy` (input), the convolution's weight
/// gradient with the roles of input and output gradient swapped (weight), channel sums (bias).
pub(crate) fn transpose_backward(
    g: &Geometry,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    want: [bool; 3],
) -> Grads {
    let [want_x, want_w, want_b] = want;
    let dx = want_x.then(|| forward(g, dy, weight, None));
    let dw = want_w
        .then(|| backward(g, dy, weight, x, [false, true, false]).weight)
        .flatten();
    let db = want_b.then(|| {
        let plane = g.h * g.w;
        let mut db = vec![0.0f32; g.c_in];
        let sums = row_sums(&dy[..g.batch * g.c_in * plane], plane);
        for image in sums.chunks_exact(g.c_in.max(1)) {
            for (acc, sum) in db.iter_mut().zip(image) {
                *acc += *sum;
            }
        }
        db
    });
    Grads {
        x: dx,
        weight: dw,
        bias: db,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The input pixel tap `(i, j)` of output `(oy, ox)` reads, if it is inside the image.
    fn input_pixel(
        g: &Geometry,
        oy: usize,
        ox: usize,
        i: usize,
        j: usize,
    ) -> Option<(usize, usize)> {
        let iy = (oy * g.stride[0] + i * g.dilation[0]) as isize - g.pad[0] as isize;
        let ix = (ox * g.stride[1] + j * g.dilation[1]) as isize - g.pad[1] as isize;
        let inside = iy >= 0 && ix >= 0 && iy < g.h as isize && ix < g.w as isize;
        inside.then_some((iy as usize, ix as usize))
    }

    /// Direct seven-loop convolution in f64.
    fn naive(g: &Geometry, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f64> {
        let mut y = vec![0.0f64; g.batch * g.c_out * g.n()];
        for b in 0..g.batch {
            for co in 0..g.c_out {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let mut acc = bias.map_or(0.0, |bias| bias[co] as f64);
                        for c in 0..g.c_in {
                            for i in 0..g.kh {
                                for j in 0..g.kw {
                                    let Some((iy, ix)) = input_pixel(g, oy, ox, i, j) else {
                                        continue;
                                    };
                                    let xv = x[((b * g.c_in + c) * g.h + iy) * g.w + ix];
                                    let wv = w[((co * g.c_in + c) * g.kh + i) * g.kw + j];
                                    acc += xv as f64 * wv as f64;
                                }
                            }
                        }
                        y[((b * g.c_out + co) * g.oh + oy) * g.ow + ox] = acc;
                    }
                }
            }
        }
        y
    }

    use crate::flex_kernels::test_values as values;

    fn geometries() -> Vec<Geometry> {
        let mut out = Vec::new();
        for (batch, c_in, h, w, c_out, k, stride, pad, dil) in [
            (2, 3, 5, 6, 4, 3, 1, 1, 1),
            (1, 2, 7, 5, 3, 3, 2, 1, 1),
            (3, 2, 8, 8, 2, 4, 2, 1, 1),
            (2, 3, 6, 6, 2, 1, 1, 0, 1),
            (2, 2, 7, 7, 3, 3, 1, 2, 2),
            (1, 1, 4, 4, 1, 5, 1, 2, 1),
            (2, 2, 3, 3, 2, 3, 1, 0, 1),
            (3, 2, 24, 24, 3, 3, 1, 1, 1),
            (9, 3, 5, 5, 4, 3, 1, 1, 1),
            // Padding beyond the kernel's span, and an even kernel (wide route).
            (2, 2, 4, 4, 3, 3, 1, 3, 1),
            (1, 2, 5, 4, 2, 2, 1, 1, 1),
            // A kernel larger than the padded image.
            (1, 2, 2, 2, 2, 5, 1, 1, 1),
            // Stride 1 with more than 64 output channels: the row-by-row patch matrix.
            (2, 2, 5, 5, 65, 3, 1, 1, 1),
            // Strided on the wide route: odd sizes, stride 3, dilation, no padding (the last
            // image row and column read by no tap), and one on the row-by-row route.
            (2, 3, 9, 7, 4, 3, 2, 1, 1),
            (2, 2, 10, 10, 3, 3, 3, 1, 1),
            (2, 2, 9, 9, 2, 3, 2, 2, 2),
            (1, 2, 7, 7, 2, 4, 2, 0, 1),
            (2, 2, 8, 8, 65, 4, 2, 1, 1),
        ] {
            let options = ConvOptions::new([stride; 2], [pad; 2], [dil; 2], 1);
            out.push(Geometry::new(
                [batch, c_in, h, w],
                [c_out, c_in, k, k],
                &options,
            ));
        }
        // Asymmetric padding and kernels, a dilated one among them.
        for (padding, k, dilation, stride) in [
            ([(0, 2), (1, 0)], [3, 2], [1, 1], [1, 1]),
            ([(2, 1), (0, 1)], [3, 3], [2, 1], [1, 1]),
            ([(1, 0), (2, 1)], [3, 4], [1, 1], [2, 1]),
            ([(0, 1), (1, 2)], [2, 3], [1, 2], [1, 3]),
        ] {
            let options = ConvOptions {
                stride,
                padding,
                dilation,
                groups: 1,
            };
            out.push(Geometry::new([2, 3, 7, 6], [2, 3, k[0], k[1]], &options));
        }
        out
    }

    /// The tests above and below cover both routes only if the geometries split between them.
    #[test]
    fn geometries_cover_both_routes_strided_and_not() {
        if crate::flex_kernels::conv_rows_forced() {
            return; // `DEEPGEN_CONV=rows`: every geometry on the row-by-row route.
        }
        let gs = geometries();
        let strided = |g: &Geometry| g.stride != [1, 1];
        assert!(gs.iter().any(|g| strided(g) && g.wide().is_some()));
        assert!(gs.iter().any(|g| strided(g) && g.wide().is_none()));
        assert!(gs.iter().any(|g| !strided(g) && g.wide().is_some()));
        assert!(
            gs.iter()
                .any(|g| !strided(g) && !g.pointwise() && g.wide().is_none())
        );
        // A 2×-strided 4×4 layer on 14 × 14 (the conv VAE's second): 8-wide phase planes.
        let g = Geometry::new(
            [1, 32, 14, 14],
            [64, 32, 4, 4],
            &ConvOptions::new([2, 2], [1, 1], [1, 1], 1),
        );
        let wd = g.wide().expect("wide");
        assert_eq!((wd.hq, wd.wq, wd.n, g.oh, g.ow), (8, 8, 64, 7, 7));
    }

    #[test]
    fn forward_matches_the_direct_sum() {
        for g in geometries() {
            let x = values(g.batch * g.image_len(), 1);
            let w = values(g.c_out * g.k(), 2);
            let bias = values(g.c_out, 3);
            let y = forward(&g, &x, &w, Some(&bias));
            let want = naive(&g, &x, &w, Some(&bias));
            for (a, b) in y.iter().zip(&want) {
                assert!((*a as f64 - b).abs() < 1e-4, "{g:?}: {a} vs {b}");
            }
        }
    }

    /// Direct gradients in f64: the same loops as [`naive`], scattering `dy` back.
    fn naive_backward(g: &Geometry, x: &[f32], w: &[f32], dy: &[f32]) -> [Vec<f64>; 3] {
        let mut dx = vec![0.0f64; x.len()];
        let mut dw = vec![0.0f64; w.len()];
        let mut db = vec![0.0f64; g.c_out];
        for b in 0..g.batch {
            for co in 0..g.c_out {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let d = dy[((b * g.c_out + co) * g.oh + oy) * g.ow + ox] as f64;
                        db[co] += d;
                        for c in 0..g.c_in {
                            for i in 0..g.kh {
                                for j in 0..g.kw {
                                    let Some((iy, ix)) = input_pixel(g, oy, ox, i, j) else {
                                        continue;
                                    };
                                    let xi = ((b * g.c_in + c) * g.h + iy) * g.w + ix;
                                    let wi = ((co * g.c_in + c) * g.kh + i) * g.kw + j;
                                    dx[xi] += d * w[wi] as f64;
                                    dw[wi] += d * x[xi] as f64;
                                }
                            }
                        }
                    }
                }
            }
        }
        [dx, dw, db]
    }

    fn assert_close(got: &[f32], want: &[f64], what: &str, g: &Geometry) {
        assert_eq!(got.len(), want.len(), "{what} {g:?}");
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert!(
                (*a as f64 - b).abs() < 1e-4 * (1.0 + b.abs()),
                "{what}[{i}] {g:?}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn backward_matches_the_direct_gradients() {
        for g in geometries() {
            let x = values(g.batch * g.image_len(), 4);
            let w = values(g.c_out * g.k(), 5);
            let dy = values(g.batch * g.c_out * g.n(), 6);
            let [dx, dw, db] = naive_backward(&g, &x, &w, &dy);
            let grads = backward(&g, &x, &w, &dy, [true, true, true]);
            assert_close(grads.x.as_ref().unwrap(), &dx, "dx", &g);
            assert_close(grads.weight.as_ref().unwrap(), &dw, "dw", &g);
            assert_close(grads.bias.as_ref().unwrap(), &db, "db", &g);
            // Asking for less computes only that.
            let only_w = backward(&g, &x, &w, &dy, [false, true, false]);
            assert!(only_w.x.is_none() && only_w.bias.is_none());
            assert_close(only_w.weight.as_ref().unwrap(), &dw, "dw alone", &g);
        }
    }

    /// The interleaved row sums behind the bias gradients add in the order `iter().sum()`
    /// adds: the same bits for every row count (with and without a remainder of rows) and
    /// length, with values of mixed magnitudes so that the order matters.
    #[test]
    fn row_sums_are_the_sequential_sums_to_the_bit() {
        for (rows, len) in [
            (1, 5),
            (7, 3),
            (8, 784),
            (16, 196),
            (19, 49),
            (3, 0),
            (0, 4),
        ] {
            let data: Vec<f32> = values(rows * len, 11)
                .iter()
                .enumerate()
                .map(|(i, v)| v * [1.0, 1e4, 1e-3][i % 3])
                .collect();
            let got = row_sums(&data, len);
            let want: Vec<f32> = if len == 0 {
                Vec::new()
            } else {
                data.chunks_exact(len)
                    .map(|r| r.iter().sum::<f32>())
                    .collect()
            };
            assert_eq!(got.len(), want.len(), "{rows} rows of {len}");
            for (r, (a, b)) in got.iter().zip(&want).enumerate() {
                assert_eq!(
                    a.to_bits(),
                    b.to_bits(),
                    "row {r} of {rows} × {len}: {a} vs {b}"
                );
            }
            // A pairwise (reordered) sum differs from the sequential one somewhere here, so the
            // comparison above can fail.
            if rows == 8 {
                let pairwise: f32 = data[..len].chunks(2).map(|c| c.iter().sum::<f32>()).sum();
                assert_ne!(pairwise.to_bits(), got[0].to_bits());
            }
        }
    }

    /// An output gradient read in place from a larger buffer (images `stride` apart, other
    /// values between them) gives the same bits as the same gradient stored compactly.
    #[test]
    fn strided_output_gradient_gives_the_same_bits() {
        for g in geometries() {
            let x = values(g.batch * g.image_len(), 11);
            let w = values(g.c_out * g.k(), 12);
            let out_len = g.c_out * g.n();
            let dy = values(g.batch * out_len, 13);
            let stride = out_len + 2 * g.n() + 5;
            let mut wide = vec![f32::NAN; g.batch * stride + 3];
            for (b, img) in dy.chunks_exact(out_len.max(1)).enumerate() {
                wide[3 + b * stride..3 + b * stride + out_len].copy_from_slice(img);
            }
            let want = [true, true, true];
            let a = backward(&g, &x, &w, &dy, want);
            let b = backward_strided(&g, &x, &w, &wide[3..], stride, want);
            let bits =
                |v: Option<Vec<f32>>| v.unwrap().iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert!(bits(a.x) == bits(b.x), "dx {g:?}");
            assert!(bits(a.weight) == bits(b.weight), "dw {g:?}");
            assert!(bits(a.bias) == bits(b.bias), "db {g:?}");
        }
    }

    /// The gradients do not depend on the thread count (nor on rayon's work stealing): the
    /// same bits from pools of 1, 2, 3 and 5 threads, for batches below, at and above the
    /// number of summation groups.
    #[test]
    fn backward_is_the_same_to_the_bit_for_every_thread_count() {
        let options = ConvOptions::new([1; 2], [1; 2], [1; 2], 1);
        for batch in [1, 3, 8, 21] {
            let g = Geometry::new([batch, 3, 9, 9], [5, 3, 3, 3], &options);
            let x = values(g.batch * g.image_len(), 7);
            let w = values(g.c_out * g.k(), 8);
            let dy = values(g.batch * g.c_out * g.n(), 9);
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("a thread pool");
                let grads = pool.install(|| backward(&g, &x, &w, &dy, [true, true, true]));
                [grads.x, grads.weight, grads.bias].map(|v| {
                    v.expect("asked for")
                        .iter()
                        .map(|f| f.to_bits())
                        .collect::<Vec<_>>()
                })
            };
            let reference = run(1);
            for threads in [2, 3, 5] {
                let got = run(threads);
                for (what, (a, b)) in ["dx", "dw", "db"].iter().zip(reference.iter().zip(&got)) {
                    assert!(
                        a == b,
                        "batch {batch}, {threads} threads: {what} differs from 1 thread"
                    );
                }
            }
        }
    }

    /// Transposed convolution by scattering every input element: y[oy·… ] += x · W.
    #[test]
    fn transposed_forward_matches_the_direct_scatter() {
        for (batch, c_in, h, c_out, k, stride, pad, pad_out, dil) in [
            (2, 3, 4, 2, 4, 2, 1, 0, 1), // conv VAE decoder: 4×4, stride 2
            (1, 2, 3, 3, 3, 2, 1, 1, 1), // output padding
            (3, 2, 5, 2, 3, 1, 1, 0, 1),
            (2, 2, 3, 2, 3, 1, 0, 0, 2),
            (9, 2, 4, 3, 2, 2, 0, 0, 1),
        ] {
            let options =
                ConvTransposeOptions::new([stride; 2], [pad; 2], [pad_out; 2], [dil; 2], 1);
            let g = Geometry::transposed([batch, c_in, h, h], [c_in, c_out, k, k], &options)
                .expect("an invertible geometry");
            let (ho, wo) = (g.h, g.w);
            let x = values(batch * c_in * h * h, 8);
            let w = values(c_in * c_out * k * k, 9);
            let bias = values(c_out, 10);
            let mut want = vec![0.0f64; batch * c_out * ho * wo];
            for b in 0..batch {
                for co in 0..c_out {
                    for o in 0..ho * wo {
                        want[(b * c_out + co) * ho * wo + o] = bias[co] as f64;
                    }
                    for ci in 0..c_in {
                        for iy in 0..h {
                            for ix in 0..h {
                                for i in 0..k {
                                    for j in 0..k {
                                        let oy = (iy * stride + i * dil) as isize - pad as isize;
                                        let ox = (ix * stride + j * dil) as isize - pad as isize;
                                        if oy < 0
                                            || ox < 0
                                            || oy >= ho as isize
                                            || ox >= wo as isize
                                        {
                                            continue;
                                        }
                                        let xv = x[((b * c_in + ci) * h + iy) * h + ix] as f64;
                                        let wv = w[((ci * c_out + co) * k + i) * k + j] as f64;
                                        want[((b * c_out + co) * ho + oy as usize) * wo
                                            + ox as usize] += xv * wv;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            let y = transpose_forward(&g, &x, &w, Some(&bias));
            assert_close(&y, &want, "transposed y", &g);
        }
    }
}
