//! Loss-curve line plots drawn by hand into a PNG (no plotting crate).

use std::path::Path;

use super::OutputError;
use super::font::{cap_height, draw_text, draw_text_vertical, text_height, text_width};
use super::image::RgbImage;

/// Default plot width used by [`save_line_plot`].
pub const DEFAULT_PLOT_WIDTH: usize = 800;
/// Default plot height used by [`save_line_plot`].
pub const DEFAULT_PLOT_HEIGHT: usize = 500;
/// Smallest accepted plot size (width, height) in pixels.
const MIN_SIZE: (usize, usize) = (160, 120);
/// Largest accepted plot side in pixels.
const MAX_SIDE: usize = 8192;

const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];
const GRID: [u8; 3] = [228, 228, 228];
const LEGEND_BORDER: [u8; 3] = [160, 160, 160];
/// Matplotlib's "tab10" colours, one per series (cycled).
const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// The colour of series number `i` (cycling through 10 colours).
pub fn series_color(i: usize) -> [u8; 3] {
    PALETTE[i % PALETTE.len()]
}

/// Saves a line plot (e.g. loss curves) as a [`DEFAULT_PLOT_WIDTH`] ×
/// [`DEFAULT_PLOT_HEIGHT`] RGB PNG; see [`render_line_plot`].
///
/// # Errors
/// I/O and encoding errors naming `path`.
pub fn save_line_plot(
    path: &Path,
    title: &str,
    series: &[(&str, &[(f64, f64)])],
    x_label: &str,
    y_label: &str,
) -> Result<(), OutputError> {
    save_line_plot_sized(
        path,
        title,
        series,
        x_label,
        y_label,
        DEFAULT_PLOT_WIDTH,
        DEFAULT_PLOT_HEIGHT,
    )
}

/// Saves a line plot of the given pixel size as an RGB PNG (atomic write,
/// parent directories created); see [`render_line_plot`].
///
/// # Errors
/// [`OutputError::InvalidArgument`] naming `width`/`height` when out of range;
/// I/O and encoding errors naming `path`.
pub fn save_line_plot_sized(
    path: &Path,
    title: &str,
    series: &[(&str, &[(f64, f64)])],
    x_label: &str,
    y_label: &str,
    width: usize,
    height: usize,
) -> Result<(), OutputError> {
    render_line_plot(title, series, x_label, y_label, width, height)?.save_png(path, false)
}

