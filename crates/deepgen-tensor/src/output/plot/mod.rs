//! Plots as PNG files, drawn with [`plotters`]: loss curves ([`save_line_plot`],
//! [`save_line_plot_with`]), scatter plots ([`save_scatter_plot`], [`save_scatter_plot_with`])
//! and 2-D density heat-maps ([`save_density_heatmap`]).
//!
//! Why plotters: axes, ticks, legends, anti-aliased lines and real text come from a maintained
//! library instead of hand-drawn pixels. It is built with its bitmap backend only and its
//! `ab_glyph` text renderer, which uses the font embedded by [`font`] instead of looking for
//! system fonts — so a plot renders identically on a fresh machine and in CI.
//!
//! Every plot is rendered into an in-memory RGB buffer (`BitMapBackend::with_buffer`) and then
//! encoded and written atomically like every other output file ([`crate::output`]). Data that
//! cannot be drawn are skipped, never an error: non-finite coordinates (and, on a log axis,
//! values ≤ 0); a plot with nothing drawable still shows its frame, title and labels. Errors
//! are reserved for bad arguments (sizes, inconsistent grids) and I/O.

mod axis;
mod font;
mod heatmap;
mod line;
mod scatter;

use std::error::Error;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::OutputError;
use super::image::RgbImage;
use axis::Axis;

pub use heatmap::{HEATMAP_SIZE, heatmap_cell_centers, save_density_heatmap};
pub use line::{save_line_plot, save_line_plot_with};
pub use scatter::{save_scatter_plot, save_scatter_plot_with};

/// Default plot width in pixels.
pub const DEFAULT_PLOT_WIDTH: u32 = 800;
/// Default plot height in pixels.
pub const DEFAULT_PLOT_HEIGHT: u32 = 500;
/// Smallest accepted plot size (width, height) in pixels.
const MIN_SIZE: (u32, u32) = (160, 120);
/// Largest accepted plot side in pixels.
const MAX_SIDE: u32 = 8192;

/// Matplotlib's "tab10" colours, one per series (cycled).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// Grid lines.
const GRID: RGBColor = RGBColor(225, 225, 225);

/// How a line or scatter plot is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlotOptions {
    /// Logarithmic y axis (values ≤ 0 are then skipped). Default `false`.
    pub log_y: bool,
    /// Image width in pixels, 160 ..= 8192. Default [`DEFAULT_PLOT_WIDTH`].
    pub width: u32,
    /// Image height in pixels, 120 ..= 8192. Default [`DEFAULT_PLOT_HEIGHT`].
    pub height: u32,
}

impl Default for PlotOptions {
    fn default() -> Self {
        Self {
            log_y: false,
            width: DEFAULT_PLOT_WIDTH,
            height: DEFAULT_PLOT_HEIGHT,
        }
    }
}

impl PlotOptions {
    /// Checks the image size.
    ///
    /// # Errors
    /// [`OutputError::InvalidArgument`] naming `options.width` or `options.height` when out of
    /// range.
    fn check(&self) -> Result<(), OutputError> {
        check_size(self.width, self.height)
    }
}

/// Checks that a plot of `width × height` pixels can be drawn legibly and allocated.
fn check_size(width: u32, height: u32) -> Result<(), OutputError> {
    for (name, v, min) in [
        ("options.width", width, MIN_SIZE.0),
        ("options.height", height, MIN_SIZE.1),
    ] {
        if !(min..=MAX_SIDE).contains(&v) {
            return Err(OutputError::arg(
                name,
                format!("plot size {v} px must be between {min} and {MAX_SIDE}"),
            ));
        }
    }
    Ok(())
}

/// What drawing closures return (plotters' errors, boxed).
type DrawResult = Result<(), Box<dyn Error>>;
/// The whole image as a plotters drawing area.
type Root<'b> = DrawingArea<BitMapBackend<'b>, Shift>;
/// A chart with our [`Axis`] on both sides (log axes are linear over `log10`).
type XyChart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<Axis, Axis>>;

/// Text sizes and line widths, scaled with the image (1 at 800 × 500).
#[derive(Debug, Clone, Copy)]
struct Style {
    title_px: u32,
    label_px: u32,
    tick_px: u32,
    pad: u32,
    line_width: u32,
}

impl Style {
    fn for_size(width: u32, height: u32) -> Self {
        let s = (f64::from(width) / 800.0)
            .min(f64::from(height) / 500.0)
            .clamp(0.5, 4.0);
        let px = |v: f64| (v * s).round().max(1.0) as u32;
        Style {
            title_px: px(22.0).max(11),
            label_px: px(18.0).max(10),
            tick_px: px(15.0).max(9),
            pad: px(12.0),
            line_width: px(2.0),
        }
    }
}

