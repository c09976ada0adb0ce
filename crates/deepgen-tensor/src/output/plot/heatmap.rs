//! 2-D density heat-maps: what a flow or a diffusion model learned on 2-D toy data, next to
//! the true density, evaluated on a regular grid.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::Axis;
use super::{DrawResult, Style, font, render_png, xy_chart};
use crate::output::OutputError;

/// Heat-map image size (width, height) in pixels: a roughly square plot area plus the colour
/// bar.
pub const HEATMAP_SIZE: (u32, u32) = (720, 560);
/// Colour of NaN cells (not a viridis colour, so they stand out).
const MISSING: RGBColor = RGBColor(190, 190, 190);

/// The centres of the `nx × ny` cells of a heat-map over `x_range × y_range`, in the order
/// [`save_density_heatmap`] reads its grid: row-major, row `j = 0` at the **bottom**
/// (`y` near `y_range.0`), column `i = 0` on the left.
///
/// Evaluate a density at these points and pass the values straight to
/// [`save_density_heatmap`].
pub fn heatmap_cell_centers(
    nx: usize,
    ny: usize,
    x_range: (f64, f64),
    y_range: (f64, f64),
) -> Vec<(f64, f64)> {
    let dx = (x_range.1 - x_range.0) / nx as f64;
    let dy = (y_range.1 - y_range.0) / ny as f64;
    (0..ny)
        .flat_map(|j| {
            (0..nx).map(move |i| {
                (
                    x_range.0 + (i as f64 + 0.5) * dx,
                    y_range.0 + (j as f64 + 0.5) * dy,
                )
            })
        })
        .collect()
}

/// Saves a 2-D heat-map of `grid` as a [`HEATMAP_SIZE`] RGB PNG (atomic write, parent
/// directories created), with a colour bar showing the value scale.
///
/// **Orientation (y up, like matplotlib's `imshow(origin="lower")`):** `grid` is row-major
/// `ny × nx`; `grid[j * nx + i]` fills the cell
/// `[x₀ + i·Δx, x₀ + (i+1)·Δx] × [y₀ + j·Δy, y₀ + (j+1)·Δy]` with `Δx = (x₁ − x₀)/nx`,
/// `Δy = (y₁ − y₀)/ny`, so row `0` is drawn at the **bottom** and `y` grows upwards.
/// [`heatmap_cell_centers`] lists the cell centres in the same order.
///
/// Colours: the viridis map, linear from the smallest to the largest finite value (pass
/// log-densities for a log scale). `−∞` (e.g. a log-density outside the support) takes the
/// lowest colour, `+∞` the highest, and NaN cells are grey. A constant grid is drawn in the
/// middle colour.
///
/// # Errors
/// [`OutputError::InvalidArgument`] naming `nx`/`ny` when zero, `grid` when its length is not
/// `nx * ny`, or `x_range`/`y_range` when not finite with `lo < hi`; I/O and encoding errors
/// naming `path`.
pub fn save_density_heatmap(
    path: &Path,
    title: &str,
    grid: &[f64],
    nx: usize,
    ny: usize,
    x_range: (f64, f64),
    y_range: (f64, f64),
) -> Result<(), OutputError> {
    check_args(grid, nx, ny, x_range, y_range)?;
    let (width, height) = HEATMAP_SIZE;
    let style = Style::for_size(width, height);
    let (vmin, vmax) = value_range(grid);
    let scale = Axis::exact(vmin, vmax, 5);
    let color = |v: f64| cell_color(v, vmin, vmax);

    // Colour bar geometry (pixels): gap, bar, tick marks, labels.
    let label_style = TextStyle::from((font::FAMILY, style.tick_px))
        .pos(Pos::new(HPos::Left, VPos::Center))
        .color(&BLACK);
    let gap = style.pad * 2;
    let bar_w = style.pad * 2;
    let tick_len = (style.pad / 2).max(3);
    render_png(path, width, height, |root| {
        let label_w = scale
            .ticks
            .iter()
            .map(|(_, s)| {
                root.estimate_text_size(s, &label_style)
                    .map_or(0, |(w, _)| w)
            })
            .max()
            .unwrap_or(0);
        let right = gap + bar_w + tick_len + style.pad / 2 + label_w + style.pad;
        let x = Axis::exact(x_range.0, x_range.1, 6);
        let y = Axis::exact(y_range.0, y_range.1, 6);
        let mut chart = xy_chart(root, &style, title, &x, &y, "", "", right)?;

        let dx = (x_range.1 - x_range.0) / nx as f64;
        let dy = (y_range.1 - y_range.0) / ny as f64;
        let edge = |lo: f64, d: f64, k: usize, n: usize, hi: f64| {
            if k == n { hi } else { lo + k as f64 * d }
        };
        chart.draw_series((0..ny).flat_map(|j| {
            (0..nx).map(move |i| {
                let (xa, xb) = (
                    edge(x_range.0, dx, i, nx, x_range.1),
                    edge(x_range.0, dx, i + 1, nx, x_range.1),
                );
                let (ya, yb) = (
                    edge(y_range.0, dy, j, ny, y_range.1),
                    edge(y_range.0, dy, j + 1, ny, y_range.1),
                );
                Rectangle::new([(xa, ya), (xb, yb)], color(grid[j * nx + i]).filled())
            })
        }))?;
        chart.plotting_area().draw(&Rectangle::new(
            [(x.lo, y.lo), (x.hi, y.hi)],
            BLACK.stroke_width(1),
        ))?;

        // The colour bar, aligned with the plot area, one pixel row per colour.
        let (px, py) = chart.plotting_area().get_pixel_range();
        let (top, bottom) = (py.start, py.end - 1);
        let bx0 = px.end + gap as i32;
        let bx1 = bx0 + bar_w as i32;
        let rows = (bottom - top).max(1);
        let value_at = |r: i32| vmax - f64::from(r - top) / f64::from(rows) * (vmax - vmin);
        for r in top..=bottom {
            root.draw(&Rectangle::new(
                [(bx0, r), (bx1, r + 1)],
                cell_color(value_at(r), vmin, vmax).filled(),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(bx0, top), (bx1, bottom)],
            BLACK.stroke_width(1),
        ))?;
        for (v, s) in &scale.ticks {
            let r = top + ((vmax - v) / (vmax - vmin) * f64::from(rows)).round() as i32;
            let tx = bx1 + tick_len as i32;
            root.draw(&PathElement::new(vec![(bx1, r), (tx, r)], BLACK))?;
            root.draw(&Text::new(
                s.clone(),
                (tx + style.pad as i32 / 2, r),
                label_style.clone(),
            ))?;
        }
        DrawResult::Ok(())
    })
}

