//! Modified Bessel function of the first kind in log space, `ln I_ν(x)`, the
//! ratio `I_{ν+1}(x) / I_ν(x)`, and the von Mises–Fisher normaliser built on
//! them, in `f64`.
//!
//! # Method
//!
//! Three evaluations, each accurate to ~1e-15 where it is used, so the two
//! switch points (below) leave jumps at rounding level only, in the values and
//! in the derivative (the derivative `d/dx ln I_ν(x) = I_{ν+1}/I_ν + ν/x` comes
//! from the same branch as the value):
//!
//! - **Power series** (DLMF 10.25.2), for `ν < 30` and `x² ≤ 64 (ν + 1)`:
//!   `I_ν(x) = (x/2)^ν / Γ(ν+1) · (1 + s)`, `s = Σ_{k≥1} (x²/4)^k / (k! (ν+1)_k)`,
//!   all terms positive; `ln I_ν(x) = ν ln(x/2) - lgamma(ν+1) + ln_1p(s)`,
//!   so `ln I_0(x) ≈ x²/4` keeps full relative accuracy as `x → 0`. The
//!   term ratio is `≤ 16 (ν+1) / (k (ν+k)) ≤ 16/k`, so at most ~60 terms.
//!   The ratio is `x / (2ν+2) · (1 + s_{ν+1}) / (1 + s_ν)`.
//! - **Uniform asymptotic (Debye) expansion** (DLMF 10.41.3/10.41.4), for
//!   `ν ≥ 30` and every `x ≥ 0`: with `h = √(ν² + x²)`, `t = ν / h`,
//!   `ln I_ν(x) = h - ν ln((ν + h)/x) - ½ ln(2π h) + ln(1 + Σ_{k=1}^{12} u_k(t) / ν^k)`.
//!   The polynomials `u_k` (DLMF 10.41.10) are tabulated below; the first
//!   omitted term is `≤ max|u_13| / 30^13 ≈ 3e-18`. The ratio comes from
//!   `I'_ν/I_ν = √(1+z²)/z · V/U` (`z = x/ν`, `U = Σ u_k/ν^k`, `V = Σ v_k/ν^k`),
//!   rewritten without cancellation using DLMF 10.41.11,
//!   `v_k - u_k = (1 - t²) q_k`, `q_k = -t (½ u_{k-1} + t u'_{k-1})`:
//!   `I_{ν+1}/I_ν = x/(ν+h) · V/U + t (x/h) · Q/U`, `Q = Σ q_k/ν^k`.
//! - **Backward recurrence from the Debye region**, for `ν < 30` and
//!   `x² > 64 (ν + 1)`: with `μ = ν + N ≥ 30` (`N = ⌈30 - ν⌉`), the ratios
//!   `r_j = I_{j+1}/I_j` obey the stable downward recurrence
//!   `r_j = x / (2(j+1) + x r_{j+1})` (DLMF 10.29.1; this is the Gauss
//!   continued fraction, errors shrink by `r_j r_{j+1} < 1` per step), started
//!   from the Debye ratio at `μ`, and
//!   `ln I_ν(x) = ln I_μ(x) - Σ_{j=ν}^{μ-1} ln r_j(x)`. Since `x ≥ 8` here,
//!   `|ln I_ν(x)|` is not small compared with `ln I_μ(x)`, so the subtraction
//!   loses nothing noticeable.
//!
//! The Debye branch also covers `x ≫ ν` (where `t → 0` and it tends to the
//! Hankel expansion DLMF 10.40.1), so no separate large-`x` formula is needed.
//!
//! Measured against mpmath 1.4.1 (`besseli` at 50 digits) on 23 orders in
//! `[0, 499]` (integer, half-integer and others, including `29.99`, `30`,
//! `30.5`) × 361 points log-spaced over `[1e-4, 1e5]`: `ln I_ν(x)` has error
//! ≤ 3.1e-14 · max(1, |ln I_ν(x)|), relative error ≤ 1.5e-13 (the worst
//! points sit where `ln I_ν(x)` crosses zero; elsewhere ~1e-15); the ratio has
//! relative error ≤ 1.1e-15; [`vmf_log_normalizer`] has error
//! ≤ 5.8e-14 · max(1, |ln C_m(κ)|). `tests/bessel.rs` asserts tighter-than-1e-13
//! bounds on the 12 × 10 grid of `m ∈ [2, 1000]`, `κ ∈ [1e-4, 1e5]` and across
//! the switch points.

