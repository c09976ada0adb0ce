//! Axis ranges, tick positions and tick labels.
//!
//! plotters picks ticks itself, but formats them with a generic float printer; we choose the
//! ticks here ("nice" 1-2-5 steps on linear axes, 1-2-5 × 10ᵏ on log axes) so that every label
//! has exactly the decimals its step needs, and hand them to plotters as fixed key points.
//!
//! A log axis is drawn as a linear axis over `log10(y)`: the data are mapped with
//! [`Axis::to_plot`] and the labels show `10^v`. One chart type then serves both scales.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// One axis of a chart: its range and ticks in plot coordinates, and how data map onto it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Axis {
    /// Lower end of the axis in plot coordinates (`log10` units on a log axis).
    pub lo: f64,
    /// Upper end of the axis in plot coordinates.
    pub hi: f64,
    /// Tick positions in plot coordinates, with their labels.
    pub ticks: Vec<(f64, String)>,
    /// Whether plot coordinates are `log10` of the data.
    pub log: bool,
}

impl Axis {
    /// A linear axis covering the finite `values` (widened to whole tick steps); `[0, 1]` when
    /// there are none.
    pub fn linear(values: impl Iterator<Item = f64>, target_ticks: usize) -> Self {
        let (min, max) = finite_bounds(values).unwrap_or((0.0, 1.0));
        let t = Ticks::new(min, max, target_ticks);
        let ticks = t.values.iter().map(|&v| (v, t.format(v))).collect();
        Axis {
            lo: t.lo,
            hi: t.hi,
            ticks,
            log: false,
        }
    }

    /// A linear axis spanning exactly `[lo, hi]` (which must be finite with `lo < hi`), with
    /// the nice ticks that fall inside it.
    pub fn exact(lo: f64, hi: f64, target_ticks: usize) -> Self {
        let t = Ticks::new(lo, hi, target_ticks);
        let tol = (hi - lo) * 1e-9;
        let ticks = t
            .values
            .iter()
            .filter(|&&v| v >= lo - tol && v <= hi + tol)
            .map(|&v| (v, t.format(v)))
            .collect();
        Axis {
            lo,
            hi,
            ticks,
            log: false,
        }
    }

    /// A logarithmic axis covering the finite, positive `values` (others cannot be shown on a
    /// log scale); `[1, 10]` when there are none. The range gets a 4 % margin (of its span in
    /// decades, at least 0.05 decades) on each side.
    pub fn log10(values: impl Iterator<Item = f64>) -> Self {
        let (min, max) =
            finite_bounds(values.filter(|v| *v > 0.0).map(f64::log10)).unwrap_or((0.0, 1.0));
        let pad = (0.04 * (max - min)).max(0.05);
        let (lo, hi) = (min - pad, max + pad);
        Axis {
            lo,
            hi,
            ticks: log_ticks(lo, hi),
            log: true,
        }
    }

    /// Where the data value `v` lies in plot coordinates, or `None` when it cannot be drawn
    /// (NaN, ±∞, or ≤ 0 on a log axis).
    pub fn to_plot(&self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            None
        } else if self.log {
            (v > 0.0).then(|| v.log10())
        } else {
            Some(v)
        }
    }

    /// The label of the tick at plot coordinate `v` (empty for a position that is not a tick).
    pub fn label(&self, v: f64) -> String {
        let tol = (self.hi - self.lo).abs() * 1e-9;
        self.ticks
            .iter()
            .find(|(t, _)| (t - v).abs() <= tol)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }

    /// The tick positions, for plotters' key points.
    pub fn tick_positions(&self) -> Vec<f64> {
        self.ticks.iter().map(|(t, _)| *t).collect()
    }

    /// The longest tick label (to size the label area).
    pub fn widest_label(&self) -> &str {
        self.ticks
            .iter()
            .map(|(_, s)| s.as_str())
            .max_by_key(|s| s.chars().count())
            .unwrap_or("")
    }
}

/// plotters draws an [`Axis`] directly: a linear map of `[lo, hi]` onto the pixels, with the
/// ticks as its only key points (grid lines and labels), labelled by [`Axis::label`].
impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        // Halved before subtracting so that ±1e308 ranges do not overflow.
        let t = (value / 2.0 - self.lo / 2.0) / (self.hi / 2.0 - self.lo / 2.0);
        let pixels = f64::from(limit.1 - limit.0);
        limit.0 + (t * pixels).round().clamp(-1e6, 1e6) as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.tick_positions()
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// `(min, max)` of the finite values, or `None` when there are none.
fn finite_bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((v.min(lo), v.max(hi))),
        })
}