/// Checks the grid's shape and ranges.
fn check_args(
    grid: &[f64],
    nx: usize,
    ny: usize,
    x_range: (f64, f64),
    y_range: (f64, f64),
) -> Result<(), OutputError> {
    for (name, n) in [("nx", nx), ("ny", ny)] {
        if n == 0 {
            return Err(OutputError::arg(
                name,
                "a heat-map needs at least one cell per axis, got 0",
            ));
        }
    }
    if nx.checked_mul(ny) != Some(grid.len()) {
        return Err(OutputError::arg(
            "grid",
            format!(
                "has {} values but nx × ny = {nx} × {ny}; pass the row-major ny × nx grid \
                 (row 0 = lowest y)",
                grid.len()
            ),
        ));
    }
    for (name, (lo, hi)) in [("x_range", x_range), ("y_range", y_range)] {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(OutputError::arg(
                name,
                format!("must be finite with lo < hi, got ({lo}, {hi})"),
            ));
        }
    }
    Ok(())
}

/// The colour scale: smallest and largest finite value, widened when they coincide (or when
/// there is none) so that the scale has a non-empty range.
fn value_range(grid: &[f64]) -> (f64, f64) {
    let finite = grid.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        (0.0, 1.0)
    } else if lo == hi {
        let half = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
        (lo - half, hi + half)
    } else {
        (lo, hi)
    }
}

