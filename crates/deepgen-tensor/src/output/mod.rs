//! What examples write to disk: PNG sample grids ([`save_image_grid`]),
//! `.npy` arrays ([`write_npy_f32`], [`write_npy_i64`], [`read_npy_f32`]) and
//! plots drawn with plotters — loss curves ([`save_line_plot`],
//! [`save_line_plot_with`]), scatter plots ([`save_scatter_plot`]) and 2-D
//! density heat-maps ([`save_density_heatmap`]).
//!
//! Every write is atomic — the bytes go to a temporary file in the target's
//! directory, which is then renamed over the target — and creates missing
//! parent directories. Every failure is an [`OutputError`] naming the file
//! or argument at fault.

mod atomic;
pub use atomic::write_file_atomic;
mod error;
mod grid;
mod image;
mod npy;
mod plot;

pub use error::OutputError;
pub use grid::{GRID_PADDING, image_grid_to_rgb8, save_image_grid, write_image_samples};
pub use image::RgbImage;
pub use npy::{read_npy_f32, write_npy_f32, write_npy_i64};
pub use plot::{
    DEFAULT_PLOT_HEIGHT, DEFAULT_PLOT_WIDTH, HEATMAP_SIZE, PlotOptions, heatmap_cell_centers,
    save_density_heatmap, save_line_plot, save_line_plot_with, save_scatter_plot,
    save_scatter_plot_with,
};

#[cfg(test)]
pub(crate) mod test_support {
    /// Decodes a PNG file into (width, height, color type, pixel bytes).
    pub(crate) fn decode_png(path: &std::path::Path) -> (u32, u32, png::ColorType, Vec<u8>) {
        let file = std::io::BufReader::new(std::fs::File::open(path).expect("open png"));
        let mut reader = png::Decoder::new(file).read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut buf).expect("png frame");
        buf.truncate(info.buffer_size());
        (info.width, info.height, info.color_type, buf)
    }
}
