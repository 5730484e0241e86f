//! What a printed page's QR code says: enough for HIM to match a paper form back to its form, patient, episode and
//! (for printed entries) the electronic entry, version and content. Printing writes it; reconciliation reads it.
//!
//! Format: `DTK1;form=<url|version>;sys=<MRN system>;mrn=<MRN>;ep=<episode id>;entry=<id>;v=<version>;h=<hash>;
//! unit=<unit>;ws=<workstation>;at=<printed at>;drill=1` with fields after `form` optional (codes printed before the
//! page identity fields existed lack `unit`, `ws` and `at`), values percent-encoded for `;`, `=`, `%`, space and control characters. It is text
//! rather than JSON because QR codes hold text compactly and a scanner wedge can type it.

use serde::{Deserialize, Serialize};

/// The leading tag and version of the format.
pub const TAG: &str = "DTK1";
/// Longest payload accepted (a QR code of this project never holds more).
pub const MAX_LEN: usize = 1024;
/// What the `form` of every printed sheet and report that is not a Questionnaire starts with.
pub const SHEET_BASE: &str = "http://downtimekit.example.org/print/";
/// The `form` a downtime MAR page's QR code names: not a Questionnaire, HIM back-enters it dose by dose.
pub const MAR_FORM: &str = "http://downtimekit.example.org/print/downtime-mar|1";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// Canonical `url|version` of the form.
    pub form: String,
    pub mrn_system: Option<String>,
    pub mrn: Option<String>,
    pub episode: Option<String>,
    pub entry: Option<String>,
    pub version: Option<i64>,
    /// First 16 hex characters of the version's content hash.
    pub hash: Option<String>,
    /// The unit the page was printed for, the workstation that printed it and when (RFC 3339, to the minute): the
    /// page's identity when it names no episode (blank forms printed ahead) or one HIM never received (a dead PC).
    pub unit: Option<String>,
    pub workstation: Option<String>,
    pub printed_at: Option<String>,
    /// Printed in a practice episode: refused even when that episode never reaches HIM.
    pub drill: bool,
}

/// Why a scanned payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    #[error("not a Downtime Kit code (it does not start with {TAG})")]
    NotOurs,
    #[error("the code is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("the code's field '{0}' is malformed")]
    Field(String),
    #[error("the code names no form")]
    NoForm,
    /// A field given twice: the two values may disagree, and which one the printer meant is unknown.
    #[error("the code gives the field '{0}' twice")]
    Repeated(String),
}

fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            // Spaces are encoded too: scanners and the parser trim the text, which would eat a value's trailing space.
            ';' | '=' | '%' | ' ' => out.push_str(&format!("%{:02X}", c as u32)),
            // So is every other character `trim` removes (U+2028 LINE SEPARATOR, no-break space…), byte by byte.
            c if c.is_control() || c.is_whitespace() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn decode(field: &str, v: &str) -> Result<String, PayloadError> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = v.get(i + 1..i + 3).ok_or_else(|| PayloadError::Field(field.into()))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| PayloadError::Field(field.into()))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let s = String::from_utf8(out).map_err(|_| PayloadError::Field(field.into()))?;
    if s.chars().any(|c| c.is_control() || crate::forms::is_bidi_control(c)) {
        return Err(PayloadError::Field(field.into()));
    }
    Ok(s)
}

impl Payload {
    /// The text to put in the QR code.
    pub fn to_text(&self) -> String {
        let mut s = format!("{TAG};form={}", encode(&self.form));
        let mut add = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                s.push_str(&format!(";{k}={}", encode(v)));
            }
        };
        add("sys", &self.mrn_system);
        add("mrn", &self.mrn);
        add("ep", &self.episode);
        add("entry", &self.entry);
        add("v", &self.version.map(|v| v.to_string()));
        add("h", &self.hash);
        add("unit", &self.unit);
        add("ws", &self.workstation);
        add("at", &self.printed_at);
        if self.drill {
            s.push_str(";drill=1");
        }
        s
    }

    /// The page's identity in words, for the worklist, the reconciliation report and the FHIR Provenance: which
    /// form, printed when, where and in which episode (only what the code carries; it names no patient).
    pub fn page_label(&self) -> String {
        let (url, version) = self.form.split_once('|').unwrap_or((&self.form, ""));
        let name = url.rsplit('/').next().unwrap_or(url);
        let mut out = format!("{name}{}", if version.is_empty() { String::new() } else { format!(" v{version}") });
        if let Some(at) = &self.printed_at {
            out.push_str(&format!(", printed {at}"));
        }
        if let Some(ws) = &self.workstation {
            out.push_str(&format!(" on {ws}"));
        }
        if let Some(unit) = &self.unit {
            out.push_str(&format!(" ({unit})"));
        }
        match &self.episode {
            Some(ep) => out.push_str(&format!(", episode {ep}")),
            None => out.push_str(", printed before any episode"),
        }
        if let Some(entry) = &self.entry {
            out.push_str(&format!(", entry {entry}"));
        }
        out
    }

    /// Reads a scanned payload. Unknown fields are ignored so that later versions can add some.
    pub fn parse(text: &str) -> Result<Payload, PayloadError> {
        let text = text.trim();
        if text.len() > MAX_LEN {
            return Err(PayloadError::TooLong);
        }
        let mut parts = text.split(';');
        if parts.next() != Some(TAG) {
            return Err(PayloadError::NotOurs);
        }
        let mut p = Payload::default();
        let mut seen: Vec<&str> = Vec::new();
        for part in parts {
            let (k, v) = part.split_once('=').ok_or_else(|| PayloadError::Field(part.chars().take(16).collect()))?;
            if seen.contains(&k) {
                return Err(PayloadError::Repeated(k.chars().filter(|c| !c.is_control()).take(16).collect()));
            }
            seen.push(k);
            let v = decode(k, v)?;
            match k {
                "form" => p.form = v,
                "sys" => p.mrn_system = Some(v),
                "mrn" => p.mrn = Some(v),
                "ep" => p.episode = Some(v),
                "entry" => p.entry = Some(v),
                "v" => p.version = Some(v.parse().map_err(|_| PayloadError::Field("v".into()))?),
                "h" => p.hash = Some(v),
                "unit" => p.unit = Some(v),
                "ws" => p.workstation = Some(v),
                "at" => p.printed_at = Some(v),
                "drill" => p.drill = v == "1",
                _ => {}
            }
        }
        if p.form.is_empty() {
            return Err(PayloadError::NoForm);
        }
        Ok(p)
    }
}

