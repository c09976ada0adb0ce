//! A small, seedable, serialisable host-side random number generator.
//!
//! Burn's device RNG (`Device::seed`) draws the tensors; the host needs its
//! own stream for shuffling, binarisation thresholds and toy-data sampling,
//! and its state must go into checkpoints so `--resume` continues the same
//! stream. `HostRng` is xoshiro256++ (Blackman & Vigna 2019) seeded through
//! SplitMix64: 32 bytes of state, good statistical quality.
//!
//! It is also a `rand_core` generator (`rand_core::TryRng` with `Infallible` errors, hence
//! `rand_core::Rng`), so the `rand` ecosystem's distributions can draw from it; the
//! throughput-bound normal draws use rand_distr's ziggurat ([`HostRng::normal_ziggurat`]).

use serde::{Deserialize, Serialize};

/// The named random streams of a run (see [`HostRng::stream`]).
///
/// The labels are fixed: changing one changes every result that depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stream {
    /// The training loop's host stream of epoch `e` (shuffling, dynamic binarisation, per-batch
    /// noise seeds); identical to `HostRng::derive(seed, e)`.
    Epoch(u64),
    /// The device RNG's seed for epoch `e` (the first `next_u64()` of this stream).
    DeviceEpoch(u64),
    /// The fixed binarisation of the test split.
    TestBinarization,
    /// The fixed corruption of test inputs (denoising autoencoders).
    TestCorruption,
    /// Latent noise of the per-epoch test evaluation (test ELBO terms).
    EvalNoise,
    /// Proposal noise of the importance-sampled test NLL.
    NllNoise,
    /// Noise of the per-epoch sample grid.
    Samples,
    /// Noise of the samples drawn for the Fréchet distance after training.
    FrechetSamples,
    /// Noise of a Monte-Carlo estimate of a trained model's statistics (Analytic-DPM's `Γ_t`).
    ModelStatistics,
    /// Codebook maintenance of a vector quantizer: k-means initialisation and dead-code
    /// re-seeding (derived per optimizer step, so `--resume` replays it).
    Codebook,
}

impl Stream {
    /// The constant mixed into the run seed for this stream (the epoch streams mix in the epoch
    /// afterwards, through [`HostRng::derive`]).
    pub const fn label(self) -> u64 {
        match self {
            Stream::Epoch(_) => 0,
            Stream::DeviceEpoch(_) => 0x5EED,
            Stream::TestBinarization => 0x7E57,
            Stream::TestCorruption => 0x00DE_7015E,
            Stream::EvalNoise => 0xE7A1,
            Stream::NllNoise => 0x1A5E_11DE,
            Stream::Samples => 0x05A3_B1E5,
            Stream::FrechetSamples => 0xFD,
            Stream::ModelStatistics => 0x006A_33A5,
            Stream::Codebook => 0xC0DE_B00C,
        }
    }
}