use std::f64::consts::{LN_2, PI};

use super::lgamma::lgamma;

/// Orders `ν ≥ NU_DEBYE` use the Debye expansion for every `x`; smaller
/// orders recur down from `ν + ⌈NU_DEBYE - ν⌉`.
const NU_DEBYE: f64 = 30.0;

/// The power series is used for `ν < NU_DEBYE` and `x²/4 ≤ SERIES_Y_MAX (ν + 1)`.
const SERIES_Y_MAX: f64 = 16.0;

/// The series stops once a term is below this fraction of the partial sum.
const SERIES_TOL: f64 = 1e-17;

/// `ln 2π`.
const LN_2PI: f64 = 1.8378770664093453;

// The Debye polynomials, with `u_k(t) = t^k Σ_j U[k-1][j] t^{2j}` and
// `q_k(t) = t^k Σ_j Q[k-1][j] t^{2j}`, k = 1..=12. Exact rationals from the
// recurrence DLMF 10.41.10, `u_0 = 1`,
// `u_{k+1}(t) = ½ t² (1 - t²) u_k'(t) + ⅛ ∫_0^t (1 - 5s²) u_k(s) ds`,
// and `q_k(t) = -t (½ u_{k-1}(t) + t u_{k-1}'(t))` (so that
// `v_k - u_k = (1 - t²) q_k`, DLMF 10.41.11), computed with Python's
// `fractions.Fraction` and rounded to f64 with `repr(float(c))`
// (script: `tests/refs/bessel_refs.py`, function `debye_tables`).
// `bessel::tests::debye_tables_match_recurrence` rebuilds them in f64.

/// Coefficients of `u_k(t) / t^k` in powers of `t²`, `k = 1..=12` (DLMF 10.41.10).
const DEBYE_U: [&[f64]; 12] = [
    &[0.125, -0.20833333333333334],
    &[0.0703125, -0.4010416666666667, 0.3342013888888889],
    &[
        0.0732421875,
        -0.8912109375,
        1.8464626736111112,
        -1.0258125964506173,
    ],
    &[
        0.112152099609375,
        -2.3640869140625,
        8.78912353515625,
        -11.207002616222994,
        4.669584423426247,
    ],
    &[
        0.22710800170898438,
        -7.368794359479632,
        42.53499874538846,
        -91.81824154324002,
        84.63621767460073,
        -28.212072558200244,
    ],
    &[
        0.5725014209747314,
        -26.491430486951554,
        218.1905117442116,
        -699.5796273761325,
        1059.9904525279999,
        -765.2524681411817,
        212.57013003921713,
    ],
    &[
        1.7277275025844574,
        -108.09091978839466,
        1200.9029132163525,
        -5305.646978613403,
        11655.393336864534,
        -13586.550006434138,
        8061.722181737309,
        -1919.457662318407,
    ],
    &[
        6.074042001273483,
        -493.915304773088,
        7109.514302489364,
        -41192.65496889755,
        122200.46498301746,
        -203400.17728041555,
        192547.00123253153,
        -96980.59838863752,
        20204.29133096615,
    ],
    &[
        24.380529699556064,
        -2499.8304818112097,
        45218.76898136273,
        -331645.1724845636,
        1268365.2733216248,
        -2813563.226586534,
        3763271.297656404,
        -2998015.9185381066,
        1311763.6146629772,
        -242919.18790055133,
    ],
    &[
        110.01714026924674,
        -13886.08975371704,
        308186.4046126624,
        -2785618.1280864547,
        13288767.166421818,
        -37567176.66076335,
        66344512.27472903,
        -74105148.21153265,
        50952602.49266464,
        -19706819.118432228,
        3284469.853072038,
    ],
    &[
        551.3358961220206,
        -84005.43360302408,
        2243768.1779224495,
        -24474062.72573873,
        142062907.7975331,
        -495889784.2750303,
        1106842816.8230145,
        -1621080552.1083372,
        1553596899.57058,
        -939462359.6815784,
        325573074.18576574,
        -49329253.66450996,
    ],
    &[
        3038.090510922384,
        -549842.3275722887,
        17395107.553978164,
        -225105661.88941526,
        1559279864.8792574,
        -6563293792.619285,
        17954213731.1556,
        -33026599749.800724,
        41280185579.753975,
        -34632043388.158775,
        18688207509.295826,
        -5866481492.051847,
        814789096.1183121,
    ],
];

