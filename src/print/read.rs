//! Reading paper back: finds the QR code on a scanned page and returns the [`Payload`] it carries (form, patient,
//! episode, and for printed entries the entry, version and content hash), for reconciliation to match the sheet.
//!
//! Images (PNG, JPEG) are decoded in process. A PDF page is first rendered to an image by poppler's `pdftoppm` (an
//! external program, Debian package poppler-utils), writing to a pipe so that no image of the page touches the disk.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::paper::{Payload, PayloadError};

/// The largest file accepted (a 600 dpi colour A4 scan is well under this).
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;
/// The resolution a PDF page is rendered at before decoding (QR codes of 25 mm and more decode from 150 dpi).
pub const PDF_DPI: u32 = 200;
/// Images larger than this many pixels are refused rather than decoded (a decompression bomb).
const MAX_PIXELS: u64 = 80_000_000;

/// Why a page could not be read. Never contains what the code said.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("could not read the scanned file: {0}")]
    Io(String),
    /// The file is larger than [`MAX_BYTES`] or the image larger than the pixel limit.
    #[error("the scanned file is too large")]
    TooLarge,
    /// Not a PNG, JPEG or PDF, or a damaged one.
    #[error("the file is not a readable PNG, JPEG or PDF image")]
    Unreadable,
    /// The PDF could not be rendered (pdftoppm is missing, or the page does not exist).
    #[error("the PDF page could not be rendered: {0}")]
    Render(String),
    /// No QR code was found on the page.
    #[error("no QR code found on the page (rescan at 150 dpi or more, flat and in focus)")]
    NoCode,
    /// A QR code was found but could not be decoded (damaged or blurred).
    #[error("a QR code was found but could not be decoded (damaged, folded or blurred)")]
    Damaged,
    /// The QR code is not one that Downtime Kit printed.
    #[error("the page's QR code was not printed by Downtime Kit: {0}")]
    NotOurs(PayloadError),
}

/// Reads the QR code of a scanned page: a PNG or JPEG image, or page `page` (1-based) of a PDF.
pub fn read_file(path: &Path, page: u32) -> Result<Payload, ReadError> {
    let meta = std::fs::metadata(path).map_err(|e| ReadError::Io(e.kind().to_string()))?;
    if meta.len() > MAX_BYTES {
        return Err(ReadError::TooLarge);
    }
    let mut head = [0u8; 5];
    let mut f = std::fs::File::open(path).map_err(|e| ReadError::Io(e.kind().to_string()))?;
    let n = f.read(&mut head).map_err(|e| ReadError::Io(e.kind().to_string()))?;
    if head[..n].starts_with(b"%PDF-") {
        let pgm = render_pdf_page(path, page)?;
        let (w, h, pixels) = parse_pgm(&pgm).ok_or_else(|| ReadError::Render("pdftoppm gave no image".into()))?;
        return read_luma(w, h, pixels);
    }
    let bytes = std::fs::read(path).map_err(|e| ReadError::Io(e.kind().to_string()))?;
    read_image(&bytes)
}

/// Renders one PDF page to a greyscale PGM with `pdftoppm`, through a pipe (pdftoppm writes PGM to standard output
/// when given no output name; it cannot do that for PNG).
fn render_pdf_page(path: &Path, page: u32) -> Result<Vec<u8>, ReadError> {
    let page = page.max(1).to_string();
    let dpi = PDF_DPI.to_string();
    let child = Command::new("pdftoppm")
        .args(["-gray", "-r", &dpi, "-f", &page, "-l", &page])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| ReadError::Render(format!("pdftoppm could not be started ({})", e.kind())))?;
    let out = child.wait_with_output().map_err(|e| ReadError::Render(e.kind().to_string()))?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err(ReadError::Render("pdftoppm failed (is it a PDF, and does the page exist?)".into()));
    }
    Ok(out.stdout)
}

