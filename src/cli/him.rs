//! The `dtk handoff` and `dtk reconcile` commands (docs/design.md "The command line (dtk)"): the workstation's handoff export and
//! everything HIM does after recovery. Names and flags are kept stable for scripts.

use std::path::PathBuf;

use clap::Subcommand;
use dtk::api::{ApiError, Assignment, ErrorCode, PaperAnswers, WorklistQuery, Workstation};
use dtk::clock::SystemClock;
use dtk::reconcile::State;

use super::{failed, output, print_json, read_input, read_response, sign_in, usage, Failure};

#[derive(Subcommand)]
pub enum HandoffCmd {
    /// HIM station: create its handoff key pair (once) and print the public key for every workstation's site.json.
    Keygen,
    /// Workstation: write the episode's handoff file, encrypted for the HIM station and signed (charge nurse/admin).
    Export {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The episode (default: the newest one).
        #[arg(long, value_name = "ID")]
        episode: Option<String>,
        /// Export although entries of the episode are still unsigned: they stay on this workstation (drafts never
        /// leave it), the file tells HIM how many per author, and the confirmation is kept in the audit log.
        #[arg(long)]
        include_unsigned_count_ok: bool,
    },
    /// HIM station: verify and import handoff files (importing one twice adds nothing).
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// HIM station: import a unit share's copy (its folder of workstation folders): the entries of a workstation
    /// that cannot hand off reach HIM from the segments its peers hold. A segment imported before, or an entry its
    /// handoff file brings too, adds nothing twice. Exit 1 when a segment was refused or is missing (named).
    ImportShare { dir: PathBuf },
}