/// Coefficients of `q_k(t) / t^k` in powers of `t²`, `k = 1..=12`, where
/// `v_k(t) - u_k(t) = (1 - t²) q_k(t)` (DLMF 10.41.11).
const DEBYE_Q: [&[f64]; 12] = [
    &[-0.5],
    &[-0.1875, 0.7291666666666666],
    &[-0.17578125, 1.8046875, -2.1723090277777777],
    &[
        -0.25634765625,
        4.90166015625,
        -13.848470052083334,
        9.745219666280864,
    ],
    &[
        -0.5046844482421875,
        15.36656494140625,
        -74.70755004882812,
        117.67352747034144,
        -58.36980529282809,
    ],
    &[
        -1.249094009399414,
        55.26595769609724,
        -404.0824880811903,
        1055.9097777472603,
        -1142.5889386071099,
        437.2871246521038,
    ],
    &[
        -3.7212592363357544,
        225.17715913908822,
        -2291.0003733142216,
        8744.745342201657,
        -15369.861561655998,
        12626.665724329498,
        -3932.547405725517,
    ],
    &[
        -12.95795626938343,
        1026.8637379897493,
        -13810.383501988053,
        71626.23421128094,
        -180658.59672140027,
        237764.6251125974,
        -157203.58254387754,
        41268.33973984575,
    ],
    &[
        -51.629357010824606,
        5186.110700117424,
        -88868.92878111705,
        597293.4970490145,
        -2016307.6722197882,
        3762903.2796876873,
        -3947213.5252668965,
        2182063.463744344,
        -495005.13760867063,
    ],
    &[
        -231.6150321457826,
        28748.05054082891,
        -610453.3812483968,
        5140500.173510736,
        -22196392.283128433,
        54864482.918437414,
        -80910332.89961268,
        70453374.08564551,
        -33449972.17390592,
        6680277.667265162,
    ],
    &[
        -1155.1799728270908,
        173576.121921463,
        -4468702.866883605,
        45962699.1134265,
        -245842192.57880363,
        770127121.5456487,
        -1492751526.1814032,
        1815576131.1825502,
        -1350243966.055613,
        561644344.8753184,
        -100176330.51869716,
    ],
    &[
        -6340.362805403237,
        1134073.3536408253,
        -34778406.757797964,
        428296097.7004278,
        -2770226702.051895,
        10661630361.91315,
        -26010806195.34084,
        41337554078.762596,
        -42723914738.19095,
        27714139610.606564,
        -10255551836.851622,
        1652529997.7610838,
    ],
];

/// `ln I_ν(x)`, the natural log of the modified Bessel function of the first kind.
///
/// Accurate to ~1e-14 · max(1, |ln I_ν(x)|) for all `ν ≥ 0` and `x ≥ 0` (see
/// the module docs for the method and the measured errors); it does not
/// overflow or underflow for `x` up to `f64::MAX`.
///
/// Special cases: `ln I_0(0) = 0`, `ln I_ν(0) = -inf` for `ν > 0`,
/// `ln I_ν(+inf) = +inf`. A NaN, negative or infinite `ν`, or a NaN or
/// negative `x` gives NaN (no panic, as the rest of [`host`](super)).
pub fn log_bessel_i(nu: f64, x: f64) -> f64 {
    if let Some(special) = special_case(nu, x, 0.0, f64::NEG_INFINITY, f64::INFINITY) {
        return special;
    }
    match region(nu, x) {
        Region::Series => {
            nu * (0.5 * x).ln() - lgamma(nu + 1.0) + series_tail(nu, 0.25 * x * x).ln_1p()
        }
        Region::Debye => Debye::new(nu, x).log_i(),
        Region::Recurrence => recurrence(nu, x).0,
    }
}