/// Ticks of a log axis over `[lo, hi]` (in decades): the decades when the axis spans at least
/// two; otherwise 1-2-5 × 10ᵏ, or every digit × 10ᵏ, whichever first gives at least three
/// ticks; and for a very short axis linear nice ticks of the values themselves.
fn log_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let (k0, k1) = (lo.floor() as i32, hi.ceil() as i32);
    let inside = |v: f64| v >= lo && v <= hi;
    for digits in [&[1u8][..], &[1, 2, 5], &[1, 2, 3, 4, 5, 6, 7, 8, 9]] {
        let ticks: Vec<(f64, String)> = (k0..=k1)
            .flat_map(|k| digits.iter().map(move |&d| (d, k)))
            .map(|(d, k)| (f64::from(d).log10() + f64::from(k), d, k))
            .filter(|(v, _, _)| inside(*v))
            .map(|(v, d, k)| (v, format_digit_power(d, k)))
            .collect();
        let enough = if digits.len() == 1 { 3 } else { 2 };
        if ticks.len() >= enough {
            return ticks;
        }
    }
    let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
    let t = Ticks::new(a, b, 4);
    t.values
        .iter()
        .filter(|&&v| v > 0.0 && inside(v.log10()))
        .map(|&v| (v.log10(), t.format(v)))
        .collect()
}

/// `d × 10^k` written plainly for `10⁻³ ≤ value < 10⁵` ("0.002", "500"), else as `"2e-5"`.
fn format_digit_power(d: u8, k: i32) -> String {
    if (0..5).contains(&k) {
        format!("{}", u64::from(d) * 10u64.pow(k as u32))
    } else if (-3..0).contains(&k) {
        let decimals = (-k) as usize;
        format!("{:.decimals$}", f64::from(d) * 10f64.powi(k))
    } else {
        format!("{d}e{k}")
    }
}

/// "Nice" axis ticks: a 1-2-5 step and the range widened to multiples of it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Ticks {
    /// Lower end: the first tick.
    pub lo: f64,
    /// Upper end: the last tick.
    pub hi: f64,
    /// Distance between ticks.
    pub step: f64,
    /// The tick values, `lo` to `hi`.
    pub values: Vec<f64>,
}

impl Ticks {
    /// Ticks covering `[min, max]` with about `target` intervals.
    pub fn new(min: f64, max: f64, target: usize) -> Self {
        let (mut min, mut max) = (min, max);
        if max - min <= f64::EPSILON * min.abs().max(max.abs()).max(f64::MIN_POSITIVE) * 4.0 {
            let half = if min == 0.0 { 1.0 } else { min.abs() * 0.1 };
            min -= half;
            max += half;
        }
        // Halve before subtracting so that ±1e308 ranges do not overflow.
        let span = 2.0 * (max / 2.0 - min / 2.0);
        let raw = if span.is_finite() { span } else { f64::MAX } / target.max(1) as f64;
        let mag = 10f64.powf(raw.log10().floor());
        let norm = raw / mag;
        let step = mag
            * if norm < 1.5 {
                1.0
            } else if norm < 3.0 {
                2.0
            } else if norm < 7.0 {
                5.0
            } else {
                10.0
            };
        let (i0, i1) = ((min / step).floor(), (max / step).ceil());
        let (mut lo, mut hi) = (i0 * step, i1 * step);
        let n = i1 - i0;
        let values = if step.is_finite() && lo.is_finite() && hi.is_finite() && n <= 50.0 {
            (0..=n as usize).map(|i| (i0 + i as f64) * step).collect()
        } else {
            (lo, hi) = (min, max);
            vec![min, max]
        };
        Ticks {
            lo,
            hi,
            step,
            values,
        }
    }

