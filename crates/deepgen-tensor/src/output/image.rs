//! A plain 8-bit RGB image buffer and its PNG encoder.

use std::path::Path;

use super::OutputError;
use super::atomic::write_atomic;

/// An 8-bit RGB image, row-major, 3 bytes per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height * 3` bytes, row by row, `[r, g, b]` per pixel.
    pub pixels: Vec<u8>,
}

impl RgbImage {
    /// A `width × height` image filled with `color`.
    pub fn filled(width: usize, height: usize, color: [u8; 3]) -> Self {
        let mut pixels = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            pixels.extend_from_slice(&color);
        }
        RgbImage {
            width,
            height,
            pixels,
        }
    }

    /// The pixel at column `x`, row `y`, or `None` outside the image.
    pub fn get(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y * self.width + x) * 3;
        Some([self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]])
    }

    /// Sets the pixel at (`x`, `y`) to `color`; coordinates outside the image are ignored.
    pub fn put(&mut self, x: i64, y: i64, color: [u8; 3]) {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return;
        }
        let i = (y as usize * self.width + x as usize) * 3;
        self.pixels[i..i + 3].copy_from_slice(&color);
    }

    /// Writes the image as an 8-bit PNG — grayscale when `gray` (taking the red
    /// channel), RGB otherwise — atomically to `path`.
    pub(crate) fn save_png(&self, path: &Path, gray: bool) -> Result<(), OutputError> {
        let (w, h) = (to_u32(self.width, "width")?, to_u32(self.height, "height")?);
        let data: Vec<u8> = if gray {
            self.pixels.chunks_exact(3).map(|p| p[0]).collect()
        } else {
            self.pixels.clone()
        };
        write_atomic(path, |out| {
            let png_err = |source| OutputError::Png {
                path: path.to_path_buf(),
                source,
            };
            let mut encoder = png::Encoder::new(out, w, h);
            encoder.set_color(if gray {
                png::ColorType::Grayscale
            } else {
                png::ColorType::Rgb
            });
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().map_err(png_err)?;
            writer.write_image_data(&data).map_err(png_err)?;
            writer.finish().map_err(png_err)
        })
    }
}

/// Image dimensions must fit PNG's 32-bit fields (and be non-zero).
fn to_u32(v: usize, name: &'static str) -> Result<u32, OutputError> {
    match u32::try_from(v) {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(OutputError::arg(
            name,
            format!("image {name} {v} must be between 1 and {} pixels", u32::MAX),
        )),
    }
}