/// The Bessel ratio `I_{ν+1}(x) / I_ν(x)`, in `[0, 1)`.
///
/// Computed directly in each branch (series quotient, the cancellation-free
/// Debye ratio, or the downward recurrence — see the module docs), never as
/// `exp` of a difference of logs, so it has relative error ~1e-15 for all
/// `ν ≥ 0`, `x ≥ 0`, including `x → 0`, where it tends to `x / (2ν + 2)`,
/// and `x → ∞`, where it tends to `1 - (2ν + 1)/(2x)`.
///
/// Special cases: `0` at `x = 0`, `1` at `x = +inf`; invalid `ν` or `x` (as
/// for [`log_bessel_i`]) give NaN.
pub fn bessel_i_ratio(nu: f64, x: f64) -> f64 {
    if let Some(special) = special_case(nu, x, 0.0, 0.0, 1.0) {
        return special;
    }
    match region(nu, x) {
        Region::Series => {
            let y = 0.25 * x * x;
            x / (2.0 * (nu + 1.0)) * (1.0 + series_tail(nu + 1.0, y)) / (1.0 + series_tail(nu, y))
        }
        Region::Debye => Debye::new(nu, x).ratio(),
        Region::Recurrence => recurrence(nu, x).1,
    }
}

/// `d/dx ln I_ν(x) = I_ν'(x) / I_ν(x) = I_{ν+1}(x)/I_ν(x) + ν/x` (DLMF 10.29.2).
///
/// Uses [`bessel_i_ratio`], so it is exactly the derivative of the function
/// [`log_bessel_i`] approximates, to ~1e-15 relative. Special cases: at
/// `x = 0` it is `0` for `ν = 0` (the limit, since `ln I_0(x) ≈ x²/4`) and
/// `+inf` for `ν > 0`; `1` at `x = +inf`; invalid input gives NaN.
pub fn log_bessel_i_dx(nu: f64, x: f64) -> f64 {
    if let Some(special) = special_case(nu, x, 0.0, f64::INFINITY, 1.0) {
        return special;
    }
    bessel_i_ratio(nu, x) + nu / x
}

/// `ln C_m(κ)`, the log-normaliser of the von Mises–Fisher distribution on the
/// sphere `S^{m-1} ⊂ ℝ^m` (density `C_m(κ) exp(κ μᵀx)` w.r.t. surface measure):
///
/// `ln C_m(κ) = (m/2 - 1) ln κ - (m/2) ln 2π - ln I_{m/2-1}(κ)`,
///
/// Its derivative is `d/dκ ln C_m(κ) = -A_m(κ)` ([`vmf_mean_resultant_length`]).
///
/// The `ln κ` terms are cancelled analytically in each branch, so it is
/// continuous (and accurate) down to and including `κ = 0`, where it equals
/// `-ln |S^{m-1}| = lgamma(m/2) - ln 2 - (m/2) ln π`:
/// - series branch: `lgamma(ν+1) - ln 2 - (ν+1) ln π - ln_1p(s)`;
/// - Debye branch: `ν ln(ν + h) - h + ½ ln(2πh) - ln(1 + Σ u_k/ν^k) - (ν+1) ln 2π`;
/// - recurrence branch (`κ ≥ 8`): the defining formula.
///
/// Error ~1e-14 · max(1, |ln C_m(κ)|) (measured, see `tests/bessel.rs`).
/// `κ = +inf` gives `-inf`; NaN or negative `κ` gives NaN.
///
/// # Panics
///
/// If `m < 2` (there is no von Mises–Fisher distribution on `S^0` or `S^{-1}`).
pub fn vmf_log_normalizer(m: usize, kappa: f64) -> f64 {
    assert!(m >= 2, "vmf_log_normalizer: dimension m = {m} must be ≥ 2");
    let nu = 0.5 * m as f64 - 1.0;
    if kappa.is_nan() || kappa < 0.0 {
        return f64::NAN;
    }
    if kappa == f64::INFINITY {
        return f64::NEG_INFINITY;
    }
    match region(nu, kappa) {
        Region::Series => {
            let s = series_tail(nu, 0.25 * kappa * kappa);
            lgamma(nu + 1.0) - LN_2 - (nu + 1.0) * PI.ln() - s.ln_1p()
        }
        Region::Debye => {
            let d = Debye::new(nu, kappa);
            nu * (nu + d.h).ln() - d.h + 0.5 * (LN_2PI + d.h.ln())
                - d.u.ln_1p()
                - (nu + 1.0) * LN_2PI
        }
        Region::Recurrence => nu * kappa.ln() - (nu + 1.0) * LN_2PI - recurrence(nu, kappa).0,
    }
}