    /// The tick label for `v`: fixed-point with as many decimals as the step needs, or
    /// scientific (`1.5e-4`) for very large or small magnitudes.
    pub fn format(&self, v: f64) -> String {
        let big = self.lo.abs().max(self.hi.abs());
        let step_exp = self.step.log10().floor() as i32;
        let scientific = big >= 1e5 || self.step < 1e-3;
        let decimals = (-step_exp).max(0) as usize;
        if v.abs() < self.step * 1e-6 {
            // Exact zero (also avoids "-0" and 1e-17 noise).
            return if scientific {
                "0".to_string()
            } else {
                format!("{:.decimals$}", 0.0)
            };
        }
        if scientific {
            let digits = (v.abs().log10().floor() as i32 - step_exp).clamp(0, 15) as usize;
            let s = format!("{v:.digits$e}");
            // Trim trailing zeros of the mantissa: 1.50e-4 -> 1.5e-4, 2.0e3 -> 2e3.
            match s.split_once('e') {
                Some((m, e)) if m.contains('.') => {
                    format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
                }
                _ => s,
            }
        } else {
            format!("{v:.decimals$}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_and_labels() {
        let t = Ticks::new(0.0, 1000.0, 6);
        assert_eq!(t.step, 200.0);
        assert_eq!(t.values, vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]);
        assert_eq!(t.format(400.0), "400");
        // raw step 0.74/4 = 0.185 → 0.2; range widened to multiples of it.
        let t = Ticks::new(0.13, 0.87, 4);
        assert_eq!((t.lo, t.hi, t.step), (0.0, 1.0, 0.2));
        let labels: Vec<String> = t.values.iter().map(|&v| t.format(v)).collect();
        assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let t = Ticks::new(-2e-4, 3e-4, 5);
        assert_eq!(t.format(t.values[1]), "-1e-4");
        assert_eq!(t.format(0.0), "0");
        let t = Ticks::new(0.0, 3e6, 6);
        assert_eq!(t.format(1.5e6), "1.5e6");
        // Degenerate and extreme ranges still give finite, ordered ticks.
        for (lo, hi) in [(5.0, 5.0), (0.0, 0.0), (-1e308, 1e308), (1e-300, 2e-300)] {
            let t = Ticks::new(lo, hi, 5);
            assert!(
                t.values.len() >= 2 && t.values.iter().all(|v| v.is_finite()),
                "{lo} {hi}: {t:?}"
            );
            assert!(t.lo <= lo && t.hi >= hi && t.lo < t.hi, "{lo} {hi}: {t:?}");
        }
    }

    #[test]
    fn linear_axis_skips_non_finite_values() {
        let a = Axis::linear([f64::NAN, 0.13, f64::INFINITY, 0.87].into_iter(), 4);
        assert_eq!((a.lo, a.hi), (0.0, 1.0));
        assert_eq!(a.label(0.4), "0.4");
        assert_eq!(a.label(0.5), "");
        assert_eq!(a.to_plot(f64::NAN), None);
        assert_eq!(a.to_plot(-3.0), Some(-3.0));
        // No finite value at all: [0, 1].
        let a = Axis::linear([f64::NAN].into_iter(), 5);
        assert_eq!((a.lo, a.hi), (0.0, 1.0));
    }

    #[test]
    fn maps_linearly_onto_pixels() {
        let a = Axis::exact(-2.0, 2.0, 4);
        assert_eq!(a.map(&-2.0, (10, 410)), 10);
        assert_eq!(a.map(&0.0, (10, 410)), 210);
        assert_eq!(a.map(&1.0, (10, 410)), 310);
        // Reversed pixel limits (plotters' y axis): top = hi.
        assert_eq!(a.map(&2.0, (400, 0)), 0);
        assert_eq!(a.key_points(10usize), a.tick_positions());
        assert_eq!(a.range(), -2.0..2.0);
    }

    #[test]
    fn exact_axis_keeps_its_range_and_inner_ticks() {
        let a = Axis::exact(-3.0, 3.0, 6);
        assert_eq!((a.lo, a.hi), (-3.0, 3.0));
        let labels: Vec<&str> = a.ticks.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(labels, ["-3", "-2", "-1", "0", "1", "2", "3"]);
        let a = Axis::exact(-2.5, 2.5, 4);
        assert_eq!(a.tick_positions(), vec![-2.0, -1.0, 0.0, 1.0, 2.0]);
    }

    #[test]
    fn log_axis_maps_log10_and_labels_powers() {
        // 1e-3 .. 1e2: five decades → decade ticks only.
        let a = Axis::log10([1e-3, 0.5, 100.0, -1.0, 0.0].into_iter());
        assert!(a.log);
        assert!(
            (a.lo - (-3.2)).abs() < 1e-12 && (a.hi - 2.2).abs() < 1e-12,
            "{a:?}"
        );
        let labels: Vec<&str> = a.ticks.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(labels, ["0.001", "0.01", "0.1", "1", "10", "100"]);
        assert_eq!(a.to_plot(100.0), Some(2.0));
        assert_eq!(a.to_plot(0.0), None);
        assert_eq!(a.to_plot(-1.0), None);
        // 90 .. 540 (under one decade): 1-2-5 ticks.
        let a = Axis::log10([90.0, 540.0].into_iter());
        let labels: Vec<&str> = a.ticks.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(labels, ["100", "200", "500"]);
        assert!((a.ticks[1].0 - 200f64.log10()).abs() < 1e-12);
        // Large and small magnitudes in scientific notation.
        assert_eq!(format_digit_power(2, -5), "2e-5");
        assert_eq!(format_digit_power(1, 6), "1e6");
        assert_eq!(format_digit_power(5, -2), "0.05");
        // Under one digit step (3.5 .. 3.6): linear ticks of the values themselves.
        let a = Axis::log10([3.5, 3.6].into_iter());
        let labels: Vec<&str> = a.ticks.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(labels, ["3.2", "3.4", "3.6", "3.8", "4.0"]);
        for (v, s) in &a.ticks {
            let value: f64 = s.parse().unwrap();
            assert!((value.log10() - v).abs() < 1e-9, "{s} at {v}");
        }
        // Nothing positive: one decade [1, 10] (with margins).
        let a = Axis::log10([0.0, -2.0].into_iter());
        assert!(a.lo < 0.0 && a.hi > 1.0);
    }
}