/// Draws a line plot: white background, framed axes with light grid lines,
/// tick marks and numeric tick labels ("nice" 1-2-5 steps, scientific
/// notation for very large or small values), a title, axis labels, one
/// colour per series and a legend in the top-right corner.
///
/// Points whose `x` or `y` is NaN or infinite are skipped and break the line
/// (no segment is drawn across them); a finite point with no finite
/// neighbour is drawn as a small square. Axis ranges cover all finite
/// points; a degenerate range (one point, or constant values) is widened.
/// With no finite point at all both axes span `[0, 1]`.
///
/// Text uses a built-in 5×7 bitmap font, doubled for plots at least
/// 600 × 400 pixels.
///
/// # Errors
/// [`OutputError::InvalidArgument`] naming `width` or `height` when smaller
/// than 160 × 120 or larger than 8192.
pub fn render_line_plot(
    title: &str,
    series: &[(&str, &[(f64, f64)])],
    x_label: &str,
    y_label: &str,
    width: usize,
    height: usize,
) -> Result<RgbImage, OutputError> {
    for (name, v, min) in [("width", width, MIN_SIZE.0), ("height", height, MIN_SIZE.1)] {
        if v < min || v > MAX_SIDE {
            return Err(OutputError::arg(
                name,
                format!("plot {name} {v} px must be between {min} and {MAX_SIDE}"),
            ));
        }
    }
    let scale = if width >= 600 && height >= 400 { 2 } else { 1 };
    let pad = 6 * scale;
    let tick_len = 4 * scale;
    let line_px = scale; // half-thickness of series lines

    // Data ranges and ticks.
    let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let all = series
        .iter()
        .flat_map(|(_, pts)| pts.iter())
        .filter(|p| finite(p));
    let (mut xmin, mut xmax, mut ymin, mut ymax) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in all {
        xmin = xmin.min(x);
        xmax = xmax.max(x);
        ymin = ymin.min(y);
        ymax = ymax.max(y);
    }
    if xmin > xmax {
        (xmin, xmax, ymin, ymax) = (0.0, 1.0, 0.0, 1.0);
    }
    let xt = Ticks::new(xmin, xmax, 6);
    let yt = Ticks::new(ymin, ymax, 5);
    let x_labels: Vec<String> = xt.values.iter().map(|&v| xt.format(v)).collect();
    let y_labels: Vec<String> = yt.values.iter().map(|&v| yt.format(v)).collect();

    // Layout.
    let th = text_height(scale);
    let cap = cap_height(scale) as i64;
    let y_label_w = if y_label.is_empty() { 0 } else { th + pad };
    let y_ticks_w = y_labels
        .iter()
        .map(|s| text_width(s, scale))
        .max()
        .unwrap_or(0);
    let left = pad + y_label_w + y_ticks_w + pad / 2 + tick_len;
    let top = if title.is_empty() {
        2 * pad
    } else {
        pad + th + pad
    };
    let x_label_h = if x_label.is_empty() { 0 } else { th + pad };
    let bottom = tick_len + pad / 2 + th + pad + x_label_h;
    let last_x_label_half = x_labels
        .last()
        .map(|s| text_width(s, scale) / 2)
        .unwrap_or(0);
    let right = (2 * pad).max(last_x_label_half + pad / 2);
    let (px0, py0) = (left as i64, top as i64);
    let (px1, py1) = ((width - right) as i64, (height - bottom) as i64);
    let mut img = RgbImage::filled(width, height, WHITE);
    if px1 - px0 < 10 || py1 - py0 < 10 {
        // Labels leave no room for a plot area: return the bare canvas with the title.
        draw_text(&mut img, title, pad as i64, pad as i64, scale, BLACK);
        return Ok(img);
    }
    let map_x = |x: f64| px0 as f64 + xt.fraction(x) * (px1 - px0) as f64;
    let map_y = |y: f64| py1 as f64 - yt.fraction(y) * (py1 - py0) as f64;

    // Grid, ticks and tick labels.
    for (v, label) in xt.values.iter().zip(&x_labels) {
        let x = map_x(*v).round() as i64;
        vline(&mut img, x, py0 + 1, py1 - 1, GRID);
        vline(&mut img, x, py1, py1 + tick_len as i64, BLACK);
        let w = text_width(label, scale) as i64;
        draw_text(
            &mut img,
            label,
            x - w / 2,
            py1 + (tick_len + pad / 2) as i64,
            scale,
            BLACK,
        );
    }
    for (v, label) in yt.values.iter().zip(&y_labels) {
        let y = map_y(*v).round() as i64;
        hline(&mut img, px0 + 1, px1 - 1, y, GRID);
        hline(&mut img, px0 - tick_len as i64, px0, y, BLACK);
        let w = text_width(label, scale) as i64;
        draw_text(
            &mut img,
            label,
            px0 - (tick_len + pad / 2) as i64 - w,
            y - cap / 2,
            scale,
            BLACK,
        );
    }
    // Frame.
    hline(&mut img, px0, px1, py0, BLACK);
    hline(&mut img, px0, px1, py1, BLACK);
    vline(&mut img, px0, py0, py1, BLACK);
    vline(&mut img, px1, py0, py1, BLACK);

    // Title and axis labels.
    let center_x = (px0 + px1) / 2;
    draw_text(
        &mut img,
        title,
        center_x - text_width(title, scale) as i64 / 2,
        pad as i64,
        scale,
        BLACK,
    );
    let xl_y = py1 + (tick_len + pad / 2 + th + pad) as i64;
    draw_text(
        &mut img,
        x_label,
        center_x - text_width(x_label, scale) as i64 / 2,
        xl_y,
        scale,
        BLACK,
    );
    let yl_len = text_width(y_label, scale) as i64;
    draw_text_vertical(
        &mut img,
        y_label,
        pad as i64,
        (py0 + py1) / 2 - yl_len / 2,
        scale,
        BLACK,
    );

    // Series.
    for (i, (_, pts)) in series.iter().enumerate() {
        let color = series_color(i);
        for (k, p) in pts.iter().enumerate() {
            if !finite(p) {
                continue;
            }
            let (x, y) = (map_x(p.0), map_y(p.1));
            let next = pts.get(k + 1).filter(|q| finite(q));
            if let Some(q) = next {
                segment(&mut img, (x, y), (map_x(q.0), map_y(q.1)), line_px, color);
            }
            let prev_finite = k > 0 && finite(&pts[k - 1]);
            if next.is_none() && !prev_finite {
                square(
                    &mut img,
                    x.round() as i64,
                    y.round() as i64,
                    4 * line_px + 1,
                    color,
                );
            }
        }
    }

    // Legend (top-right, inside the plot area).
    if !series.is_empty() {
        let swatch = 12 * scale;
        let row_h = th + pad / 2;
        let label_w = series
            .iter()
            .map(|(n, _)| text_width(n, scale))
            .max()
            .unwrap_or(0);
        let box_w = (pad + swatch + pad / 2 + label_w + pad) as i64;
        let box_h = (pad / 2 + series.len() * row_h + pad / 2) as i64;
        let bx1 = px1 - pad as i64 / 2;
        let bx0 = (bx1 - box_w).max(px0 + 1);
        let by0 = py0 + pad as i64 / 2;
        let by1 = (by0 + box_h).min(py1 - 1);
        for y in by0..=by1 {
            hline(&mut img, bx0, bx1, y, WHITE);
        }
        hline(&mut img, bx0, bx1, by0, LEGEND_BORDER);
        hline(&mut img, bx0, bx1, by1, LEGEND_BORDER);
        vline(&mut img, bx0, by0, by1, LEGEND_BORDER);
        vline(&mut img, bx1, by0, by1, LEGEND_BORDER);
        for (i, (name, _)) in series.iter().enumerate() {
            let ty = by0 + (pad / 2 + i * row_h) as i64;
            if ty + th as i64 > by1 {
                break;
            }
            let sx = bx0 + pad as i64;
            let sy = ty + cap / 2;
            for t in 0..(2 * line_px) as i64 {
                hline(
                    &mut img,
                    sx,
                    sx + swatch as i64,
                    sy - line_px as i64 + t,
                    series_color(i),
                );
            }
            draw_text(
                &mut img,
                name,
                sx + (swatch + pad / 2) as i64,
                ty,
                scale,
                BLACK,
            );
        }
    }
    Ok(img)
}