/// The von Mises–Fisher mean resultant length
/// `A_m(κ) = I_{m/2}(κ) / I_{m/2-1}(κ)` = [`bessel_i_ratio`]`(m/2 - 1, κ)`:
/// `E[μᵀx] = ‖E[x]‖` for `x ~ vMF(μ, κ)`, and `-d/dκ ln C_m(κ)`.
///
/// In `[0, 1)`; `A_m(0) = 0`, `A_m(+inf) = 1`, NaN or negative `κ` gives NaN.
///
/// # Panics
///
/// If `m < 2`.
pub fn vmf_mean_resultant_length(m: usize, kappa: f64) -> f64 {
    assert!(
        m >= 2,
        "vmf_mean_resultant_length: dimension m = {m} must be ≥ 2"
    );
    bessel_i_ratio(0.5 * m as f64 - 1.0, kappa)
}

/// Invalid input → NaN; `x = 0` → `at_zero_nu0` (ν = 0) or `at_zero` (ν > 0);
/// `x = +inf` → `at_inf`; otherwise `None` (finite `x > 0`, finite `ν ≥ 0`).
fn special_case(nu: f64, x: f64, at_zero_nu0: f64, at_zero: f64, at_inf: f64) -> Option<f64> {
    if !(nu >= 0.0 && nu.is_finite() && x >= 0.0) {
        return Some(f64::NAN);
    }
    if x == 0.0 {
        return Some(if nu == 0.0 { at_zero_nu0 } else { at_zero });
    }
    if x == f64::INFINITY {
        return Some(at_inf);
    }
    None
}

/// Which evaluation a finite `(ν, x)` uses (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    Series,
    Debye,
    Recurrence,
}

fn region(nu: f64, x: f64) -> Region {
    if nu >= NU_DEBYE {
        Region::Debye
    } else if 0.25 * x * x <= SERIES_Y_MAX * (nu + 1.0) {
        Region::Series
    } else {
        Region::Recurrence
    }
}

/// `s = Σ_{k≥1} y^k / (k! (ν+1)_k)` with `y = x²/4`, so `I_ν(x) = (x/2)^ν/Γ(ν+1) (1 + s)`.
///
/// Stops when a term drops below `SERIES_TOL · s` (relative to `s`, not
/// `1 + s`, so `ln_1p(s)` keeps full accuracy for tiny `x`).
fn series_tail(nu: f64, y: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 0.0;
    let mut k = 0.0;
    // The term ratio y / (k (ν + k)) is ≤ 16/k in the series region: the loop
    // ends within ~60 steps there; the cap only guards misuse.
    for _ in 0..1000 {
        k += 1.0;
        term *= y / (k * (nu + k));
        sum += term;
        if term <= SERIES_TOL * sum {
            break;
        }
    }
    sum
}

/// The Debye expansion at order `ν` (`ν ≥ 30`) and argument `x ≥ 0`.
struct Debye {
    nu: f64,
    x: f64,
    /// `h = √(ν² + x²)`.
    h: f64,
    /// `U - 1 = Σ_{k=1}^{12} u_k(t) / ν^k`.
    u: f64,
    /// `Q = Σ_{k=1}^{12} q_k(t) / ν^k`.
    q: f64,
}

impl Debye {
    fn new(nu: f64, x: f64) -> Self {
        let h = nu.hypot(x);
        let t = nu / h;
        let t2 = t * t;
        // u_k(t)/ν^k = (t/ν)^k · poly(t²) and t/ν = 1/h.
        let inv_h = 1.0 / h;
        let mut pow = 1.0;
        let mut u = 0.0;
        let mut q = 0.0;
        for (cu, cq) in DEBYE_U.iter().zip(DEBYE_Q.iter()) {
            pow *= inv_h;
            u += pow * horner(cu, t2);
            q += pow * horner(cq, t2);
        }
        Self { nu, x, h, u, q }
    }

