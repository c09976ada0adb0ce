//! Pixels to model inputs: grey levels in `[0, 1]`, or Bernoulli bits.
//!
//! Every pixel byte `x` is first mapped to `p = x / 255`. Then:
//! - [`Binarization::None`]: the input is `p` itself (as `f32`);
//! - [`Binarization::Static`]: the input is a bit drawn **once** per image:
//!   image `i` of the split uses the stream `HostRng::derive(seed, i)`, and
//!   pixel `j` (row-major) is `1` iff the `j`-th `uniform()` draw of that
//!   stream is `< p_j`. The bits are therefore a pure function of
//!   `(seed, i, pixels)`: the same in every epoch, whatever the batch order,
//!   batch size or device — the fixed binarised MNIST of Larochelle & Murray
//!   (2011) style, with the seed as the dataset's name. "Position `i`" is the
//!   index into the [`MnistSplit`] passed in; [`crate::split_validation`]
//!   keeps training positions unchanged;
//! - [`Binarization::Dynamic`]: a fresh bit per pixel every time a batch is
//!   made (Salakhutdinov & Murray 2008), drawn in order from the caller's
//!   `HostRng`, so a run is reproducible from its seed.
//!
//! In both binarised modes `P(bit = 1) = p` exactly up to the 2⁻⁵³
//! resolution of `uniform()` (`p = 0` never fires, `p = 1` always does).

use std::fmt;
use std::str::FromStr;

use deepgen_tensor::HostRng;

use crate::error::DataError;
use crate::mnist::MnistSplit;

/// Seed of `Binarization::Static` when parsed from the bare name `static`.
pub const DEFAULT_STATIC_SEED: u64 = 0;

/// How pixels become model inputs (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Binarization {
    /// Grey levels `x / 255` in `[0, 1]`.
    #[default]
    None,
    /// One fixed Bernoulli draw per image, keyed by `(seed, image index)`.
    Static {
        /// Names the fixed binarised dataset.
        seed: u64,
    },
    /// A fresh Bernoulli draw every time a batch is made.
    Dynamic,
}

impl Binarization {
    /// The accepted spellings, for help texts: `none`, `static`, `static:SEED`, `dynamic`.
    pub const NAMES: &'static str = "none, static, static:SEED, dynamic";

    /// Writes the inputs of one image (`pixels`, at position `index` of its
    /// split) to `out`, drawing from `rng` in dynamic mode only.
    pub fn apply(self, pixels: &[u8], index: usize, rng: &mut HostRng, out: &mut [f32]) {
        match self {
            Binarization::None => {
                for (o, &x) in out.iter_mut().zip(pixels) {
                    *o = unit(x);
                }
            }
            Binarization::Static { seed } => {
                let mut own = HostRng::derive(seed, index as u64);
                bernoulli(pixels, &mut own, out);
            }
            Binarization::Dynamic => bernoulli(pixels, rng, out),
        }
    }
}

/// `x / 255` as `f32`.
pub fn unit(x: u8) -> f32 {
    f32::from(x) / 255.0
}

/// `out[j] = 1` iff `rng.uniform() < pixels[j] / 255`, one draw per pixel in order.
///
/// Compared in integers: `uniform()` is `b · 2⁻⁵³` for the 53 bits `b = next_u64() >> 11`,
/// and `p · 2⁵³` is exact in f64, so `b · 2⁻⁵³ < p ⟺ b < ⌈p · 2⁵³⌉` — the same bits as the
/// float comparison (tested against it), without a division and a conversion per pixel.
fn bernoulli(pixels: &[u8], rng: &mut HostRng, out: &mut [f32]) {
    let thresholds = grey_thresholds();
    for (o, &x) in out.iter_mut().zip(pixels) {
        let b = rng.next_u64() >> 11;
        *o = if b < thresholds[usize::from(x)] {
            1.0
        } else {
            0.0
        };
    }
}

/// `⌈(x / 255) · 2⁵³⌉` for every grey level `x` (with `x / 255` rounded to f64 as in
/// [`HostRng::uniform`]'s comparison).
fn grey_thresholds() -> &'static [u64; 256] {
    static TABLE: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let scale = (1u64 << 53) as f64;
        std::array::from_fn(|x| ((x as f64 / 255.0) * scale).ceil() as u64)
    })
}