fn hline(img: &mut RgbImage, x0: i64, x1: i64, y: i64, color: [u8; 3]) {
    for x in x0.min(x1)..=x0.max(x1) {
        img.put(x, y, color);
    }
}

fn vline(img: &mut RgbImage, x: i64, y0: i64, y1: i64, color: [u8; 3]) {
    for y in y0.min(y1)..=y0.max(y1) {
        img.put(x, y, color);
    }
}

/// A filled `size × size` square centred on (`cx`, `cy`).
fn square(img: &mut RgbImage, cx: i64, cy: i64, size: usize, color: [u8; 3]) {
    let h = size as i64 / 2;
    for y in cy - h..=cy + h {
        hline(img, cx - h, cx + h, y, color);
    }
}

/// A line segment of half-thickness `half` (DDA with square stamps).
fn segment(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), half: usize, color: [u8; 3]) {
    let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil().max(1.0) as i64;
    let h = half as i64 - 1;
    for s in 0..=steps {
        let t = s as f64 / steps as f64;
        let x = (a.0 + (b.0 - a.0) * t).round() as i64;
        let y = (a.1 + (b.1 - a.1) * t).round() as i64;
        for dy in -h..=h.max(0) {
            for dx in -h..=h.max(0) {
                img.put(x + dx, y + dy, color);
            }
        }
    }
}

/// "Nice" axis ticks: a 1-2-5 step and the range widened to multiples of it.
#[derive(Debug, Clone, PartialEq)]
struct Ticks {
    lo: f64,
    hi: f64,
    step: f64,
    values: Vec<f64>,
}