/// Splits a binary PGM (`P5`, 8-bit) into width, height and pixels.
fn parse_pgm(bytes: &[u8]) -> Option<(usize, usize, &[u8])> {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while bytes.get(i)?.is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !bytes.get(i)?.is_ascii_whitespace() {
            i += 1;
        }
        fields.push(std::str::from_utf8(&bytes[start..i]).ok()?);
    }
    let (w, h): (usize, usize) = (fields[1].parse().ok()?, fields[2].parse().ok()?);
    if fields[0] != "P5" || fields[3] != "255" || (w as u64) * (h as u64) > MAX_PIXELS {
        return None;
    }
    let pixels = bytes.get(i + 1..i + 1 + w * h)?;
    Some((w, h, pixels))
}

/// Reads the QR code in an encoded image (PNG or JPEG).
pub fn read_image(bytes: &[u8]) -> Result<Payload, ReadError> {
    let format = image::guess_format(bytes).map_err(|_| ReadError::Unreadable)?;
    if !matches!(format, image::ImageFormat::Png | image::ImageFormat::Jpeg) {
        return Err(ReadError::Unreadable);
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    let img = reader.decode().map_err(|_| ReadError::Unreadable)?;
    if u64::from(img.width()) * u64::from(img.height()) > MAX_PIXELS {
        return Err(ReadError::TooLarge);
    }
    let luma = img.to_luma8();
    read_luma(luma.width() as usize, luma.height() as usize, luma.as_raw())
}

/// Reads the QR code in a greyscale bitmap, row by row, `width` × `height` bytes.
pub fn read_luma(width: usize, height: usize, pixels: &[u8]) -> Result<Payload, ReadError> {
    if width == 0 || height == 0 || pixels.len() < width.saturating_mul(height) {
        return Err(ReadError::Unreadable);
    }
    // rqrr sometimes misses the finder patterns of a dense code at scanner resolutions; a hard threshold, then the
    // same at twice the size, usually finds them. The first attempt that sees a code decides.
    let attempts: [(usize, Option<u8>); 3] = [(1, None), (1, Some(150)), (2, Some(150))];
    let mut last = ReadError::NoCode;
    for (scale, threshold) in attempts {
        if (width * scale) as u64 * (height * scale) as u64 > MAX_PIXELS {
            continue;
        }
        let pixel = |x: usize, y: usize| {
            let v = pixels[(y / scale) * width + x / scale];
            match threshold {
                Some(t) if v < t => 0,
                Some(_) => 255,
                None => v,
            }
        };
        match decode_grids(width * scale, height * scale, pixel) {
            Ok(p) => return Ok(p),
            Err(ReadError::NoCode) => {}
            Err(ReadError::Damaged) => last = ReadError::Damaged,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

fn decode_grids(width: usize, height: usize, pixel: impl Fn(usize, usize) -> u8) -> Result<Payload, ReadError> {
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(width, height, pixel);
    let grids = prepared.detect_grids();
    if grids.is_empty() {
        return Err(ReadError::NoCode);
    }
    let mut last = ReadError::Damaged;
    for grid in grids {
        if let Ok((_, text)) = grid.decode() {
            match Payload::parse(&text) {
                Ok(p) => return Ok(p),
                Err(e) => last = ReadError::NotOurs(e),
            }
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_gives_clear_errors_not_panics() {
        assert!(matches!(read_image(b"not an image"), Err(ReadError::Unreadable)));
        assert!(matches!(read_luma(0, 0, &[]), Err(ReadError::Unreadable)));
        assert!(matches!(read_luma(10, 10, &[255; 100]), Err(ReadError::NoCode)));
        assert!(matches!(read_luma(10, 10, &[255; 5]), Err(ReadError::Unreadable)));
        assert_eq!(
            parse_pgm(b"P5\n2 1\n255\n\x00\xff").map(|(w, h, p)| (w, h, p.to_vec())),
            Some((2, 1, vec![0, 255]))
        );
        assert!(parse_pgm(b"P5\n2 1\n255\n\x00").is_none());
        assert!(parse_pgm(b"P6 1").is_none());
    }
}
