//! What examples write to disk: PNG sample grids ([`save_image_grid`]),
//! `.npy` arrays ([`write_npy_f32`], [`write_npy_i64`], [`read_npy_f32`]) and
//! loss-curve plots ([`save_line_plot`]).
//!
//! Every write is atomic — the bytes go to a temporary file in the target's
//! directory, which is then renamed over the target — and creates missing
//! parent directories. Every failure is an [`OutputError`] naming the file
//! or argument at fault.

mod atomic;
pub use atomic::write_file_atomic;
mod error;
mod font;
mod grid;
mod image;
mod npy;
mod plot;

pub use error::OutputError;
pub use grid::{GRID_PADDING, image_grid_to_rgb8, save_image_grid};
pub use image::RgbImage;
pub use npy::{read_npy_f32, write_npy_f32, write_npy_i64};
pub use plot::{
    DEFAULT_PLOT_HEIGHT, DEFAULT_PLOT_WIDTH, render_line_plot, save_line_plot,
    save_line_plot_sized, series_color,
};

#[cfg(test)]
pub(crate) mod test_support {
    use std::ops::Deref;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh, empty directory under the system temp dir, removed on drop.
    pub(crate) struct TempDir(PathBuf);

    impl Deref for TempDir {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl AsRef<Path> for TempDir {
        fn as_ref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A fresh, empty directory for one test (unique per process and call).
    pub(crate) fn temp_dir(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "deepgen-tensor-test-{}-{n}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

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