impl Ticks {
    /// Ticks covering `[min, max]` with about `target` intervals.
    fn new(min: f64, max: f64, target: usize) -> Self {
        let (mut min, mut max) = (min, max);
        if max - min <= f64::EPSILON * min.abs().max(max.abs()).max(f64::MIN_POSITIVE) * 4.0 {
            let half = if min == 0.0 { 1.0 } else { min.abs() * 0.1 };
            min -= half;
            max += half;
        }
        // Halve before subtracting so that ±1e308 ranges do not overflow.
        let span = 2.0 * (max / 2.0 - min / 2.0);
        let raw = if span.is_finite() { span } else { f64::MAX } / target as f64;
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

    /// Where `v` lies in `[lo, hi]` as a fraction (overflow-safe).
    fn fraction(&self, v: f64) -> f64 {
        (v / 2.0 - self.lo / 2.0) / (self.hi / 2.0 - self.lo / 2.0)
    }

    /// The tick label for `v`: fixed-point with as many decimals as the step
    /// needs, or scientific (`1.5e-4`) for very large or small magnitudes.
    fn format(&self, v: f64) -> String {
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
    use crate::output::test_support::{decode_png, temp_dir};

    fn count_color(
        img: &RgbImage,
        color: [u8; 3],
        x0: usize,
        x1: usize,
        y0: usize,
        y1: usize,
    ) -> usize {
        let mut n = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                if img.get(x, y) == Some(color) {
                    n += 1;
                }
            }
        }
        n
    }

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
    fn writes_png_of_requested_size_with_series_in_plot_area() {
        let train: Vec<(f64, f64)> = (0..200)
            .map(|i| (i as f64, 2.0 * (-(i as f64) / 50.0).exp() + 0.1))
            .collect();
        let mut valid: Vec<(f64, f64)> = (0..20)
            .map(|i| (i as f64 * 10.0, 1.5 - 0.05 * i as f64))
            .collect();
        valid[7].1 = f64::NAN; // skipped: breaks the line
        valid[12].1 = f64::INFINITY;
        let single = [(150.0, 1.0)];
        let series: [(&str, &[(f64, f64)]); 3] =
            [("train", &train), ("valid", &valid), ("best", &single)];
        let dir = temp_dir("plot");
        let path = dir.join("plots/loss.png");
        save_line_plot_sized(&path, "VAE loss", &series, "step", "loss (nats)", 640, 400).unwrap();
        let (w, h, color, bytes) = decode_png(&path);
        assert_eq!((w, h, color), (640, 400, png::ColorType::Rgb));

        let img = render_line_plot("VAE loss", &series, "step", "loss (nats)", 640, 400).unwrap();
        assert_eq!(bytes, img.pixels, "file and in-memory render differ");
        // The central region of the plot holds pixels of every series colour.
        let (x0, x1, y0, y1) = (100, 620, 30, 340);
        for i in 0..3 {
            let n = count_color(&img, series_color(i), x0, x1, y0, y1);
            assert!(n > 20, "series {i}: only {n} pixels of its colour");
        }
        // A good share of the plot area is not background.
        let non_white = (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get(x, y) != Some(WHITE))
            .count();
        assert!(non_white > 2000, "{non_white}");
        // Corners outside the frame stay white.
        assert_eq!(img.get(639, 399), Some(WHITE));
    }

    #[test]
    fn degenerate_inputs_still_render() {
        let nan_only = [(f64::NAN, 1.0), (2.0, f64::NEG_INFINITY)];
        let one = [(3.0, 0.5)];
        for series in [
            vec![],
            vec![("nan", &nan_only[..])],
            vec![("one", &one[..])],
        ] {
            let img = render_line_plot("", &series, "", "", 200, 150).unwrap();
            assert_eq!((img.width, img.height), (200, 150));
            // The frame is drawn in every case.
            assert!(img.pixels.chunks(3).any(|p| p == BLACK));
        }
        let img = render_line_plot("t", &[("one", &one[..])], "x", "y", 200, 150).unwrap();
        assert!(
            img.pixels
                .chunks(3)
                .filter(|p| *p == series_color(0))
                .count()
                >= 9
        );
        let err = render_line_plot("t", &[], "x", "y", 20, 150)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`width`"), "{err}");
    }
}
