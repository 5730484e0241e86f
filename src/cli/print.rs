//! `dtk print`: paper (blank forms, filled entries, the downtime MAR, the census sheet) as PDF, and reading back
//! the QR code of a scanned page.

use std::path::PathBuf;

use clap::Subcommand;
use dtk::api::{self, Workstation};
use dtk::clock::SystemClock;

use super::{failed, output, sign_in, Failure};

#[derive(Subcommand)]
pub enum PrintCmd {
    /// Blank form: unlabelled, for one patient, or for every patient of the unit (--census, charge nurse).
    Blank {
        /// Canonical url|version, bare url, or short name such as vital-signs.
        #[arg(long)]
        form: String,
        #[arg(long, value_name = "MRN", conflicts_with = "census")]
        patient: Option<String>,
        #[arg(long)]
        census: bool,
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
    },
    /// A filled entry for the paper chart.
    Entry {
        id: String,
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
    },
    /// The downtime MAR for the unit (charge nurse).
    Mar {
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
    },
    /// The unit census sheet (charge nurse).
    Census {
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
    },
    /// Read the QR code of a scanned page (PNG, JPEG, or a PDF page via pdftoppm).
    Read {
        file: PathBuf,
        #[arg(long, default_value_t = 1)]
        page: u32,
    },
}

pub fn run(ws: &mut Workstation, cmd: PrintCmd, json: bool) -> Result<(), Failure> {
    if let PrintCmd::Read { file, page } = &cmd {
        let payload = dtk::print::read::read_file(file, *page).map_err(|e| failed(e.to_string()))?;
        output(json, &payload, || payload.to_text());
        return Ok(());
    }
    let clock = SystemClock;
    let session = sign_in(ws)?;
    // Large batches report progress on stderr (the desktop app shows a bar from the same callback).
    let mut progress = |p: dtk::print::Progress| {
        if !json && p.total > 1 && (p.done % 25 == 0 || p.done == p.total) {
            eprintln!("laid out {}/{} patients", p.done, p.total);
        }
    };
    let (pdf, out) = match cmd {
        PrintCmd::Blank { form, patient, census, out } => {
            let target = match (&patient, census) {
                (Some(mrn), _) => api::BlankFor::Patient(mrn),
                (None, true) => api::BlankFor::Census,
                (None, false) => api::BlankFor::Nobody,
            };
            (ws.print_blank(&session, &form, target, &clock, &mut progress)?, out)
        }
        PrintCmd::Entry { id, out } => (ws.print_entry(&session, &id, &clock)?, out),
        PrintCmd::Mar { out } => (ws.print_mar(&session, &clock, &mut progress)?, out),
        PrintCmd::Census { out } => (ws.print_census(&session, &clock)?, out),
        PrintCmd::Read { .. } => return Ok(()),
    };
    api::save_pdf(&out, &pdf.bytes)?;
    let summary = serde_json::json!({ "file": out, "pages": pdf.pages, "bytes": pdf.bytes.len() });
    output(json, &summary, || format!("Wrote {} ({} pages).", out.display(), pdf.pages));
    Ok(())
}