/// The statically binarised copy of `split`: every pixel 0 or 255, exactly
/// the bits `Binarization::Static { seed }` feeds a model.
pub fn static_binarized(split: &MnistSplit, seed: u64) -> MnistSplit {
    let d = split.pixels();
    let mut bits = vec![0f32; d];
    let mut images = Vec::with_capacity(split.images.len());
    let mut unused = HostRng::seed_from_u64(0);
    for i in 0..split.len() {
        Binarization::Static { seed }.apply(split.image(i), i, &mut unused, &mut bits);
        images.extend(bits.iter().map(|&b| if b > 0.5 { 255u8 } else { 0 }));
    }
    MnistSplit {
        images,
        labels: split.labels.clone(),
        rows: split.rows,
        cols: split.cols,
    }
}

impl fmt::Display for Binarization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Binarization::None => write!(f, "none"),
            Binarization::Static { seed } => write!(f, "static:{seed}"),
            Binarization::Dynamic => write!(f, "dynamic"),
        }
    }
}

impl FromStr for Binarization {
    type Err = DataError;

    /// Parses `none`, `dynamic`, `static` (seed [`DEFAULT_STATIC_SEED`]) or
    /// `static:SEED`, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, DataError> {
        let lower = s.trim().to_ascii_lowercase();
        let unknown = || DataError::UnknownName {
            what: "binarization",
            given: s.to_string(),
            valid: Binarization::NAMES.to_string(),
        };
        match lower.as_str() {
            "none" => Ok(Binarization::None),
            "dynamic" => Ok(Binarization::Dynamic),
            "static" => Ok(Binarization::Static {
                seed: DEFAULT_STATIC_SEED,
            }),
            other => match other.strip_prefix("static:") {
                Some(seed) => seed
                    .parse::<u64>()
                    .map(|seed| Binarization::Static { seed })
                    .map_err(|_| unknown()),
                None => Err(unknown()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The float comparison the integer thresholds replace.
    fn bernoulli_float(pixels: &[u8], rng: &mut HostRng, out: &mut [f32]) {
        for (o, &x) in out.iter_mut().zip(pixels) {
            let p = f64::from(x) / 255.0;
            *o = if rng.uniform() < p { 1.0 } else { 0.0 };
        }
    }

    #[test]
    fn integer_thresholds_decide_like_the_float_comparison_at_their_edges() {
        let t = grey_thresholds();
        let unit = 1.0 / (1u64 << 53) as f64;
        assert_eq!(t[0], 0);
        assert_eq!(t[255], 1u64 << 53);
        for x in 0..=255u8 {
            let p = f64::from(x) / 255.0;
            let lo = t[usize::from(x)].saturating_sub(2);
            let hi = (t[usize::from(x)] + 2).min((1u64 << 53) - 1);
            for b in lo..=hi {
                assert_eq!(
                    (b as f64 * unit) < p,
                    b < t[usize::from(x)],
                    "grey level {x}, 53-bit draw {b}"
                );
            }
        }
    }

    #[test]
    fn dynamic_binarisation_draws_the_same_bits_as_the_float_comparison() {
        let pixels: Vec<u8> = (0..=255u8).cycle().take(256 * 40).collect();
        let (mut a, mut b) = (HostRng::seed_from_u64(11), HostRng::seed_from_u64(11));
        let mut fast = vec![0f32; pixels.len()];
        let mut slow = vec![0f32; pixels.len()];
        Binarization::Dynamic.apply(&pixels, 0, &mut a, &mut fast);
        bernoulli_float(&pixels, &mut b, &mut slow);
        assert_eq!(fast, slow);
        assert_eq!(a.next_u64(), b.next_u64(), "one draw per pixel");
        let ones = fast.iter().filter(|&&v| v == 1.0).count() as f64 / fast.len() as f64;
        // E = mean of x/255 over 0..=255 = 0.5; SE ≈ 0.5/√10240 ≈ 0.005.
        assert!((ones - 0.5).abs() < 0.025, "fraction of ones {ones}");
    }
}