/// Renders `draw` onto a white `width × height` canvas and writes it to `path` as an RGB PNG
/// (atomically, parent directories created).
fn render_png(
    path: &Path,
    width: u32,
    height: u32,
    draw: impl FnOnce(&Root<'_>) -> DrawResult,
) -> Result<(), OutputError> {
    font::ensure_registered(path)?;
    let (w, h) = (width as usize, height as usize);
    let mut pixels = vec![255u8; w * h * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        let result: DrawResult = (|| {
            root.fill(&WHITE)?;
            draw(&root)?;
            root.present()?;
            Ok(())
        })();
        result.map_err(|e| OutputError::Plot {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    RgbImage {
        width: w,
        height: h,
        pixels,
    }
    .save_png(path, false)
}

/// The axes of a line or scatter plot over `points`: y linear or log, x covering the points
/// whose y can be drawn (see [`Axis`]).
fn xy_axes<'p>(points: impl Iterator<Item = &'p (f64, f64)> + Clone, log_y: bool) -> (Axis, Axis) {
    let ys = points.clone().filter(|p| p.0.is_finite()).map(|p| p.1);
    let y = if log_y {
        Axis::log10(ys)
    } else {
        Axis::linear(ys, 5)
    };
    let x = Axis::linear(points.filter(|p| y.to_plot(p.1).is_some()).map(|p| p.0), 6);
    (x, y)
}

/// Lays out a framed chart for `x` and `y` on `area`: title, tick labels, axis labels, light
/// grid lines at the ticks and a black frame; returns it for the data to be drawn into.
#[allow(clippy::too_many_arguments)]
fn xy_chart<'a, 'b>(
    area: &'a Root<'b>,
    style: &Style,
    title: &str,
    x: &Axis,
    y: &Axis,
    x_label: &str,
    y_label: &str,
    right_margin: u32,
) -> Result<XyChart<'a, 'b>, Box<dyn Error>> {
    let tick_font = (font::FAMILY, style.tick_px);
    let tick_style = TextStyle::from(tick_font);
    let text_w = |s: &str| -> u32 {
        area.estimate_text_size(s, &tick_style)
            .map(|(w, _)| w)
            .unwrap_or(style.tick_px * s.chars().count() as u32)
    };
    let tick_len = (style.pad / 2).max(3);
    let desc = |s: &str| {
        if s.is_empty() {
            0
        } else {
            style.label_px + style.pad
        }
    };
    let y_area = text_w(y.widest_label()) + tick_len + style.pad / 2 + desc(y_label);
    let x_area = style.tick_px + tick_len + style.pad / 2 + desc(x_label);
    let last_x = x.ticks.last().map(|(_, s)| text_w(s) / 2).unwrap_or(0);

    let mut builder = ChartBuilder::on(area);
    builder
        .margin_top(style.pad)
        .margin_left(style.pad)
        .margin_bottom(style.pad / 2)
        .margin_right(right_margin.max(last_x + style.pad / 2))
        .x_label_area_size(x_area)
        .y_label_area_size(y_area);
    if !title.is_empty() {
        builder.caption(title, (font::FAMILY, style.title_px));
    }
    let mut chart = builder.build_cartesian_2d(x.clone(), y.clone())?;
    let x_fmt = |v: &f64| x.label(*v);
    let y_fmt = |v: &f64| y.label(*v);
    chart
        .configure_mesh()
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(tick_font)
        .axis_desc_style((font::FAMILY, style.label_px))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(BLACK)
        .set_all_tick_mark_size(tick_len)
        .draw()?;
    chart.plotting_area().draw(&Rectangle::new(
        [(x.lo, y.lo), (x.hi, y.hi)],
        BLACK.stroke_width(1),
    ))?;
    Ok(chart)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Pixel checks shared by the plot tests.

    use std::collections::HashSet;
    use std::path::Path;

    use crate::output::test_support::decode_png;

    /// A decoded RGB PNG.
    pub(crate) struct Png {
        pub width: u32,
        pub height: u32,
        pub pixels: Vec<u8>,
    }

    impl Png {
        /// Reads `path`, asserting it is an 8-bit RGB PNG.
        pub(crate) fn read(path: &Path) -> Self {
            let (width, height, color, pixels) = decode_png(path);
            assert_eq!(color, png::ColorType::Rgb, "{}", path.display());
            Png {
                width,
                height,
                pixels,
            }
        }

        /// The pixel at column `x`, row `y` (row 0 at the top).
        pub(crate) fn get(&self, x: u32, y: u32) -> [u8; 3] {
            let i = ((y * self.width + x) * 3) as usize;
            [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
        }

        /// Number of distinct colours in the whole image.
        pub(crate) fn distinct_colors(&self) -> usize {
            self.pixels
                .chunks_exact(3)
                .map(|p| [p[0], p[1], p[2]])
                .collect::<HashSet<_>>()
                .len()
        }

        /// Number of pixels in rows `y0..y1` (all columns) satisfying `pred`.
        pub(crate) fn count_rows(&self, y0: u32, y1: u32, pred: impl Fn([u8; 3]) -> bool) -> usize {
            (y0..y1)
                .flat_map(|y| (0..self.width).map(move |x| (x, y)))
                .filter(|&(x, y)| pred(self.get(x, y)))
                .count()
        }

        /// Number of pixels in the rectangle `x0..x1 × y0..y1` satisfying `pred`.
        pub(crate) fn count_in(
            &self,
            (x0, x1): (u32, u32),
            (y0, y1): (u32, u32),
            pred: impl Fn([u8; 3]) -> bool,
        ) -> usize {
            (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .filter(|&(x, y)| pred(self.get(x, y)))
                .count()
        }
    }

    /// Near-black: text, frame and tick marks.
    pub(crate) fn dark(p: [u8; 3]) -> bool {
        p.iter().all(|&c| c < 90)
    }

    /// Within `tol` of `c` in every channel.
    pub(crate) fn near(c: [u8; 3], tol: u8) -> impl Fn([u8; 3]) -> bool {
        move |p| p.iter().zip(c).all(|(&a, b)| a.abs_diff(b) <= tol)
    }
}
