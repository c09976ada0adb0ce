//! PNG grids of image samples (like torchvision's `make_grid` + `save_image`).

use std::path::Path;

use super::OutputError;
use super::image::RgbImage;

/// Width of the border around and between the images, in pixels.
pub const GRID_PADDING: usize = 2;
/// Colour of the border (black, as torchvision's default `pad_value = 0`).
const PAD_COLOR: [u8; 3] = [0, 0, 0];

/// Converts a value in `[0, 1]` to a byte: clamped, NaN → 0, rounded half up
/// (`floor(255 v + 0.5)`, the same as torchvision's `save_image`).
fn to_byte(v: f32) -> u8 {
    if v.is_nan() {
        return 0;
    }
    (v.clamp(0.0, 1.0) * 255.0 + 0.5).floor() as u8
}

/// Lays `n` images of `c × h × w` (`N·C·H·W`, row-major) out on a grid with
/// `nrow` images per row and a [`GRID_PADDING`]-pixel black border around
/// and between them, and returns it as RGB (grayscale images are replicated
/// into the three channels).
///
/// The grid is `min(n, nrow)` images wide and `ceil(n / nrow)` images high:
/// `width = cols·(w + 2) + 2`, `height = rows·(h + 2) + 2`. Values are
/// clamped to `[0, 1]` and scaled to `0..=255`; NaN becomes 0.
///
/// # Errors
/// [`OutputError::InvalidArgument`] naming `data`, `n`, `c`, `h`, `w` or
/// `nrow` when `c` is not 1 or 3, a size is 0, or `data.len() != n·c·h·w`.
pub fn image_grid_to_rgb8(
    data: &[f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    nrow: usize,
) -> Result<RgbImage, OutputError> {
    if c != 1 && c != 3 {
        return Err(OutputError::arg(
            "c",
            format!("{c} channels; use 1 (grayscale) or 3 (RGB)"),
        ));
    }
    for (name, v) in [("n", n), ("h", h), ("w", w), ("nrow", nrow)] {
        if v == 0 {
            return Err(OutputError::arg(name, "must be at least 1"));
        }
    }
    let expected = [n, c, h, w]
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            OutputError::arg("n", format!("n·c·h·w = {n}·{c}·{h}·{w} overflows usize"))
        })?;
    if data.len() != expected {
        return Err(OutputError::arg(
            "data",
            format!(
                "has {} values but n·c·h·w = {n}·{c}·{h}·{w} = {expected}; pass the images in N·C·H·W order",
                data.len()
            ),
        ));
    }
    let cols = n.min(nrow);
    let rows = n.div_ceil(cols);
    let width = cols * (w + GRID_PADDING) + GRID_PADDING;
    let height = rows * (h + GRID_PADDING) + GRID_PADDING;
    let mut img = RgbImage::filled(width, height, PAD_COLOR);
    let plane = h * w;
    for (k, image) in data.chunks_exact(c * plane).enumerate() {
        let x0 = GRID_PADDING + (k % cols) * (w + GRID_PADDING);
        let y0 = GRID_PADDING + (k / cols) * (h + GRID_PADDING);
        for y in 0..h {
            for x in 0..w {
                let px = y * w + x;
                let rgb = if c == 1 {
                    let v = to_byte(image[px]);
                    [v, v, v]
                } else {
                    [
                        to_byte(image[px]),
                        to_byte(image[plane + px]),
                        to_byte(image[2 * plane + px]),
                    ]
                };
                let i = ((y0 + y) * width + x0 + x) * 3;
                img.pixels[i..i + 3].copy_from_slice(&rgb);
            }
        }
    }
    Ok(img)
}

/// Writes `n` images (`N·C·H·W` values in `[0, 1]`) as one PNG grid with
/// `nrow` images per row — grayscale PNG for `c = 1`, RGB for `c = 3` — see
/// [`image_grid_to_rgb8`] for the layout. The write is atomic and creates
/// missing parent directories.
///
/// # Errors
/// Argument errors as [`image_grid_to_rgb8`]; I/O and encoding errors name `path`.
pub fn save_image_grid(
    path: &Path,
    data: &[f32],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    nrow: usize,
) -> Result<(), OutputError> {
    image_grid_to_rgb8(data, n, c, h, w, nrow)?.save_png(path, c == 1)
}

