//! The machine-readable marks on a page, drawn as vector shapes: the QR code carrying the [`crate::paper::Payload`]
//! and the Code 128 barcode of the MRN (what a wristband scanner reads).

use barcoders::sym::code128::Code128;
use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::{Color as QrColor, EcLevel};

use super::canvas::{Page, WHITE};
use super::page::PrintError;

/// The modules of one QR code, row by row.
pub(crate) struct Qr {
    width: usize,
    colors: Vec<QrColor>,
}

/// Encodes `text` with medium error correction (survives a smudge or a staple hole). The mask is fixed to pattern 0
/// instead of scoring all eight: every mask is valid, scoring took a third of the time of a unit-wide batch, and the
/// codes decode with rqrr and zbar from 150 dpi scans (tested).
pub(crate) fn qr_code(text: &str) -> Result<Qr, PrintError> {
    let bits = qrcode::bits::encode_auto(text.as_bytes(), EcLevel::M).map_err(|_| PrintError::QrTooLong)?;
    let version = bits.version();
    let data = bits.into_bytes();
    let (encoded, ec) =
        qrcode::ec::construct_codewords(&data, version, EcLevel::M).map_err(|_| PrintError::QrTooLong)?;
    let mut canvas = Canvas::new(version, EcLevel::M);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&encoded, &ec);
    canvas.apply_mask(MaskPattern::Checkerboard);
    let width = usize::try_from(version.width()).map_err(|_| PrintError::QrTooLong)?;
    Ok(Qr { width, colors: canvas.into_colors() })
}

/// Draws a QR code whose symbol (without its quiet zone) is `size` mm wide, top-left at (x, y). A white quiet zone
/// of four modules is painted around it, so nothing else may be drawn there.
pub(crate) fn qr(page: &mut Page, x: f32, y: f32, size: f32, code: &Qr) {
    let n = code.width;
    let module = size / n as f32;
    let quiet = module * 4.0;
    page.rect(x - quiet, y - quiet, size + 2.0 * quiet, size + 2.0 * quiet, Some(WHITE), None);
    let colors = &code.colors;
    let mut cells = Vec::new();
    // One rectangle per horizontal run of dark modules keeps the path (and the file) small.
    for row in 0..n {
        let mut col = 0;
        while col < n {
            if colors.get(row * n + col) == Some(&QrColor::Dark) {
                let start = col;
                while col < n && colors.get(row * n + col) == Some(&QrColor::Dark) {
                    col += 1;
                }
                cells.push((x + start as f32 * module, y + row as f32 * module, (col - start) as f32 * module, module));
            } else {
                col += 1;
            }
        }
    }
    page.cells(cells);
}

/// The modules (1 = bar) of a Code 128 barcode for `data` in character set B, or `None` when the text cannot be
/// encoded (set B holds printable ASCII only).
pub(crate) fn code128_modules(data: &str) -> Option<Vec<u8>> {
    if data.is_empty() || !data.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return None;
    }
    Code128::new(format!("\u{0181}{data}")).ok().map(|c| c.encode())
}

/// Draws a Code 128 barcode of `data` left-aligned at (x, y) within `max_w` × `h` mm, with its quiet zones. The bar
/// width is as wide as the room allows, between 0.25 mm (scanners need that) and 0.4 mm. Returns the width used, or
/// `None` (nothing drawn) when the data cannot be encoded or would not fit.
pub(crate) fn barcode(page: &mut Page, x: f32, y: f32, max_w: f32, h: f32, data: &str) -> Option<f32> {
    let modules = code128_modules(data)?;
    let total = modules.len() as f32 + 20.0;
    let module = (max_w / total).min(0.4);
    if module < 0.25 {
        return None;
    }
    let quiet = module * 10.0;
    page.rect(x, y, total * module, h, Some(WHITE), None);
    let mut cells = Vec::new();
    let mut i = 0;
    while i < modules.len() {
        if modules[i] == 1 {
            let start = i;
            while i < modules.len() && modules[i] == 1 {
                i += 1;
            }
            cells.push((x + quiet + start as f32 * module, y, (i - start) as f32 * module, h));
        } else {
            i += 1;
        }
    }
    page.cells(cells);
    Some(total * module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barcode_refuses_what_set_b_cannot_hold() {
        assert!(code128_modules("DEV2001").is_some());
        assert!(code128_modules("").is_none());
        assert!(code128_modules("MÜ1").is_none());
    }
}