/// xoshiro256++ generator with a plain, serialisable state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRng {
    s: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl HostRng {
    /// Seeds the generator; equal seeds give equal streams on every platform.
    pub fn seed_from_u64(seed: u64) -> Self {
        let mut x = seed;
        let s = [
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ];
        Self { s }
    }

    /// An independent stream derived from this seed and a label (e.g. an
    /// epoch number), without advancing `self`.
    pub fn derive(seed: u64, stream: u64) -> Self {
        let mut x = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        Self::seed_from_u64(splitmix64(&mut x))
    }

    /// The generator of a named [`Stream`] of the run seeded with `seed`.
    ///
    /// Every place that needs randomness independent of the others asks for its own stream by
    /// name instead of XOR-ing a private constant into the seed; the constants live in
    /// [`Stream::label`], once, so two streams can never collide by accident.
    pub fn stream(seed: u64, stream: Stream) -> Self {
        match stream {
            Stream::Epoch(e) => Self::derive(seed, e),
            Stream::DeviceEpoch(e) => Self::derive(seed ^ stream.label(), e),
            _ => Self::seed_from_u64(seed ^ stream.label()),
        }
    }

    /// The raw state, for checkpoints.
    pub fn state(&self) -> [u64; 4] {
        self.s
    }

    /// Restores a state returned by [`HostRng::state`].
    ///
    /// An all-zero state is a fixed point of xoshiro; it is replaced by the
    /// state of seed 0 so the generator never gets stuck.
    pub fn from_state(s: [u64; 4]) -> Self {
        if s == [0; 4] {
            Self::seed_from_u64(0)
        } else {
            Self { s }
        }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in the open interval `(0, 1)`: safe to take `ln` of.
    pub fn uniform_open(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` without modulo bias (Lemire's method).
    ///
    /// # Panics
    /// If `n == 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "HostRng::below: `n` must be positive");
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as u64;
            }
        }
    }

    /// Standard normal draw (Box–Muller; one of the pair is discarded to keep
    /// the state a pure function of the number of calls).
    pub fn normal(&mut self) -> f64 {
        let a = self.next_u64();
        let b = self.next_u64();
        Self::normal_from_bits(a, b)
    }

    /// The [`normal`](Self::normal) draw made of two consecutive outputs `a`, `b` of
    /// [`next_u64`](Self::next_u64) (`u₁ ∈ (0, 1)` from `a`, `u₂ ∈ [0, 1)` from `b`), so that
    /// callers can draw the bits in order and evaluate the transcendental part elsewhere — on
    /// other threads — with the same result to the bit.
    pub fn normal_from_bits(a: u64, b: u64) -> f64 {
        let u1 = ((a >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
        let u2 = (b >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Standard normal draw by the ziggurat method (rand_distr's `StandardNormal`: Marsaglia &
    /// Tsang 2000 with Doornik's 2005 correction), about four times as fast as
    /// [`normal`](Self::normal)'s Box–Muller: one [`next_u64`](Self::next_u64) and a table
    /// look-up in ≈ 98.8 % of draws, more (an exponential tail or a wedge rejection) otherwise.
    ///
    /// The number of outputs it consumes varies, so the state is not a function of the number
    /// of calls; samplers that draw blocks in parallel give each block its own stream
    /// ([`derive`](Self::derive)) rather than splitting one stream by position.
    pub fn normal_ziggurat(&mut self) -> f64 {
        rand_distr::Distribution::sample(&rand_distr::StandardNormal, self)
    }

    /// Fisher–Yates shuffle in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// A random permutation of `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        self.shuffle(&mut p);
        p
    }
}

/// `HostRng` as a `rand_core` generator (infallible, so `rand_core::Rng` follows from the blanket
/// implementation): `next_u64` is [`HostRng::next_u64`], `next_u32` its high half, and bytes
/// are filled from consecutive `next_u64` outputs in little-endian order.
impl rand_core::TryRng for HostRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((HostRng::next_u64(self) >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(HostRng::next_u64(self))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let bytes = HostRng::next_u64(self).to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_stream_for_seed_zero() {
        // xoshiro256++ reference: state from SplitMix64(0) =
        // [0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f, 0xf88bb8a8724c81ec]
        // (SplitMix64 reference values, Vigna's splitmix64.c).
        let rng = HostRng::seed_from_u64(0);
        assert_eq!(
            rng.state(),
            [
                0xe220a8397b1dcdaf,
                0x6e789e6aa1b965f4,
                0x06c45d188009454f,
                0xf88bb8a8724c81ec
            ]
        );
    }

    #[test]
    fn streams_are_distinct_and_match_the_historical_seeds() {
        use super::Stream;
        let seed = 42;
        // The streams reproduce the seeds the examples used before they were named, so
        // published numbers stay reproducible.
        assert_eq!(
            HostRng::stream(seed, Stream::Epoch(3)),
            HostRng::derive(seed, 3)
        );
        assert_eq!(
            HostRng::stream(seed, Stream::DeviceEpoch(3)),
            HostRng::derive(seed ^ 0x5EED, 3)
        );
        assert_eq!(
            HostRng::stream(seed, Stream::NllNoise),
            HostRng::seed_from_u64(seed ^ 0x1A5E_11DE)
        );
        let all = [
            Stream::Epoch(0),
            Stream::DeviceEpoch(0),
            Stream::TestBinarization,
            Stream::TestCorruption,
            Stream::EvalNoise,
            Stream::NllNoise,
            Stream::Samples,
            Stream::FrechetSamples,
            Stream::ModelStatistics,
            Stream::Codebook,
        ];
        let firsts: Vec<u64> = all
            .iter()
            .map(|s| HostRng::stream(seed, *s).next_u64())
            .collect();
        for i in 0..firsts.len() {
            for j in 0..i {
                assert_ne!(
                    firsts[i], firsts[j],
                    "{:?} and {:?} collide",
                    all[i], all[j]
                );
            }
        }
    }

    #[test]
    fn state_round_trip_continues_the_stream() {
        let mut a = HostRng::seed_from_u64(7);
        for _ in 0..10 {
            a.next_u64();
        }
        let mut b = HostRng::from_state(a.state());
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn uniform_and_normal_moments() {
        // n = 200_000: the standard error of the mean is 0.00065 (uniform) and
        // 0.0022 (normal); tolerances are ~5 standard errors.
        let mut rng = HostRng::seed_from_u64(1);
        let n = 200_000;
        let u: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
        let mean = u.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.0033, "{mean}");
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
        let z: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let m = z.iter().sum::<f64>() / n as f64;
        let v = z.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.011, "{m}");
        assert!((v - 1.0).abs() < 0.016, "{v}");
    }

    #[test]
    fn ziggurat_normal_matches_the_standard_normal_cdf() {
        // n = 10⁶ draws; P(Z ≤ x) at points in the body and both tails against Φ(x)
        // (`torch.special.ndtr` in float64, pasted), each within 5 binomial standard errors; plus the
        // first two moments. A sign error, a wrong table scale or a missing tail fails it.
        let mut rng = HostRng::seed_from_u64(5);
        let n = 1_000_000usize;
        let z: Vec<f64> = (0..n).map(|_| rng.normal_ziggurat()).collect();
        for (x, phi) in [
            (-3.0, 0.001_349_898_031_630_103_5),
            (-2.0, 0.022_750_131_948_179_21),
            (-1.0, 0.158_655_253_931_457_05),
            (0.0, 0.5),
            (0.5, 0.691_462_461_274_013_1),
            (2.5, 0.993_790_334_674_223_8),
            (3.5, 0.999_767_370_920_964_5),
        ] {
            let p = z.iter().filter(|&&v| v <= x).count() as f64 / n as f64;
            let se = (phi * (1.0 - phi) / n as f64).sqrt();
            assert!((p - phi).abs() < 5.0 * se, "P(Z ≤ {x}) = {p}, Φ = {phi}");
        }
        let m = z.iter().sum::<f64>() / n as f64;
        let v = z.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.005, "{m}");
        assert!((v - 1.0).abs() < 0.01, "{v}");
    }

    #[test]
    fn rand_core_view_is_the_same_stream() {
        use rand_core::Rng;
        let mut a = HostRng::seed_from_u64(9);
        let mut b = a.clone();
        let x = HostRng::next_u64(&mut a);
        assert_eq!(Rng::next_u64(&mut b), x);
        let y = HostRng::next_u64(&mut a);
        assert_eq!(Rng::next_u32(&mut b), (y >> 32) as u32);
        let (w0, w1) = (HostRng::next_u64(&mut a), HostRng::next_u64(&mut a));
        let mut bytes = [0u8; 12];
        b.fill_bytes(&mut bytes);
        assert_eq!(&bytes[..8], &w0.to_le_bytes());
        assert_eq!(&bytes[8..], &w1.to_le_bytes()[..4]);
        assert_eq!(a, b);
    }

    #[test]
    fn permutation_is_a_permutation_and_unbiased() {
        let mut rng = HostRng::seed_from_u64(3);
        let mut p = rng.permutation(1000);
        p.sort_unstable();
        assert_eq!(p, (0..1000).collect::<Vec<_>>());
        // Position of element 0 over many shuffles of 4: chi-square, 3 dof,
        // 0.999 quantile = 16.27.
        let mut counts = [0f64; 4];
        for _ in 0..40_000 {
            let p = rng.permutation(4);
            counts[p.iter().position(|&x| x == 0).unwrap()] += 1.0;
        }
        let chi2: f64 = counts
            .iter()
            .map(|c| (c - 10_000.0).powi(2) / 10_000.0)
            .sum();
        assert!(chi2 < 16.27, "{chi2} {counts:?}");
    }
}