#[derive(Subcommand)]
pub enum ReconcileCmd {
    /// The worklist, a page at a time.
    List {
        /// pending, matched, accepted, duplicate, rejected, needs-correction, exported, posted, refused,
        /// entered-by-hand.
        #[arg(long, value_parser = parse_state)]
        status: Option<State>,
        #[arg(long, value_name = "MRN")]
        patient: Option<String>,
        #[arg(long)]
        form: Option<String>,
        #[arg(long)]
        workstation: Option<String>,
        #[arg(long)]
        episode: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
    /// Counts per state and what is still open.
    Summary,
    /// Match a downtime registration (temporary MRN) to the real EHR MRN; every entry of the patient follows.
    Match {
        id: String,
        #[arg(long)]
        mrn: String,
    },
    /// Accept entries, or every matched entry without an open duplicate proposal.
    Accept {
        #[arg(required_unless_present = "all_matched", conflicts_with = "all_matched")]
        ids: Vec<String>,
        #[arg(long)]
        all_matched: bool,
    },
    /// Reject an entry (it is never exported).
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Send entries the EHR refused again (after fixing what it refused): they go back to accepted, and the next
    /// `dtk export fhir --out FILE` takes them.
    Repost {
        #[arg(required = true)]
        ids: Vec<String>,
        /// What was fixed (kept in the audit log).
        #[arg(long)]
        note: Option<String>,
    },
    /// Record that an entry the EHR refused was entered by hand in the EHR: who, when (RFC 3339), where.
    EnteredByHand {
        id: String,
        #[arg(long, value_name = "NAME")]
        by: String,
        /// When it was entered, with seconds and offset (2026-11-21T14:05:00-05:00).
        #[arg(long, value_name = "TIME")]
        at: String,
        /// Where in the EHR (screen, note, order).
        #[arg(long = "where", value_name = "TEXT")]
        place: String,
    },
    /// Record that an entry duplicates another (which is kept).
    Duplicate {
        id: String,
        #[arg(long, value_name = "ID")]
        of: String,
    },
    /// Dismiss a duplicate proposal: two different events.
    Dismiss {
        id: String,
        #[arg(long, value_name = "ID")]
        of: String,
        #[arg(long)]
        reason: String,
    },
    /// Flag an entry as needing correction.
    Correct {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Duplicate proposals (open ones; --all with their answers).
    Duplicates {
        #[arg(long)]
        all: bool,
    },
    /// Two entries side by side (JSON).
    Compare { id: String, other: String },
    /// Back-enter a scanned paper page: the scan (or its QR payload), then either a form's typed response and the
    /// nurse named on the paper, or a downtime MAR page's initialled doses (one entry per dose). Paper whose episode
    /// is missing (printed before any episode, or from a workstation whose handoff file never arrived) is assigned
    /// with --episode or --paper-episode.
    Paper {
        /// The scanned page (PNG, JPEG or PDF); its QR code names the form, the patient and the episode.
        #[arg(long, value_name = "FILE", required_unless_present = "qr", conflicts_with = "qr")]
        scan: Option<PathBuf>,
        /// Page of a scanned PDF (1-based).
        #[arg(long, default_value_t = 1, requires = "scan")]
        page: u32,
        /// The QR payload as text (from a hand-held scanner), instead of --scan.
        #[arg(long, value_name = "TEXT")]
        qr: Option<String>,
        /// A form page: the QuestionnaireResponse typed from it.
        #[arg(long, value_name = "FILE", required_unless_present = "doses", conflicts_with = "doses")]
        response: Option<PathBuf>,
        /// A form page: the nurse named on the paper.
        #[arg(long, value_name = "NAME", required_unless_present = "doses", conflicts_with = "doses")]
        author: Option<String>,
        /// A form page of a form with no item for the clinical time: what is written in its "When did this
        /// happen?" box, YYYY-MM-DDThh:mm:ss with the UTC offset.
        #[arg(long, value_name = "DATETIME", conflicts_with = "doses")]
        clinical_time: Option<String>,
        /// A downtime MAR page: a JSON list of the initialled doses read from it, each
        /// {"medication", "dose", "route", "time", "initials"[, "name"]}.
        #[arg(long, value_name = "FILE")]
        doses: Option<PathBuf>,
        /// Put the page into this episode on the station (one of the page's unit) when its own is missing.
        #[arg(long, value_name = "ID", conflicts_with = "paper_episode")]
        episode: Option<String>,
        /// Create a paper-only episode for this unit and put the page into it (then use --episode with its id for
        /// the unit's other pages).
        #[arg(long, value_name = "UNIT")]
        paper_episode: Option<String>,
        /// With --paper-episode: the period the paper covers, START/END in RFC 3339 (default: from when the page was
        /// printed to now).
        #[arg(long, value_name = "START/END", requires = "paper_episode")]
        period: Option<String>,
    },
    /// The reconciliation report (JSON with --json; CSV to a file with --csv; PDF to a file with --pdf).
    Report {
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        pdf: Option<PathBuf>,
    },
}

fn parse_state(s: &str) -> Result<State, String> {
    State::parse(s).ok_or_else(|| {
        let names: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

pub fn handoff(ws: &mut Workstation, cmd: HandoffCmd, json: bool) -> Result<(), Failure> {
    let clock = SystemClock;
    let session = sign_in(ws)?;
    match cmd {
        HandoffCmd::Keygen => {
            let k = ws.handoff_keygen(&session, &clock)?;
            output(json, &k, || {
                format!(
                    "{}HIM handoff key (fingerprint {}).\nPut this line in every workstation's site configuration:\n  \"him_public_key\": \"{}\"",
                    if k.created { "Created the " } else { "This station already has its " },
                    k.fingerprint,
                    k.public_key
                )
            });
        }
        HandoffCmd::Export { out, episode, include_unsigned_count_ok } => {
            let s = ws.export_handoff(&session, &out, episode.as_deref(), include_unsigned_count_ok, &clock).map_err(
                |e| match e.code {
                    ErrorCode::UnsignedEntries => Failure::from(ApiError {
                        message: format!(
                            "{}.\nList them with `dtk episode unsigned`; to export without them, run the export again \
                             with --include-unsigned-count-ok (recorded in the audit log)",
                            e.message
                        ),
                        ..e
                    }),
                    _ => Failure::from(e),
                },
            )?;
            output(json, &s, || {
                let mut t = format!(
                    "Handoff file #{} written to {}: {} entries ({} versions), {} registrations, {} audit rows.\nSigning key fingerprint (HIM compares it at import): {}\nSHA-256 {}",
                    s.sequence, out.display(), s.entries, s.versions, s.registrations, s.audit_rows, s.signer_fingerprint, s.file_sha256
                );
                let left: u64 = s.unsigned.iter().map(|c| c.entries).sum();
                if left > 0 {
                    t.push_str(&format!(
                        "\nLeft on this workstation, unsigned (confirmed): {left} entries ({}); the file tells HIM.",
                        dtk::handoff::by_author(&s.unsigned)
                    ));
                }
                t
            });
        }
        HandoffCmd::Import { files } => {
            let mut reports = Vec::new();
            for f in &files {
                let r = ws
                    .import_handoff_file(&session, f, &clock)
                    .map_err(|e| Failure::from(ApiError { message: format!("{}: {}", f.display(), e.message), ..e }))?;
                if !json {
                    if r.already_imported {
                        println!(
                            "{}: already imported (file #{} of workstation {}); nothing added.",
                            f.display(),
                            r.sequence,
                            r.workstation
                        );
                    } else {
                        println!(
                            "{}: file #{} of workstation {} (signing key {}): {} new entries, {} new versions ({} already here), {} registrations, {} audit rows, {} pending a match, {} duplicate proposals.",
                            f.display(), r.sequence, r.workstation, r.signer_fingerprint, r.new_entries, r.new_versions,
                            r.unchanged_versions, r.new_patients, r.new_audit_rows, r.pending, r.duplicate_proposals
                        );
                    }
                    println!("{}", unsigned_line(&r));
                    for c in &r.conflicts {
                        eprintln!("CONFLICT entry {} version {}: content differs from the version imported earlier; not merged", c.entry_id, c.version);
                    }
                }
                reports.push(r);
            }
            if json {
                print_json(&serde_json::to_value(&reports).unwrap_or_default());
            }
        }
        HandoffCmd::ImportShare { dir } => {
            let done = ws.import_unit_share(&session, &dir, &clock)?;
            let only = ws.share_only(&session)?;
            let both = serde_json::json!({ "import": done, "share_only": only });
            output(json, &both, || {
                let mut lines = Vec::new();
                for w in &done.workstations {
                    lines.push(format!(
                        "WS {}: {} segment(s): {} new entries, {} new versions ({} already here), {} registrations, {} audit rows, {} pending a match, {} duplicate proposals{}.",
                        w.label, w.segments, w.new_entries, w.new_versions, w.unchanged_versions, w.new_patients,
                        w.new_audit_rows, w.pending, w.duplicate_proposals,
                        if w.drill_entries > 0 { format!(", {} drill entries skipped", w.drill_entries) } else { String::new() }
                    ));
                    lines.extend(w.conflicts.iter().map(|c| {
                        format!("CONFLICT entry {c}: content differs from the version imported earlier; not merged")
                    }));
                }
                if done.workstations.is_empty() {
                    lines.push(format!("nothing new in {}", dir.display()));
                }
                lines.extend(only.iter().map(|o| o.message.clone()));
                lines.join("\n")
            });
            if !done.problems.is_empty() {
                return Err(failed(
                    done.problems.iter().map(|p| format!("refused or waiting: {p}")).collect::<Vec<_>>().join("\n"),
                ));
            }
        }
    }
    Ok(())
}

/// "workstation X left N unsigned entries (by author)": what HIM must know is still on a workstation.
fn unsigned_line(r: &dtk::handoff::ImportReport) -> String {
    match (&r.unsigned, r.unsigned_total()) {
        (Some(list), Some(n)) if n > 0 => format!(
            "  Workstation {} left {n} unsigned entries ({}): they are not in this file; ask the unit to sign them \
             and export again.",
            r.workstation,
            dtk::handoff::by_author(list)
        ),
        (Some(_), _) => format!("  Workstation {} left 0 unsigned entries.", r.workstation),
        (None, _) => format!(
            "  Workstation {} did not say how many unsigned entries it left (a file from an older Downtime Kit).",
            r.workstation
        ),
    }
}

pub fn reconcile(ws: &mut Workstation, cmd: ReconcileCmd, json: bool) -> Result<(), Failure> {
    let clock = SystemClock;
    let session = sign_in(ws)?;
    match cmd {
        ReconcileCmd::List { status, patient, form, workstation, episode, limit, offset } => {
            let q =
                WorklistQuery { state: status, mrn: patient, form, workstation, episode, status: None, limit, offset };
            let page = ws.worklist(&session, &q)?;
            if json {
                print_json(&serde_json::to_value(&page).unwrap_or_default());
            } else {
                for i in &page.items {
                    println!(
                        "{}  {:<16} {:<28} DOB {:<10} MRN {:<12} {:<25} {:<24} {}{}",
                        i.entry_id,
                        i.state.as_str(),
                        i.patient.name,
                        i.patient.birth_date.as_deref().unwrap_or("unknown"),
                        i.matched_mrn.as_deref().unwrap_or(&i.patient.mrn),
                        i.clinical_time.as_deref().unwrap_or("-"),
                        i.form.rsplit('/').next().unwrap_or(&i.form),
                        i.author,
                        if i.proposed_duplicates.is_empty() {
                            String::new()
                        } else {
                            format!("  POSSIBLE DUPLICATE of {}", i.proposed_duplicates.join(", "))
                        }
                    );
                    if let Some(page) = &i.paper_page {
                        println!("    from paper, page {page}");
                    }
                }
                eprintln!("{} of {} entries (from {}).", page.items.len(), page.total, page.offset);
            }
        }
        ReconcileCmd::Summary => {
            let s = ws.reconcile_summary(&session)?;
            output(json, &s, || {
                let counts: Vec<String> = s.by_state.iter().map(|(k, v)| format!("{k} {v}")).collect();
                let refused = s.by_state.get(State::Refused.as_str()).copied().unwrap_or(0);
                format!(
                    "{} entries: {}.\nRefused by the EHR: {refused} (each needs a decision: reconcile repost, \
                     entered-by-hand or reject).\nStill open: {}; duplicate proposals to decide: {}; version \
                     conflicts: {}.\n{}",
                    s.total,
                    counts.join(", "),
                    s.open,
                    s.open_duplicate_proposals,
                    s.conflicts,
                    verified_line(&s)
                )
            });
        }
        ReconcileCmd::Match { id, mrn } => {
            let ids = ws.match_patient(&session, &id, &mrn, &clock)?;
            output(json, &ids, || format!("Matched {} entries of the patient to MRN {mrn}.", ids.len()));
        }
        ReconcileCmd::Accept { ids, all_matched } => {
            let n =
                if all_matched { ws.accept_all_matched(&session, &clock)? } else { ws.accept(&session, &ids, &clock)? };
            output(json, &serde_json::json!({ "accepted": n }), || format!("Accepted {n} entries."));
        }
        ReconcileCmd::Reject { id, reason } => {
            ws.reject(&session, &id, &reason, &clock)?;
            output(json, &serde_json::json!({ "rejected": id }), || format!("Rejected {id}."));
        }
        ReconcileCmd::Repost { ids, note } => {
            let n = ws.repost(&session, &ids, note.as_deref(), &clock)?;
            output(json, &serde_json::json!({ "reposted": n }), || {
                format!("{n} entries are accepted again; the next `dtk export fhir --out FILE` sends them.")
            });
        }
        ReconcileCmd::EnteredByHand { id, by, at, place } => {
            ws.entered_by_hand(&session, &id, &dtk::api::HandEntry { by, at, place }, &clock)?;
            output(json, &serde_json::json!({ "entered_by_hand": id }), || {
                format!("{id} is recorded as entered by hand in the EHR.")
            });
        }
        ReconcileCmd::Duplicate { id, of } => {
            ws.mark_duplicate(&session, &id, &of, &clock)?;
            output(json, &serde_json::json!({ "duplicate": id, "of": of }), || format!("{id} is a duplicate of {of}."));
        }
        ReconcileCmd::Dismiss { id, of, reason } => {
            ws.dismiss_duplicate(&session, &id, &of, &reason, &clock)?;
            output(json, &serde_json::json!({ "dismissed": [id, of] }), || {
                format!("Dismissed: {id} and {of} are different events.")
            });
        }
        ReconcileCmd::Correct { id, reason } => {
            ws.needs_correction(&session, &id, &reason, &clock)?;
            output(json, &serde_json::json!({ "needs_correction": id }), || format!("{id} needs correction."));
        }
        ReconcileCmd::Duplicates { all } => {
            let list = ws.duplicate_proposals(&session, !all)?;
            output(json, &list, || {
                list.iter()
                    .map(|p| format!("{}  {}  {}", p.entry_id, p.other_id, p.status))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        ReconcileCmd::Compare { id, other } => {
            let view = ws.side_by_side(&session, &id, &other, &clock)?;
            print_json(&serde_json::to_value(&view).unwrap_or_default());
        }
        ReconcileCmd::Paper {
            scan,
            page,
            qr,
            response,
            author,
            clinical_time,
            doses,
            episode,
            paper_episode,
            period,
        } => {
            let answers = match (response, author, doses) {
                (_, _, Some(file)) => {
                    let bytes = read_input(&file, dtk::forms::MAX_BYTES)?;
                    let doses: Vec<dtk::api::Dose> = serde_json::from_slice(&bytes)
                        .map_err(|e| failed(format!("{}: not a JSON list of doses: {e}", file.display())))?;
                    PaperAnswers::Mar(doses)
                }
                (Some(file), Some(author), None) => {
                    PaperAnswers::Form { response: read_response(&file)?, author, clinical_time }
                }
                _ => return Err(usage("give --response FILE and --author NAME, or --doses FILE")),
            };
            let assignment = match (episode, paper_episode) {
                (Some(id), _) => Assignment::Episode(id),
                (None, Some(unit)) => {
                    let period = match period {
                        Some(p) => {
                            let (start, end) = p.split_once('/').ok_or_else(|| usage("--period: give START/END"))?;
                            Some((start.to_string(), end.to_string()))
                        }
                        None => None,
                    };
                    Assignment::PaperOnly { unit, period }
                }
                (None, None) => Assignment::FromQr,
            };
            let payload = match (scan, qr) {
                (Some(file), _) => ws.scan_payload(&session, &file, page)?,
                (None, Some(qr)) => dtk::paper::Payload::parse(&qr).map_err(|e| usage(format!("--qr: {e}")))?,
                (None, None) => return Err(usage("give --scan FILE or --qr TEXT")),
            };
            let done = ws.back_enter_page(&session, &payload, &answers, &assignment, &clock)?;
            output(json, &done, || {
                let mut lines: Vec<String> = done.entries.iter().map(|e| e.saved.id.clone()).collect();
                if let Some(ep) = &done.paper_episode {
                    lines.push(format!(
                        "Paper-only episode {} created for {} ({} to {}).",
                        ep.id,
                        ep.unit,
                        ep.started_at,
                        ep.ended_at.as_deref().unwrap_or("")
                    ));
                }
                lines.push(format!("From paper, page {} (episode {}).", done.page, done.episode_id));
                lines.join("\n")
            });
        }
        ReconcileCmd::Report { csv, pdf } => {
            let report = match &pdf {
                Some(path) => {
                    let (report, doc) = ws.reconciliation_report_pdf(&session, &clock)?;
                    dtk::api::save_pdf(path, &doc.bytes)?;
                    if !json {
                        println!("Reconciliation report written to {} ({} pages).", path.display(), doc.pages);
                    }
                    report
                }
                None => ws.reconciliation_report(&session, &clock)?,
            };
            if let Some(path) = &csv {
                dtk::durable::write(path, report.to_csv().as_bytes())
                    .map_err(|e| failed(format!("{}: {e}", path.display())))?;
                if !json {
                    println!(
                        "Reconciliation report written to {} ({} entries, {} still open).",
                        path.display(),
                        report.summary.total,
                        report.summary.open
                    );
                }
            }
            if json || (csv.is_none() && pdf.is_none()) {
                print_json(&serde_json::to_value(&report).unwrap_or_default());
            }
        }
    }
    Ok(())
}

/// "Verified in the EHR: 3 of 3 posted entries (read back with `dtk export verify --batch ID`)."
fn verified_line(s: &dtk::reconcile::Summary) -> String {
    format!(
        "Verified in the EHR: {} of {} posted entries (read back with `dtk export verify --batch ID`).",
        s.verified_in_ehr, s.posted_entries
    )
}
