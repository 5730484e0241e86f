//! `dtk handover --patient MRN [--out FILE.pdf] [--record] [--json]`: a patient's shift handover sheet — last vitals,
//! doses given since the last handover and due in the next 12 hours, notes since the last handover, unsigned
//! entries — on the terminal, as JSON, or as a PDF; `--record` records the handover once the sheet is shown.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use dtk::api::{self, Workstation};
use dtk::clock::SystemClock;
use dtk::handover::Handover;

use super::{output, print_json, sign_in, Failure};

#[derive(Args)]
pub struct HandoverArgs {
    /// The patient's MRN (typed, or scanned from the wristband).
    #[arg(long, value_name = "MRN")]
    pub patient: String,
    /// Write the sheet as a PDF here instead of showing it.
    #[arg(long, value_name = "FILE.pdf")]
    pub out: Option<PathBuf>,
    /// Record that you handed the patient over now: the next sheet counts from here.
    #[arg(long)]
    pub record: bool,
}

pub fn run(ws: &mut Workstation, args: HandoverArgs, json: bool) -> Result<(), Failure> {
    let session = sign_in(ws)?;
    match &args.out {
        Some(out) => {
            let pdf = ws.print_handover(&session, &args.patient, &SystemClock)?;
            api::save_pdf(out, &pdf.bytes)?;
            let summary = serde_json::json!({ "file": out, "pages": pdf.pages, "bytes": pdf.bytes.len() });
            output(json, &summary, || format!("Wrote {} ({} pages).", out.display(), pdf.pages));
        }
        None => {
            let sheet = ws.handover(&session, &args.patient, &SystemClock)?;
            if json {
                print_json(&serde_json::to_value(&sheet).unwrap_or_default());
            } else {
                print_text(&sheet);
            }
        }
    }
    if args.record {
        let done = ws.record_handover(&session, &args.patient, &SystemClock)?;
        if !json {
            say!("Handover recorded at {} by {}.", short(&done.at), done.by);
        }
    }
    Ok(())
}

/// "2026-11-21T09:00:00-05:00" as "2026-11-21 09:00".
fn short(t: &str) -> String {
    t.get(..16).map_or_else(|| t.to_string(), |s| s.replacen('T', " ", 1))
}

fn print_text(h: &Handover) {
    say!("Handover of {} (MRN {}), {}", h.name, h.mrn, h.location.as_deref().unwrap_or("no location"));
    match &h.last_handover {
        Some(last) => {
            say!("{}since the last handover, {} by {}", if h.drill { "DRILL · " } else { "" }, short(&last.at), last.by)
        }
        None => say!(
            "{}no handover recorded: since the downtime began, {}",
            if h.drill { "DRILL · " } else { "" },
            short(&h.since)
        ),
    }
    let allergies: Vec<&str> = h.allergies.iter().map(|a| a.substance.as_str()).collect();
    say!(
        "Allergies: {}",
        if allergies.is_empty() { "none recorded in the census".into() } else { allergies.join("; ") }
    );
    say!();
    match &h.vitals {
        Some(v) => {
            say!("Last vitals ({}, {}):", short(&v.at), v.author);
            for a in &v.values {
                say!("  {}: {}", a.label, a.value);
            }
        }
        None => say!("Last vitals: none charted in this episode"),
    }
    say!();
    say!("Due until {}:", short(&h.due_until));
    if h.due.is_empty() {
        say!("  nothing");
    }
    for d in &h.due {
        let at = d.at.as_deref().map(short).unwrap_or_default();
        say!("  {at:<16}  {:<9}  {} — {}", d.status, d.medication, d.timing);
    }
    say!();
    say!("Given since {}:", short(&h.since));
    if h.given.is_empty() {
        say!("  nothing");
    }
    for d in &h.given {
        let what = if d.given {
            "given".to_string()
        } else {
            format!("not given ({})", d.reason.as_deref().unwrap_or("no reason"))
        };
        say!(
            "  {}  {} {what}{}",
            short(&d.at),
            d.medication,
            d.entry_id.as_deref().map(|e| format!(", entry {e}")).unwrap_or_default()
        );
    }
    say!();
    say!("Notes since {}:", short(&h.since));
    if h.notes.is_empty() {
        say!("  none");
    }
    for n in &h.notes {
        say!("  {}  {} ({}, entry {})", short(&n.at), n.form, n.author, n.entry_id);
        for line in n.text.lines() {
            say!("    {line}");
        }
    }
    say!();
    say!("Unsigned entries:");
    if h.unsigned.is_empty() {
        say!("  none");
    }
    for u in &h.unsigned {
        say!("  {} by {}, last saved {} (entry {})", u.form, u.author, short(&u.saved_at), u.entry_id);
    }
}
