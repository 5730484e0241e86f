//! A page as the layout code sees it: millimetres from the top-left corner, text, boxes and lines. Layout fills
//! [`Page`]s; [`render`] turns them into one PDF with the fonts embedded (subset to the glyphs used).
//!
//! Keeping our own marks instead of writing printpdf operations directly lets the layout finish every page before
//! the page count is known ("Page x of y"), embed only the faces a document uses, and lets tests check that nothing
//! is drawn outside the page.

use std::collections::BTreeMap;
use std::io::Write;

use printpdf::{
    Color, Line, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Polygon,
    PolygonRing, Pt, Rgb, TextItem, WindingOrder,
};

use super::fonts::{clean, Face, Fonts, Weight};
use super::page::{PrintError, A4_LONG, A4_SHORT, MM_PER_PT};

/// An RGB colour, 0–1 per channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rgba(pub f32, pub f32, pub f32);

pub(crate) const BLACK: Rgba = Rgba(0.0, 0.0, 0.0);
pub(crate) const GREY: Rgba = Rgba(0.38, 0.38, 0.38);
pub(crate) const LIGHT: Rgba = Rgba(0.88, 0.88, 0.88);
pub(crate) const PALE: Rgba = Rgba(0.95, 0.95, 0.95);
pub(crate) const WHITE: Rgba = Rgba(1.0, 1.0, 1.0);
/// Warnings (allergies, DRILL, entered-in-error). A dark red that still prints as a strong grey in black and white.
pub(crate) const RED: Rgba = Rgba(0.75, 0.05, 0.05);
pub(crate) const WATERMARK: Rgba = Rgba(0.93, 0.80, 0.80);

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mark {
    /// `y` is the baseline.
    Text {
        x: f32,
        y: f32,
        size: f32,
        face: Face,
        text: String,
        color: Rgba,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Option<Rgba>,
        stroke: Option<(f32, Rgba)>,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
        color: Rgba,
    },
    /// Many filled black rectangles (QR modules, barcode bars) as one path.
    Cells(Vec<(f32, f32, f32, f32)>),
}

/// One page being laid out.
pub(crate) struct Page {
    pub width: f32,
    pub height: f32,
    pub marks: Vec<Mark>,
    fonts: &'static Fonts,
}

impl Page {
    pub fn new(width: f32, height: f32) -> Result<Page, PrintError> {
        Ok(Page { width, height, marks: Vec::new(), fonts: Fonts::get()? })
    }

    pub fn fonts(&self) -> &'static Fonts {
        self.fonts
    }

    /// Draws one line of text as given (callers wrap or fit it first).
    pub fn text(&mut self, x: f32, y: f32, size: f32, weight: Weight, color: Rgba, text: &str) {
        let text = clean(text);
        let mut cx = x;
        for (face, run) in self.fonts.runs(&text, weight) {
            let w = self.fonts.width(&run, weight, size);
            if !run.trim().is_empty() {
                self.marks.push(Mark::Text { x: cx, y, size, face, text: run, color });
            }
            cx += w;
        }
    }

    /// Text shortened with an ellipsis to fit `max_w`. (Position, room and style are all it takes; a style struct
    /// would only move the same arguments around.)
    #[allow(clippy::too_many_arguments)]
    pub fn text_fit(&mut self, x: f32, y: f32, max_w: f32, size: f32, weight: Weight, color: Rgba, text: &str) {
        let fitted = self.fonts.fit(&clean(text), weight, size, max_w);
        self.text(x, y, size, weight, color, &fitted);
    }

    /// Text right-aligned at `right`.
    pub fn text_right(&mut self, right: f32, y: f32, size: f32, weight: Weight, color: Rgba, text: &str) {
        let w = self.fonts.width(&clean(text), weight, size);
        self.text(right - w, y, size, weight, color, text);
    }

    /// Text centred on `cx`.
    pub fn text_centre(&mut self, cx: f32, y: f32, size: f32, weight: Weight, color: Rgba, text: &str) {
        let w = self.fonts.width(&clean(text), weight, size);
        self.text(cx - w / 2.0, y, size, weight, color, text);
    }

    /// Wraps text into `max_w`, at most `max_lines` lines (the last one ellipsised when cut); returns the lines.
    pub fn wrap(&self, text: &str, size: f32, weight: Weight, max_w: f32, max_lines: usize) -> Vec<String> {
        let mut lines = self.fonts.wrap(&clean(text), weight, size, max_w);
        if lines.len() > max_lines.max(1) {
            lines.truncate(max_lines.max(1));
            if let Some(last) = lines.last_mut() {
                *last = self.fonts.fit(&format!("{last} …"), weight, size, max_w);
                if !last.ends_with('…') {
                    last.push('…');
                }
            }
        }
        lines
    }

    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, fill: Option<Rgba>, stroke: Option<(f32, Rgba)>) {
        self.marks.push(Mark::Rect { x, y, w, h, fill, stroke });
    }

    pub fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32, color: Rgba) {
        self.marks.push(Mark::Line { x1, y1, x2, y2, width, color });
    }

    /// A tick box with its top-left corner at (x, y), ticked or not.
    pub fn tick_box(&mut self, x: f32, y: f32, size: f32, ticked: bool) {
        self.rect(x, y, size, size, Some(WHITE), Some((0.35, BLACK)));
        if ticked {
            self.line(x + size * 0.18, y + size * 0.55, x + size * 0.42, y + size * 0.8, 0.6, BLACK);
            self.line(x + size * 0.42, y + size * 0.8, x + size * 0.85, y + size * 0.15, 0.6, BLACK);
        }
    }

    pub fn cells(&mut self, cells: Vec<(f32, f32, f32, f32)>) {
        if !cells.is_empty() {
            self.marks.push(Mark::Cells(cells));
        }
    }
}

