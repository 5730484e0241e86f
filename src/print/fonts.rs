//! The fonts embedded in every PDF, and the text measuring and wrapping that printpdf leaves to us.
//!
//! DejaVu Sans (regular and bold) covers Latin, Greek and Cyrillic names such as "Łukasz Müller-Øster"; NanumGothic
//! covers Hangul. Each character is drawn in the first face that has a glyph for it, so a run of text is split into
//! pieces per face ([`runs`]); measuring follows the same rule so that what we measure is what gets drawn.

use std::sync::OnceLock;

use printpdf::ParsedFont;

use super::page::PrintError;

const DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const DEJAVU_SANS_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
const NANUM_GOTHIC: &[u8] = include_bytes!("../../assets/fonts/NanumGothic.ttf");

/// The weight a caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

/// The face a piece of text is actually drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Face {
    Regular,
    Bold,
    /// The Hangul fallback (one weight: bold Hangul is drawn regular, which is still legible).
    Hangul,
}

pub(crate) struct Fonts {
    regular: ParsedFont,
    bold: ParsedFont,
    hangul: ParsedFont,
}

/// Parsing a font takes milliseconds and the bytes never change, so it happens once per process.
static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();

fn parse(bytes: &[u8]) -> Option<ParsedFont> {
    ParsedFont::from_bytes(bytes, 0, &mut Vec::new())
}

impl Fonts {
    /// The embedded fonts, parsed.
    pub(crate) fn get() -> Result<&'static Fonts, PrintError> {
        FONTS
            .get_or_init(|| {
                Some(Fonts {
                    regular: parse(DEJAVU_SANS)?,
                    bold: parse(DEJAVU_SANS_BOLD)?,
                    hangul: parse(NANUM_GOTHIC)?,
                })
            })
            .as_ref()
            .ok_or(PrintError::Font)
    }

    pub(crate) fn parsed(&self, face: Face) -> &ParsedFont {
        match face {
            Face::Regular => &self.regular,
            Face::Bold => &self.bold,
            Face::Hangul => &self.hangul,
        }
    }

    fn has(&self, face: Face, c: char) -> bool {
        self.parsed(face).lookup_glyph_index(c as u32).is_some_and(|g| g != 0)
    }

    /// The face that draws `c` for the wanted weight.
    pub(crate) fn face_for(&self, weight: Weight, c: char) -> Face {
        let primary = match weight {
            Weight::Regular => Face::Regular,
            Weight::Bold => Face::Bold,
        };
        if c.is_ascii() || self.has(primary, c) {
            primary
        } else if self.has(Face::Hangul, c) {
            Face::Hangul
        } else {
            primary
        }
    }

    /// Width of one character in millimetres at `size` points.
    fn char_width(&self, face: Face, c: char, size: f32) -> f32 {
        let font = self.parsed(face);
        let upem = f32::from(font.font_metrics.units_per_em.max(1));
        let advance =
            font.lookup_glyph_index(c as u32).map_or(upem * 0.6, |g| f32::from(font.get_horizontal_advance(g)));
        advance / upem * size * super::page::MM_PER_PT
    }

    /// Width of `text` in millimetres at `size` points.
    pub(crate) fn width(&self, text: &str, weight: Weight, size: f32) -> f32 {
        text.chars().map(|c| self.char_width(self.face_for(weight, c), c, size)).sum()
    }

    /// Splits `text` into pieces drawn in one face each.
    pub(crate) fn runs(&self, text: &str, weight: Weight) -> Vec<(Face, String)> {
        let mut out: Vec<(Face, String)> = Vec::new();
        for c in text.chars() {
            let face = self.face_for(weight, c);
            match out.last_mut() {
                Some((f, s)) if *f == face => s.push(c),
                _ => out.push((face, c.to_string())),
            }
        }
        out
    }

    /// Shortens `text` with an ellipsis until it fits `max_width` millimetres.
    pub(crate) fn fit(&self, text: &str, weight: Weight, size: f32, max_width: f32) -> String {
        if self.width(text, weight, size) <= max_width {
            return text.to_string();
        }
        let ellipsis = self.width("…", weight, size);
        let mut out = String::new();
        let mut used = 0.0;
        for c in text.chars() {
            let w = self.char_width(self.face_for(weight, c), c, size);
            if used + w + ellipsis > max_width {
                break;
            }
            used += w;
            out.push(c);
        }
        out.push('…');
        out
    }

    /// Breaks `text` into lines no wider than `max_width` millimetres: at spaces where it can, inside a word when a
    /// single word is wider than the line (a long hyphenless name or an identifier).
    pub(crate) fn wrap(&self, text: &str, weight: Weight, size: f32, max_width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            let mut line_w = 0.0;
            let space = self.width(" ", weight, size);
            // Break opportunities: spaces, and after a hyphen (double-barrelled names break there, not mid-word).
            let mut tokens: Vec<(bool, &str)> = Vec::new();
            for word in paragraph.split_whitespace() {
                let mut first = true;
                for piece in word.split_inclusive('-') {
                    tokens.push((first, piece));
                    first = false;
                }
            }
            for (spaced, word) in tokens {
                let word_w = self.width(word, weight, size);
                let gap = if spaced { space } else { 0.0 };
                if !line.is_empty() && line_w + gap + word_w <= max_width {
                    if spaced {
                        line.push(' ');
                    }
                    line.push_str(word);
                    line_w += gap + word_w;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line_w = 0.0;
                }
                if word_w <= max_width {
                    line.push_str(word);
                    line_w = word_w;
                    continue;
                }
                // A word wider than the line: cut it where it no longer fits.
                for c in word.chars() {
                    let w = self.char_width(self.face_for(weight, c), c, size);
                    if !line.is_empty() && line_w + w > max_width {
                        lines.push(std::mem::take(&mut line));
                        line_w = 0.0;
                    }
                    line.push(c);
                    line_w += w;
                }
            }
            lines.push(line);
        }
        lines
    }
}

/// What may be drawn: control and bidirectional-override characters (which could reorder a name or a dose on paper)
/// become spaces or disappear.
pub(crate) fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !crate::forms::is_bidi_control(*c))
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_within_the_width_and_breaks_long_words() {
        let f = Fonts::get().expect("fonts");
        let long = "Łukasz Müller-Øster-Wiśniewska-Kowalczyk-Zielińska-Szczepańska-Dąbrowska 김민준";
        for width in [20.0, 35.0, 80.0] {
            let lines = f.wrap(long, Weight::Bold, 12.0, width);
            assert!(lines.len() > 1 || width > 60.0);
            for l in &lines {
                assert!(f.width(l, Weight::Bold, 12.0) <= width + 0.01, "{l} is wider than {width} mm");
            }
            assert_eq!(lines.concat().replace(' ', ""), long.replace(' ', ""), "nothing is lost");
        }
        let fitted = f.fit(long, Weight::Regular, 10.0, 30.0);
        assert!(fitted.ends_with('…') && f.width(&fitted, Weight::Regular, 10.0) <= 30.0);
    }

    #[test]
    fn hangul_falls_back_to_nanum() {
        let f = Fonts::get().expect("fonts");
        let runs = f.runs("Kim 김민준", Weight::Regular);
        assert_eq!(runs, vec![(Face::Regular, "Kim ".to_string()), (Face::Hangul, "김민준".to_string())]);
        assert_eq!(clean("A\u{202E}B\tC"), "AB C");
    }
}
