//! Scatter plots: samples of a 2-D model or data set, latent codes, metric pairs.

use std::path::Path;

use plotters::prelude::*;

use super::{DrawResult, PALETTE, PlotOptions, Style, render_png, xy_axes, xy_chart};
use crate::output::OutputError;

/// Saves a scatter plot with the default [`PlotOptions`] (800 × 500, linear y); see
/// [`save_scatter_plot_with`].
///
/// # Errors
/// As [`save_scatter_plot_with`].
pub fn save_scatter_plot(
    path: &Path,
    title: &str,
    points: &[(f64, f64)],
    x_label: &str,
    y_label: &str,
) -> Result<(), OutputError> {
    save_scatter_plot_with(
        path,
        title,
        points,
        x_label,
        y_label,
        &PlotOptions::default(),
    )
}

/// Saves a scatter plot of `points` as an RGB PNG (atomic write, parent directories created):
/// one half-transparent dot per point, so that dense regions read darker, with a title, axis
/// labels and "nice" ticks.
///
/// Points that cannot be drawn — NaN or infinite coordinates, or `y ≤ 0` with
/// `options.log_y` — are skipped; the axes cover the rest. With no drawable point the frame,
/// title and labels are still drawn, over `[0, 1]`.
///
/// # Errors
/// [`OutputError::InvalidArgument`] naming `options.width`/`options.height` when outside
/// 160 × 120 ..= 8192; I/O and encoding errors naming `path`.
pub fn save_scatter_plot_with(
    path: &Path,
    title: &str,
    points: &[(f64, f64)],
    x_label: &str,
    y_label: &str,
    options: &PlotOptions,
) -> Result<(), OutputError> {
    options.check()?;
    let style = Style::for_size(options.width, options.height);
    let (x, y) = xy_axes(points.iter(), options.log_y);
    let drawable: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|&(a, b)| Some((x.to_plot(a)?, y.to_plot(b)?)))
        .collect();
    // Smaller, lighter dots for many points, so that structure is not hidden under ink.
    let (radius, alpha) = if drawable.len() > 5_000 {
        (style.line_width.div_ceil(2), 0.35)
    } else {
        (style.line_width + 1, 0.6)
    };
    render_png(path, options.width, options.height, |root| {
        let mut chart = xy_chart(root, &style, title, &x, &y, x_label, y_label, style.pad)?;
        let dot = PALETTE[0].mix(alpha).filled();
        chart.draw_series(drawable.iter().map(|&p| Circle::new(p, radius, dot)))?;
        DrawResult::Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::plot::test_support::{Png, dark};

    /// Blue-ish: a dot (tab:blue blended over white or over another dot).
    fn bluish(p: [u8; 3]) -> bool {
        p[2] > 150 && p[0] < 200 && i32::from(p[2]) - i32::from(p[0]) > 40
    }

    #[test]
    fn dots_land_where_the_points_are() {
        // Two clusters: lower-left and upper-right corners of the data range, plus points that
        // must be skipped.
        let mut points = vec![];
        for i in 0..50 {
            let t = f64::from(i) / 50.0;
            points.push((0.1 * t, 0.1 * t));
            points.push((9.9 + 0.1 * t, 9.9 + 0.1 * t));
        }
        points.extend([(f64::NAN, 1.0), (5.0, f64::INFINITY)]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scatter.png");
        save_scatter_plot(&path, "two clusters", &points, "z₁", "z₂").unwrap();
        let img = Png::read(&path);
        assert_eq!((img.width, img.height), (800, 500));
        assert!(img.distinct_colors() > 30);
        // Plot area ≈ x 70..790, y 45..440: clusters at its lower-left and upper-right corners,
        // nothing blue in the middle (where the skipped (5, ∞) would have gone, had it been
        // clamped).
        let lower_left = img.count_in((60, 300), (250, 450), bluish);
        let upper_right = img.count_in((500, 800), (30, 250), bluish);
        let middle = img.count_in((330, 470), (150, 350), bluish);
        assert!(
            lower_left > 50 && upper_right > 50,
            "{lower_left} {upper_right}"
        );
        assert_eq!(middle, 0);
        assert!(img.count_rows(0, 500, dark) > 500);
    }

    #[test]
    fn empty_scatter_still_renders_its_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.png");
        save_scatter_plot(&path, "nothing", &[], "x", "y").unwrap();
        let img = Png::read(&path);
        assert_eq!((img.width, img.height), (800, 500));
        assert_eq!(img.count_rows(0, 500, bluish), 0);
        assert!(img.count_rows(0, 500, dark) > 500);
    }
}