/// Writes `n` images (`images` row-major `[n, c, h, w]`, values in `[0, 1]`) to `dir` as
/// `samples_{name}.npy` (all of them) and `samples_{name}.png` (the first `min(n, 100)` in a
/// square grid) — the sample files every image example writes.
///
/// # Errors
/// [`OutputError`] for a shape that does not match `images`, or a failed write.
pub fn write_image_samples(
    dir: &Path,
    name: &str,
    images: &[f32],
    [n, c, h, w]: [usize; 4],
) -> Result<(), OutputError> {
    crate::output::write_npy_f32(
        &dir.join(format!("samples_{name}.npy")),
        &[n, c, h, w],
        images,
    )?;
    let shown = n.min(100);
    let nrow = (shown as f64).sqrt().ceil() as usize;
    save_image_grid(
        &dir.join(format!("samples_{name}.png")),
        &images[..shown * c * h * w],
        shown,
        c,
        h,
        w,
        nrow,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_support::decode_png;

    #[test]
    fn gray_grid_layout_and_pixel_values() {
        // 3 images of 1×2×2, 2 per row → 2 columns × 2 rows:
        // width = 2·(2+2)+2 = 10, height = 2·(2+2)+2 = 10.
        #[rustfmt::skip]
        let data = [
            0.0, 1.0, 0.5, 2.0,          // image 0 (2.0 clamps to 255)
            -1.0, 0.2, 1.0 / 255.0, f32::NAN, // image 1
            0.25, 0.75, 0.1, 0.9,        // image 2
        ];
        let img = image_grid_to_rgb8(&data, 3, 1, 2, 2, 2).unwrap();
        assert_eq!((img.width, img.height), (10, 10));
        // floor(255·v + 0.5): 0.5 → 128, 0.2 → 51, 1/255 → 1, 0.25 → 64, 0.75 → 191, 0.1 → 26, 0.9 → 230
        let g = |x, y| img.get(x, y).unwrap()[0];
        assert_eq!([g(2, 2), g(3, 2), g(2, 3), g(3, 3)], [0, 255, 128, 255]);
        assert_eq!([g(6, 2), g(7, 2), g(6, 3), g(7, 3)], [0, 51, 1, 0]);
        assert_eq!([g(2, 6), g(3, 6), g(2, 7), g(3, 7)], [64, 191, 26, 230]);
        // Padding: border, gaps, and the empty 4th cell are black.
        for (x, y) in [(0, 0), (1, 5), (4, 2), (5, 3), (9, 9), (6, 6), (7, 7)] {
            assert_eq!(img.get(x, y).unwrap(), [0, 0, 0], "pad pixel ({x}, {y})");
        }
        // Count of non-zero pixels = non-zero image values (gray replicated in RGB).
        let lit = img.pixels.chunks(3).filter(|p| p[0] != 0).count();
        assert_eq!(lit, 9);
        assert!(img.pixels.chunks(3).all(|p| p[0] == p[1] && p[1] == p[2]));

        // The PNG on disk decodes to the same gray values.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("nested/grid.png");
        save_image_grid(&path, &data, 3, 1, 2, 2, 2).unwrap();
        let (w, h, color, bytes) = decode_png(&path);
        assert_eq!((w, h, color), (10, 10, png::ColorType::Grayscale));
        let gray: Vec<u8> = img.pixels.chunks(3).map(|p| p[0]).collect();
        assert_eq!(bytes, gray);
    }

    #[test]
    fn rgb_grid_planes_map_to_channels() {
        // 2 images of 3×1×2 in one row (nrow = 4 > n): width = 2·4+2 = 10, height = 1+4 = 5.
        #[rustfmt::skip]
        let data = [
            1.0, 0.0,  0.0, 1.0,  0.0, 0.0, // image 0: R plane, G plane, B plane
            0.0, 0.5,  0.0, 0.5,  1.0, 0.5, // image 1
        ];
        let img = image_grid_to_rgb8(&data, 2, 3, 1, 2, 4).unwrap();
        assert_eq!((img.width, img.height), (10, 5));
        assert_eq!(img.get(2, 2).unwrap(), [255, 0, 0]);
        assert_eq!(img.get(3, 2).unwrap(), [0, 255, 0]);
        assert_eq!(img.get(6, 2).unwrap(), [0, 0, 255]);
        assert_eq!(img.get(7, 2).unwrap(), [128, 128, 128]);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("grid.png");
        save_image_grid(&path, &data, 2, 3, 1, 2, 4).unwrap();
        let (w, h, color, bytes) = decode_png(&path);
        assert_eq!((w, h, color), (10, 5, png::ColorType::Rgb));
        assert_eq!(bytes, img.pixels);
    }

    #[test]
    fn bad_arguments_name_the_argument() {
        let err = image_grid_to_rgb8(&[0.0; 7], 2, 1, 2, 2, 2).unwrap_err();
        assert!(
            err.to_string().contains("`data`") && err.to_string().contains("= 8"),
            "{err}"
        );
        let err = image_grid_to_rgb8(&[0.0; 8], 2, 2, 2, 1, 2).unwrap_err();
        assert!(err.to_string().contains("`c`"), "{err}");
        let err = image_grid_to_rgb8(&[0.0; 8], 2, 1, 2, 2, 0).unwrap_err();
        assert!(err.to_string().contains("`nrow`"), "{err}");
        let err = image_grid_to_rgb8(&[], 0, 1, 2, 2, 1).unwrap_err();
        assert!(err.to_string().contains("`n`"), "{err}");
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert!(save_image_grid(&dir.join("x.png"), &[0.0; 3], 1, 1, 2, 2, 1).is_err());
        assert!(!dir.join("x.png").exists());
    }
}
