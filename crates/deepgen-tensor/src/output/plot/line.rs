//! Line plots: loss and metric curves, one coloured line per named series, with a legend.

use std::path::Path;

use plotters::prelude::*;

use super::axis::Axis;
use super::{DrawResult, PALETTE, PlotOptions, Style, font, render_png, xy_axes, xy_chart};
use crate::output::OutputError;

/// Saves a line plot (e.g. loss curves) with the default [`PlotOptions`] (800 × 500, linear
/// y); see [`save_line_plot_with`].
///
/// # Errors
/// As [`save_line_plot_with`].
pub fn save_line_plot(
    path: &Path,
    title: &str,
    series: &[(&str, &[(f64, f64)])],
    x_label: &str,
    y_label: &str,
) -> Result<(), OutputError> {
    save_line_plot_with(
        path,
        title,
        series,
        x_label,
        y_label,
        &PlotOptions::default(),
    )
}

/// Saves a line plot as an RGB PNG (atomic write, parent directories created): a title, axis
/// labels, "nice" ticks with light grid lines, one colour per series (matplotlib's tab10,
/// cycled) and a legend in the upper-right corner listing every series with a non-empty name.
///
/// Points are joined in the order given. A point that cannot be drawn — NaN or infinite `x` or
/// `y`, or `y ≤ 0` with `options.log_y` — is skipped and breaks the line (no segment across
/// it); a drawable point with no drawable neighbour is drawn as a dot. The axes cover every
/// drawable point; with none at all (no series, empty series, all NaN) the frame, title and
/// labels are still drawn, over `[0, 1]` (`[1, 10]` on a log axis).
///
/// # Errors
/// [`OutputError::InvalidArgument`] naming `options.width`/`options.height` when outside
/// 160 × 120 ..= 8192; I/O and encoding errors naming `path`.
pub fn save_line_plot_with(
    path: &Path,
    title: &str,
    series: &[(&str, &[(f64, f64)])],
    x_label: &str,
    y_label: &str,
    options: &PlotOptions,
) -> Result<(), OutputError> {
    options.check()?;
    let style = Style::for_size(options.width, options.height);
    let (x, y) = xy_axes(series.iter().flat_map(|(_, pts)| pts.iter()), options.log_y);
    render_png(path, options.width, options.height, |root| {
        let mut chart = xy_chart(root, &style, title, &x, &y, x_label, y_label, style.pad)?;
        let mut labelled = false;
        for (i, (name, pts)) in series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let stroke = color.stroke_width(style.line_width);
            for run in drawable_runs(pts, &x, &y) {
                if let [p] = run[..] {
                    chart.draw_series(std::iter::once(Circle::new(
                        p,
                        style.line_width + 1,
                        color.filled(),
                    )))?;
                } else {
                    chart.draw_series(LineSeries::new(run, stroke))?;
                }
            }
            if !name.is_empty() {
                // An empty series that only carries the legend entry.
                let legend_len = style.label_px as i32 * 3 / 2;
                chart
                    .draw_series(LineSeries::new(std::iter::empty(), stroke))?
                    .label(*name)
                    .legend(move |(lx, ly)| {
                        PathElement::new(vec![(lx, ly), (lx + legend_len, ly)], stroke)
                    });
                labelled = true;
            }
        }
        if labelled {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .margin(style.pad)
                .legend_area_size(style.label_px * 2)
                .label_font((font::FAMILY, style.tick_px))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(160, 160, 160))
                .draw()?;
        }
        DrawResult::Ok(())
    })
}

