//! The one font every plot uses, compiled into the binary.
//!
//! Plots must render the same on a developer's machine, in CI and on a fresh container without
//! any system fonts, so plotters is built with its `ab_glyph` feature (pure-Rust rasteriser, no
//! font discovery) and this module registers one embedded TrueType font as plotters' `sans-serif`
//! family before anything is drawn.
//!
//! The font is **DejaVu Sans** (`assets/DejaVuSans.ttf`, unmodified, from Debian's
//! `fonts-dejavu-core` 2.37): it is matplotlib's default, so our plots read like the figures
//! people compare them with; it is legible at small pixel sizes; it covers Greek and the math
//! signs used in labels (β, σ, −, ×); and its licence (Bitstream Vera + Arev, text in
//! `assets/LICENSE-DejaVu.txt`) allows redistributing it inside other software.

use std::path::Path;
use std::sync::OnceLock;

use plotters::style::FontStyle;

use crate::output::OutputError;

/// DejaVu Sans 2.37, byte for byte as shipped by Debian's `fonts-dejavu-core`.
static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

/// The plotters font family every plot text uses.
pub(super) const FAMILY: &str = "sans-serif";

/// Registers the embedded font with plotters (once per process).
///
/// # Errors
/// [`OutputError::Plot`] naming `path` if the embedded font cannot be parsed — a broken build,
/// since the bytes are fixed at compile time.
pub(super) fn ensure_registered(path: &Path) -> Result<(), OutputError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(OutputError::Plot {
            path: path.to_path_buf(),
            reason: "the embedded DejaVu Sans font could not be parsed; \
                     crates/deepgen-tensor/assets/DejaVuSans.ttf is damaged (restore it from git)"
                .to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_is_the_committed_truetype_file() {
        // TrueType magic (0x00010000) and the size of DejaVuSans.ttf 2.37.
        assert_eq!(&DEJAVU_SANS[..4], &[0, 1, 0, 0]);
        assert_eq!(DEJAVU_SANS.len(), 759_720);
        ensure_registered(Path::new("x.png")).unwrap();
    }
}