fn pt(mm: f32) -> Pt {
    Pt(mm / MM_PER_PT)
}

fn color(c: Rgba) -> Color {
    Color::Rgb(Rgb { r: c.0, g: c.1, b: c.2, icc_profile: None })
}

fn point(x: f32, y: f32, page_h: f32) -> LinePoint {
    LinePoint { p: Point { x: pt(x), y: pt(page_h - y) }, bezier: false }
}

fn ring(x: f32, y: f32, w: f32, h: f32, page_h: f32) -> PolygonRing {
    PolygonRing {
        points: vec![
            point(x, y, page_h),
            point(x + w, y, page_h),
            point(x + w, y + h, page_h),
            point(x, y + h, page_h),
        ],
    }
}

/// Turns laid-out pages into PDF bytes. Only the faces actually used are embedded, each subset to its glyphs.
pub(crate) fn render(title: &str, pages: Vec<Page>) -> Result<Vec<u8>, PrintError> {
    let fonts = Fonts::get()?;
    let mut doc = PdfDocument::new(&clean(title));
    let mut ids = BTreeMap::new();
    for page in &pages {
        for m in &page.marks {
            if let Mark::Text { face, .. } = m {
                if !ids.contains_key(face) {
                    ids.insert(*face, doc.add_font(fonts.parsed(*face)));
                }
            }
        }
    }
    let mut out = Vec::with_capacity(pages.len());
    for page in pages {
        let h = page.height;
        let mut ops = Vec::with_capacity(page.marks.len() * 4);
        for m in page.marks {
            match m {
                Mark::Text { x, y, size, face, text, color: c } => {
                    let Some(id) = ids.get(&face) else { continue };
                    ops.push(Op::StartTextSection);
                    ops.push(Op::SetFillColor { col: color(c) });
                    ops.push(Op::SetFont { font: PdfFontHandle::External(id.clone()), size: Pt(size) });
                    ops.push(Op::SetTextCursor { pos: Point { x: pt(x), y: pt(h - y) } });
                    ops.push(Op::ShowText { items: vec![TextItem::Text(text)] });
                    ops.push(Op::EndTextSection);
                }
                Mark::Rect { x, y, w, h: rh, fill, stroke } => {
                    let mode = match (fill, stroke) {
                        (Some(_), Some(_)) => PaintMode::FillStroke,
                        (Some(_), None) => PaintMode::Fill,
                        (None, Some(_)) => PaintMode::Stroke,
                        (None, None) => continue,
                    };
                    if let Some(f) = fill {
                        ops.push(Op::SetFillColor { col: color(f) });
                    }
                    if let Some((width, c)) = stroke {
                        ops.push(Op::SetOutlineColor { col: color(c) });
                        ops.push(Op::SetOutlineThickness { pt: pt(width) });
                    }
                    ops.push(Op::DrawPolygon {
                        polygon: Polygon {
                            rings: vec![ring(x, y, w, rh, h)],
                            mode,
                            winding_order: WindingOrder::NonZero,
                        },
                    });
                }
                Mark::Line { x1, y1, x2, y2, width, color: c } => {
                    ops.push(Op::SetOutlineColor { col: color(c) });
                    ops.push(Op::SetOutlineThickness { pt: pt(width) });
                    ops.push(Op::DrawLine {
                        line: Line { points: vec![point(x1, y1, h), point(x2, y2, h)], is_closed: false },
                    });
                }
                Mark::Cells(cells) => {
                    ops.push(Op::SetFillColor { col: color(BLACK) });
                    ops.push(Op::DrawPolygon {
                        polygon: Polygon {
                            rings: cells.into_iter().map(|(x, y, w, ch)| ring(x, y, w, ch, h)).collect(),
                            mode: PaintMode::Fill,
                            winding_order: WindingOrder::NonZero,
                        },
                    });
                }
            }
        }
        out.push(PdfPage::new(Mm(page.width), Mm(page.height), ops));
    }
    let mut warnings = Vec::new();
    doc.with_pages(out);
    let mut lo = doc.to_lopdf_document(&PdfSaveOptions { optimize: false, ..Default::default() }, &mut warnings);
    for object in lo.objects.values_mut() {
        if let lopdf::Object::Stream(stream) = object {
            if stream.dict.get(b"Filter").is_err() && stream.allows_compression {
                let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                if z.write_all(&stream.content).is_ok() {
                    if let Ok(packed) = z.finish() {
                        stream.dict.set("Filter", "FlateDecode");
                        stream.set_content(packed);
                    }
                }
            }
        }
    }
    let mut bytes = Vec::new();
    lo.save_to(&mut bytes).map_err(|_| PrintError::Pdf)?;
    if bytes.is_empty() {
        return Err(PrintError::Pdf);
    }
    Ok(bytes)
}

/// A fresh portrait or landscape A4 page.
pub(crate) fn a4(landscape: bool) -> Result<Page, PrintError> {
    if landscape {
        Page::new(A4_LONG, A4_SHORT)
    } else {
        Page::new(A4_SHORT, A4_LONG)
    }
}
