//! What every print file shares and nothing else: the page geometry (A4, margins, where the body goes), the one
//! error type, and a form's short name. A leaf of `print/`, so the drawing, layout and document files depend on it
//! and never on `mod.rs`.

/// Millimetres in a PDF point.
pub(crate) const MM_PER_PT: f32 = 25.4 / 72.0;

/// A4, in millimetres.
pub(crate) const A4_SHORT: f32 = 210.0;
pub(crate) const A4_LONG: f32 = 297.0;
pub(crate) const MARGIN: f32 = 12.0;
/// Why a document could not be produced. None of these name a patient.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrintError {
    /// The fonts built into the application could not be parsed (a broken build).
    #[error("the embedded fonts could not be read")]
    Font,
    /// The page identification is longer than a QR code can hold (absurdly long identifiers).
    #[error("the page identification is too long for its QR code")]
    QrTooLong,
    /// The PDF writer produced nothing.
    #[error("the PDF could not be produced")]
    Pdf,
    /// There is nothing to print (no patients in the census, for example).
    #[error("nothing to print: {0}")]
    Empty(&'static str),
}

/// Where the body of a page may go, below the header and above the footer.
pub(crate) fn body_top(extra: f32) -> f32 {
    66.0 + extra
}
pub(crate) fn body_bottom(height: f32) -> f32 {
    height - 18.0
}

/// The last path segment of a form url: its short name ("vital-signs").
pub fn short_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}