    /// `ln I_ν(x) = h - ν ln((ν + h)/x) - ½ ln(2πh) + ln U`.
    fn log_i(&self) -> f64 {
        let Self { nu, x, h, u, .. } = *self;
        // (ν + h)/x = 1 + (ν + ν²/(h + x))/x, since h - x = ν²/(h + x): ln_1p
        // keeps ν ln(...) accurate for x ≫ ν. For subnormal x the argument
        // overflows; there ln(ν + h) - ln x has no cancellation.
        let a = (nu + nu * (nu / (h + x))) / x;
        let log_ratio = if a.is_finite() {
            a.ln_1p()
        } else {
            (nu + h).ln() - x.ln()
        };
        h - nu * log_ratio - 0.5 * (LN_2PI + h.ln()) + u.ln_1p()
    }

    /// `I_{ν+1}(x)/I_ν(x) = x/(ν+h) · V/U + t (x/h) · Q/U`, `V = U + (x/h)² Q`.
    fn ratio(&self) -> f64 {
        let Self { nu, x, h, u, q } = *self;
        let t = nu / h;
        let xh = x / h;
        let big_u = 1.0 + u;
        let big_v = big_u + xh * xh * q;
        x / (nu + h) * big_v / big_u + t * xh * q / big_u
    }
}

/// `Σ c_j y^j`.
fn horner(c: &[f64], y: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &cj| acc * y + cj)
}