/// The page identity of a stored QR text ([`Payload::page_label`]), or a plain note when the text no longer parses.
pub fn page_label(qr: Option<&str>) -> String {
    match qr.map(Payload::parse) {
        Some(Ok(p)) => p.page_label(),
        Some(Err(_)) => "page code unreadable".to_string(),
        None => "page code not recorded".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_refuses_garbage() {
        let p = Payload {
            form: "http://downtimekit.example.org/fhir/Questionnaire/vital-signs|1.0.0".into(),
            mrn_system: Some("http://hospital.example.org/mrn".into()),
            mrn: Some("DEV;2001=%".into()),
            episode: Some("ep-1".into()),
            entry: Some("6d36ab97-6dfa-548b-a698-fca1bc1aba2f".into()),
            version: Some(2),
            hash: Some("0123456789abcdef".into()),
            unit: Some("5 East".into()),
            workstation: Some("T5A-1".into()),
            printed_at: Some("2026-11-21T15:15:00Z".into()),
            drill: true,
        };
        assert_eq!(Payload::parse(&p.to_text()), Ok(p.clone()));
        assert_eq!(
            p.page_label(),
            "vital-signs v1.0.0, printed 2026-11-21T15:15:00Z on T5A-1 (5 East), episode ep-1, entry 6d36ab97-6dfa-548b-a698-fca1bc1aba2f"
        );
        assert_eq!(Payload::parse("hello"), Err(PayloadError::NotOurs));
        assert_eq!(Payload::parse("DTK1;mrn=1"), Err(PayloadError::NoForm));
        assert_eq!(Payload::parse("DTK1;form=x;v=two"), Err(PayloadError::Field("v".into())));
        assert_eq!(
            Payload::parse("DTK1;form=%E2%80%AE"),
            Err(PayloadError::Field("form".into())),
            "bidi override refused"
        );
        assert!(matches!(Payload::parse(&"x".repeat(2000)), Err(PayloadError::TooLong)));
    }

    /// Found by the `paper_payload` fuzz target: `ep` given twice parsed, the second value silently replacing the
    /// first, so the payload did not round-trip. Any field given twice, known or not, is refused by name.
    #[test]
    fn regression_fuzz_repeated_field_refused() {
        assert_eq!(Payload::parse("DTK1;form=f;ep=a;ep=b"), Err(PayloadError::Repeated("ep".into())));
        assert_eq!(Payload::parse("DTK1;form=f;form=g"), Err(PayloadError::Repeated("form".into())));
        assert_eq!(Payload::parse("DTK1;form=f;zz=1;zz=2"), Err(PayloadError::Repeated("zz".into())));
        assert_eq!(PayloadError::Repeated("ep".into()).to_string(), "the code gives the field 'ep' twice");
        assert!(Payload::parse("DTK1;form=f;ep=a;entry=b").is_ok());
    }

    /// Found by `scripts/fuzz.sh 60` (fuzz/regressions/paper_payload-trailing-line-separator): a form ending in
    /// U+2028 was printed unencoded at the end of the code, and reading it back trimmed it away.
    #[test]
    fn regression_fuzz_trailing_unicode_whitespace_round_trips() {
        for ws in ['\u{2028}', '\u{a0}', '\u{3000}'] {
            let p = Payload { form: format!("f{ws}{ws}"), ..Payload::default() };
            assert!(!p.to_text().ends_with(ws), "{ws:?} is encoded");
            assert_eq!(Payload::parse(&p.to_text()), Ok(p));
        }
    }

    /// Found by the `paper_payload` fuzz target: a value ending in a space did not survive a round trip.
    #[test]
    fn regression_fuzz_trailing_space_round_trips() {
        let p = Payload::parse("DTK1;form=.0;sys=h ;s1xrm=").expect("parses");
        assert_eq!(p.mrn_system.as_deref(), Some("h "));
        assert_eq!(Payload::parse(&p.to_text()), Ok(p));
    }
}