/// The viridis colour of `v` on the scale `[vmin, vmax]` (see [`save_density_heatmap`]).
fn cell_color(v: f64, vmin: f64, vmax: f64) -> RGBColor {
    if v.is_nan() {
        return MISSING;
    }
    let t = ((v - vmin) / (vmax - vmin)).clamp(0.0, 1.0);
    <ViridisRGB as ColorMap<RGBColor, f64>>::get_color(&ViridisRGB, t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::plot::test_support::{Png, dark, near};

    const PURPLE: [u8; 3] = [68, 1, 84];
    const YELLOW: [u8; 3] = [254, 232, 37];

    #[test]
    fn cell_centres_are_row_major_from_the_bottom() {
        let c = heatmap_cell_centers(2, 3, (0.0, 2.0), (-3.0, 3.0));
        assert_eq!(
            c,
            vec![
                (0.5, -2.0),
                (1.5, -2.0),
                (0.5, 0.0),
                (1.5, 0.0),
                (0.5, 2.0),
                (1.5, 2.0)
            ]
        );
    }

    #[test]
    fn colours_follow_viridis_and_the_special_values() {
        assert_eq!(cell_color(0.0, 0.0, 1.0), RGBColor(68, 1, 84));
        assert_eq!(cell_color(1.0, 0.0, 1.0), RGBColor(254, 232, 37));
        assert_eq!(cell_color(f64::NEG_INFINITY, 0.0, 1.0), RGBColor(68, 1, 84));
        assert_eq!(cell_color(f64::INFINITY, 0.0, 1.0), RGBColor(254, 232, 37));
        assert_eq!(cell_color(f64::NAN, 0.0, 1.0), MISSING);
        assert_eq!(
            value_range(&[2.0, f64::NEG_INFINITY, -1.0, f64::NAN]),
            (-1.0, 2.0)
        );
        assert_eq!(value_range(&[3.0, 3.0]), (2.7, 3.3));
        assert_eq!(value_range(&[f64::NAN]), (0.0, 1.0));
    }

    /// The plot area's pixel bounds: the black frame's extreme dark columns/rows near the
    /// middle of the image.
    fn frame(img: &Png) -> (u32, u32, u32, u32) {
        let mid_y = img.height / 2;
        let row: Vec<u32> = (0..img.width)
            .filter(|&x| img.get(x, mid_y) == [0, 0, 0])
            .collect();
        let left = row[0];
        let mid_x = left + 20;
        let col: Vec<u32> = (0..img.height)
            .filter(|&y| img.get(mid_x, y) == [0, 0, 0])
            .collect();
        // The first frame line to the right of `left` with a long vertical run.
        let right = (left + 50..img.width)
            .find(|&x| (col[0] + 5..col[col.len() - 1] - 5).all(|y| img.get(x, y) == [0, 0, 0]))
            .unwrap();
        (left, right, col[0], col[col.len() - 1])
    }

    #[test]
    fn y_grows_upwards_and_nan_cells_are_grey() {
        // Value = y (row index): top rows yellow, bottom rows purple; one NaN cell at i = 1,
        // j = 1 (second column, second row from the bottom).
        let (nx, ny) = (4, 8);
        let mut grid: Vec<f64> = (0..ny)
            .flat_map(|j| (0..nx).map(move |_| j as f64))
            .collect();
        grid[nx + 1] = f64::NAN;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("heat.png");
        save_density_heatmap(&path, "density", &grid, nx, ny, (-2.0, 2.0), (0.0, 8.0)).unwrap();
        let img = Png::read(&path);
        assert_eq!((img.width, img.height), HEATMAP_SIZE);
        assert!(img.distinct_colors() > 100, "{}", img.distinct_colors());
        let (l, r, t, b) = frame(&img);
        let (cw, ch) = ((r - l) / nx as u32, (b - t) / ny as u32);
        let centre = |i: u32, j: u32| img.get(l + cw * i + cw / 2, b - ch * j - ch / 2);
        assert!(near(YELLOW, 2)(centre(2, 7)), "{:?}", centre(2, 7));
        assert!(near(PURPLE, 2)(centre(2, 0)), "{:?}", centre(2, 0));
        assert_eq!(centre(1, 1), [190, 190, 190]);
        // Row j = 3 of 0..=7: 3/7 of the way up the viridis scale: neither end.
        let mid = centre(0, 3);
        assert!(!near(YELLOW, 40)(mid) && !near(PURPLE, 40)(mid), "{mid:?}");
        // Colour bar: yellow at its top, purple at its bottom, with labels beside it.
        let bar_top = img.count_in((r + 5, img.width), (t + 2, t + 6), near(YELLOW, 3));
        let bar_bottom = img.count_in((r + 5, img.width), (b - 6, b - 2), near(PURPLE, 3));
        assert!(bar_top > 20 && bar_bottom > 20, "{bar_top} {bar_bottom}");
        assert!(img.count_in((r + 40, img.width), (t, b), dark) > 100);
        // Title above the frame.
        assert!(img.count_rows(0, t.saturating_sub(4), dark) > 100);
    }

    #[test]
    fn x_grows_rightwards() {
        let (nx, ny) = (10, 3);
        let grid: Vec<f64> = (0..ny).flat_map(|_| (0..nx).map(|i| i as f64)).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("heat.png");
        save_density_heatmap(&path, "", &grid, nx, ny, (0.0, 1.0), (0.0, 1.0)).unwrap();
        let img = Png::read(&path);
        let (l, r, t, b) = frame(&img);
        let y = (t + b) / 2;
        assert!(
            near(PURPLE, 2)(img.get(l + 5, y)),
            "{:?}",
            img.get(l + 5, y)
        );
        assert!(
            near(YELLOW, 2)(img.get(r - 5, y)),
            "{:?}",
            img.get(r - 5, y)
        );
    }

    #[test]
    fn bad_shapes_and_ranges_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.png");
        /// grid, nx, ny, x range, y range, the field the error must name.
        type Case<'a> = (&'a [f64], usize, usize, (f64, f64), (f64, f64), &'a str);
        let cases: [Case; 5] = [
            (&[1.0; 6], 0, 6, (0.0, 1.0), (0.0, 1.0), "`nx`"),
            (&[1.0; 6], 6, 0, (0.0, 1.0), (0.0, 1.0), "`ny`"),
            (&[1.0; 6], 2, 2, (0.0, 1.0), (0.0, 1.0), "`grid`"),
            (&[1.0; 6], 2, 3, (1.0, 1.0), (0.0, 1.0), "`x_range`"),
            (&[1.0; 6], 2, 3, (0.0, 1.0), (0.0, f64::NAN), "`y_range`"),
        ];
        for (grid, nx, ny, xr, yr, name) in cases {
            let err = save_density_heatmap(&p, "t", grid, nx, ny, xr, yr)
                .unwrap_err()
                .to_string();
            assert!(err.contains(name), "{err}");
        }
        assert!(!p.exists());
    }
}