/// `(ln I_ν(x), I_{ν+1}(x)/I_ν(x))` for `ν < 30` by downward recurrence of the
/// ratio from `μ = ν + ⌈30 - ν⌉`, where the Debye expansion holds.
fn recurrence(nu: f64, x: f64) -> (f64, f64) {
    let steps = (NU_DEBYE - nu).ceil();
    let top = Debye::new(nu + steps, x);
    let mut r = top.ratio();
    let mut sum_log_r = 0.0;
    let mut j = steps;
    while j > 0.0 {
        j -= 1.0;
        // r_{ν+j} = x / (2(ν+j+1) + x r_{ν+j+1})
        r = x / (2.0 * (nu + j + 1.0) + x * r);
        sum_log_r += r.ln();
    }
    (top.log_i() - sum_log_r, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `u_k`, `q_k` rebuilt in f64 from DLMF 10.41.10/10.41.11 (dense
    /// coefficient vectors in powers of t) must match the pasted tables.
    #[test]
    fn debye_tables_match_recurrence() {
        fn deriv(p: &[f64]) -> Vec<f64> {
            p.iter()
                .enumerate()
                .skip(1)
                .map(|(i, c)| i as f64 * c)
                .collect()
        }
        fn mul(a: &[f64], b: &[f64]) -> Vec<f64> {
            let mut r = vec![0.0; a.len() + b.len() - 1];
            for (i, x) in a.iter().enumerate() {
                for (j, y) in b.iter().enumerate() {
                    r[i + j] += x * y;
                }
            }
            r
        }
        fn add(a: &[f64], b: &[f64]) -> Vec<f64> {
            (0..a.len().max(b.len()))
                .map(|i| a.get(i).unwrap_or(&0.0) + b.get(i).unwrap_or(&0.0))
                .collect()
        }
        let mut u = vec![vec![1.0]];
        for _ in 0..12 {
            let uk = u.last().expect("u_0");
            let a = mul(&[0.0, 0.0, 0.5, 0.0, -0.5], &deriv(uk));
            let f = mul(&[1.0, 0.0, -5.0], uk);
            let mut b = vec![0.0];
            b.extend(
                f.iter()
                    .enumerate()
                    .map(|(i, c)| c / (8.0 * (i + 1) as f64)),
            );
            u.push(add(&a, &b));
        }
        for k in 1..=12 {
            // q_k = -t (½ u_{k-1} + t u'_{k-1})
            let inner = add(
                &u[k - 1].iter().map(|c| 0.5 * c).collect::<Vec<_>>(),
                &mul(&[0.0, 1.0], &deriv(&u[k - 1])),
            );
            let q = mul(&[0.0, -1.0], &inner);
            for (table, dense, name) in [(DEBYE_U[k - 1], &u[k], "u"), (DEBYE_Q[k - 1], &q, "q")] {
                for (i, &c) in dense.iter().enumerate() {
                    let on_grid = i >= k && (i - k) % 2 == 0;
                    let want = if on_grid {
                        table.get((i - k) / 2).copied().unwrap_or(0.0)
                    } else {
                        0.0
                    };
                    assert!(
                        (c - want).abs() <= 1e-12 * want.abs() + 1e-300,
                        "{name}_{k}: coefficient of t^{i} is {c}, table {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn branches_meet_where_documented() {
        for nu in [0.0_f64, 0.5, 1.0, 2.5, 10.0, 29.0, 29.75] {
            let xs = (64.0 * (nu + 1.0)).sqrt();
            assert_eq!(region(nu, xs.next_down()), Region::Series, "nu {nu}");
            assert_eq!(region(nu, xs.next_up()), Region::Recurrence, "nu {nu}");
        }
        assert_eq!(region(30.0, 1e-4), Region::Debye);
        assert_eq!(region(30.0_f64.next_down(), 1e-4), Region::Series);
        assert_eq!(region(30.0_f64.next_down(), 1e3), Region::Recurrence);
    }

    #[test]
    fn three_term_recurrence_holds_across_branches() {
        // I_{ν-1} - I_{ν+1} = (2ν/x) I_ν (DLMF 10.29.1), i.e.
        // r_{ν-1} = 1 / (2ν/x + r_ν), for orders on both sides of ν = 30 and
        // arguments on both sides of the series switch.
        for nu in [1.0, 1.5, 7.25, 29.5, 30.0, 30.5, 31.0, 100.0] {
            for x in [1e-3, 0.7, 5.0, 11.0, 40.0, 45.0, 300.0, 1e4] {
                let lhs = bessel_i_ratio(nu - 1.0, x);
                let rhs = 1.0 / (2.0 * nu / x + bessel_i_ratio(nu, x));
                assert!(
                    (lhs - rhs).abs() <= 1e-14 * rhs,
                    "nu {nu} x {x}: {lhs:e} vs {rhs:e}"
                );
            }
        }
    }

    #[test]
    fn special_values() {
        assert_eq!(log_bessel_i(0.0, 0.0), 0.0);
        assert_eq!(log_bessel_i(2.5, 0.0), f64::NEG_INFINITY);
        assert_eq!(log_bessel_i(40.0, 0.0), f64::NEG_INFINITY);
        assert_eq!(log_bessel_i(1.0, f64::INFINITY), f64::INFINITY);
        assert_eq!(bessel_i_ratio(3.0, 0.0), 0.0);
        assert_eq!(bessel_i_ratio(3.0, f64::INFINITY), 1.0);
        assert_eq!(log_bessel_i_dx(0.0, 0.0), 0.0);
        assert_eq!(log_bessel_i_dx(0.5, 0.0), f64::INFINITY);
        for (nu, x) in [
            (-0.5, 1.0),
            (1.0, -1.0),
            (f64::NAN, 1.0),
            (1.0, f64::NAN),
            (f64::INFINITY, 1.0),
        ] {
            assert!(log_bessel_i(nu, x).is_nan(), "({nu}, {x})");
            assert!(bessel_i_ratio(nu, x).is_nan(), "({nu}, {x})");
            assert!(log_bessel_i_dx(nu, x).is_nan(), "({nu}, {x})");
        }
        assert!(vmf_log_normalizer(3, -1.0).is_nan());
        assert_eq!(vmf_log_normalizer(3, f64::INFINITY), f64::NEG_INFINITY);
        assert_eq!(vmf_mean_resultant_length(3, 0.0), 0.0);
        // Extreme arguments stay finite.
        assert!(log_bessel_i(0.0, 1e300).is_finite());
        assert!(log_bessel_i(50.0, 1e-310).is_finite());
        assert!(log_bessel_i(1e6, 1e-300).is_finite());
    }

    #[test]
    #[should_panic(expected = "must be ≥ 2")]
    fn vmf_rejects_m_below_2() {
        vmf_log_normalizer(1, 1.0);
    }
}