/// The maximal runs of consecutive drawable points of `pts`, in plot coordinates.
fn drawable_runs(pts: &[(f64, f64)], x: &Axis, y: &Axis) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![];
    let mut run = vec![];
    for &(px, py) in pts {
        match (x.to_plot(px), y.to_plot(py)) {
            (Some(a), Some(b)) => run.push((a, b)),
            _ if !run.is_empty() => runs.push(std::mem::take(&mut run)),
            _ => {}
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::plot::test_support::{Png, dark, near};

    fn rgb(c: RGBColor) -> [u8; 3] {
        [c.0, c.1, c.2]
    }

    type Curve = Vec<(f64, f64)>;

    fn loss_curves() -> (Curve, Curve) {
        let train: Vec<(f64, f64)> = (0..200)
            .map(|i| (i as f64, 2.0 * (-(i as f64) / 50.0).exp() + 0.1))
            .collect();
        let mut valid: Vec<(f64, f64)> = (0..20)
            .map(|i| (i as f64 * 10.0, 1.5 - 0.05 * i as f64))
            .collect();
        valid[7].1 = f64::NAN; // skipped: breaks the line
        valid[12].1 = f64::INFINITY;
        (train, valid)
    }

    #[test]
    fn runs_split_at_undrawable_points() {
        let x = Axis::linear([0.0, 4.0].into_iter(), 4);
        let y = Axis::log10([1.0, 10.0].into_iter());
        let pts = [
            (0.0, 1.0),
            (1.0, 10.0),
            (2.0, f64::NAN),
            (3.0, 100.0),
            (f64::INFINITY, 1.0),
            (4.0, -1.0), // not drawable on a log axis
            (5.0, 1000.0),
            (6.0, 0.1),
        ];
        let runs = drawable_runs(&pts, &x, &y);
        assert_eq!(
            runs,
            vec![
                vec![(0.0, 0.0), (1.0, 1.0)],
                vec![(3.0, 2.0)],
                vec![(5.0, 3.0), (6.0, -1.0)],
            ]
        );
    }

    #[test]
    fn writes_png_of_requested_size_with_every_series_drawn() {
        let (train, valid) = loss_curves();
        let single = [(150.0, 1.0)];
        let series: [(&str, &[(f64, f64)]); 3] =
            [("train", &train), ("valid", &valid), ("best", &single)];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plots/loss.png");
        let options = PlotOptions {
            width: 640,
            height: 400,
            ..PlotOptions::default()
        };
        save_line_plot_with(&path, "VAE loss", &series, "step", "loss (nats)", &options).unwrap();
        let img = Png::read(&path);
        assert_eq!((img.width, img.height), (640, 400));
        // Anti-aliased lines and text: far more than a handful of colours.
        assert!(img.distinct_colors() > 50, "{}", img.distinct_colors());
        // Each series colour appears, well beyond its legend swatch.
        for (i, min) in [(0, 300), (1, 150), (2, 9)] {
            let n = img.count_rows(0, 400, near(rgb(PALETTE[i]), 2));
            assert!(n > min, "series {i}: {n} pixels of its colour");
        }
        // The first curve falls from 2.1 to ~0.14: its pixels span most of the plot height.
        let rows: Vec<u32> = (0..400)
            .filter(|&y| (0..640).any(|x| near(rgb(PALETTE[0]), 2)(img.get(x, y))))
            .collect();
        let span = rows.last().unwrap() - rows.first().unwrap();
        assert!(span > 200, "train curve spans only {span} rows");
        // The right-most column and bottom row are background.
        assert_eq!(img.get(639, 399), [255, 255, 255]);
    }

    #[test]
    fn title_is_drawn_as_dark_text_at_the_top() {
        let (train, _) = loss_curves();
        let series: [(&str, &[(f64, f64)]); 1] = [("train", &train)];
        let dir = tempfile::tempdir().unwrap();
        let (with, without) = (dir.path().join("with.png"), dir.path().join("without.png"));
        save_line_plot(&with, "Training loss", &series, "step", "loss").unwrap();
        save_line_plot(&without, "", &series, "step", "loss").unwrap();
        let (with, without) = (Png::read(&with), Png::read(&without));
        // The frame's top edge: the first dark row of column 200 (left of the title, right of
        // the y tick labels). The title band is the rows above it, over columns 150..650.
        let frame_top = |img: &Png| (0..img.height).find(|&y| dark(img.get(200, y))).unwrap();
        let (top_with, top_without) = (frame_top(&with), frame_top(&without));
        assert!(top_with > top_without + 15, "{top_with} vs {top_without}");
        let cols = (150, 650);
        assert_eq!(without.count_in(cols, (0, top_without), dark), 0);
        let n = with.count_in(cols, (0, top_with), dark);
        assert!(n > 100, "only {n} dark pixels in the title band");
        // Centred: dark pixels on both sides of the middle column.
        let left = with.count_in((150, 400), (0, top_with), dark);
        let right = with.count_in((400, 650), (0, top_with), dark);
        assert!(left > 30 && right > 30, "{left} {right}");
    }

    #[test]
    fn log_y_and_degenerate_inputs_render() {
        let dir = tempfile::tempdir().unwrap();
        let decay: Vec<(f64, f64)> = (0..100)
            .map(|i| (i as f64, 10f64.powf(-(i as f64) / 25.0)))
            .chain([(100.0, 0.0), (101.0, -1.0)])
            .collect();
        let log = PlotOptions {
            log_y: true,
            ..PlotOptions::default()
        };
        let path = dir.path().join("log.png");
        save_line_plot_with(&path, "decay", &[("d", &decay)], "step", "loss", &log).unwrap();
        let img = Png::read(&path);
        // A straight line on a log axis: the curve's mean row per column is linear in x.
        let curve = near(rgb(PALETTE[0]), 2);
        let centre = |x: u32| {
            let ys: Vec<u32> = (40..460).filter(|&y| curve(img.get(x, y))).collect();
            (!ys.is_empty()).then(|| ys.iter().sum::<u32>() as f64 / ys.len() as f64)
        };
        let cols: Vec<(f64, f64)> = (150..700)
            .step_by(25)
            .filter_map(|x| centre(x).map(|y| (f64::from(x), y)))
            .collect();
        assert!(cols.len() > 15, "{cols:?}");
        let (x0, y0) = cols[0];
        let (x1, y1) = cols[cols.len() - 1];
        for &(x, y) in &cols {
            let expected = y0 + (y1 - y0) * (x - x0) / (x1 - x0);
            assert!((y - expected).abs() < 4.0, "column {x}: {y} vs {expected}");
        }

        // Nothing drawable, no series, tiny size: still a framed PNG.
        let nan_only = [(f64::NAN, 1.0), (2.0, f64::NEG_INFINITY)];
        let small = PlotOptions {
            width: 200,
            height: 150,
            ..PlotOptions::default()
        };
        for (i, series) in [vec![], vec![("nan", &nan_only[..])]].iter().enumerate() {
            let path = dir.path().join(format!("empty{i}.png"));
            save_line_plot_with(&path, "t", series, "x", "y", &small).unwrap();
            let img = Png::read(&path);
            assert_eq!((img.width, img.height), (200, 150));
            assert!(img.count_rows(0, 150, dark) > 100);
        }
        let err = save_line_plot_with(
            &dir.path().join("bad.png"),
            "t",
            &[],
            "x",
            "y",
            &PlotOptions {
                width: 20,
                ..PlotOptions::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`options.width`"), "{err}");
        assert!(!dir.path().join("bad.png").exists());
    }
}
