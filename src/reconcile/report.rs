//! The reconciliation report's data, read from the vault (dispositions with their reasons, episodes, export
//! batches with their hashes, imported handoff files, what each workstation left unsigned, counts per workstation
//! and per form), and its CSV.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{open_body, summary, HandEntry, State, Summary};
use crate::crypto::Keys;
use crate::vault::VaultError;

/// Every row of the reconciliation report that needs a reason printed (rejected, duplicate, needs-correction,
/// refused by the EHR with the server's reason, entered by hand in the EHR with who, when and where).
#[derive(Debug, Clone, Serialize)]
pub struct Disposition {
    pub entry_id: String,
    pub state: State,
    pub workstation: String,
    pub form: String,
    pub duplicate_of: Option<String>,
    /// The export batch a refused (or then hand-entered) entry was refused in.
    pub batch_id: Option<String>,
    pub reason: Option<String>,
    pub hand_entry: Option<HandEntry>,
    pub decided_by: String,
    pub decided_at: String,
}

/// An entry back-entered from paper, with the page it came from (issue 14 item 3).
#[derive(Debug, Clone, Serialize)]
pub struct PaperLine {
    pub entry_id: String,
    pub state: State,
    pub form: String,
    pub episode_id: String,
    /// The page's identity as its QR code gave it (form, printed when, where, which episode).
    pub page: String,
}

/// One episode's timeline (issue 9, after-action review).
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeLine {
    pub id: String,
    pub unit: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub first_entry_at: Option<String>,
    pub entries: i64,
    pub workstations: i64,
    pub first_handoff_imported_at: Option<String>,
    pub last_export_at: Option<String>,
    /// Set when HIM created the episode for paper alone: who and when (its unit and period are above).
    pub paper_only: Option<crate::episodes::PaperOnly>,
    /// The episode's timeline and metrics (filled in by the façade, which knows the checklist).
    pub timeline: Option<crate::procedures::Timeline>,
}

/// An export batch with its hash and posting outcome.
#[derive(Debug, Clone, Serialize)]
pub struct BatchLine {
    pub id: String,
    pub created_at: String,
    pub created_by: String,
    pub entries: i64,
    pub sha256: String,
    pub posted: i64,
    pub failed: i64,
    /// Posted entries whose last read-back found every resource on the server exactly once.
    pub verified: i64,
    /// When the batch was last read back from the server (`None`: never).
    pub verified_at: Option<String>,
}

impl BatchLine {
    /// "verified in the EHR: 4 of 4", or "not read back from the EHR" before any read-back.
    pub fn verified_text(&self) -> String {
        match &self.verified_at {
            Some(_) => format!("verified in the EHR: {} of {}", self.verified, self.posted),
            None => "not read back from the EHR".into(),
        }
    }
}

/// An imported handoff file.
#[derive(Debug, Clone, Serialize)]
pub struct FileLine {
    pub workstation: String,
    pub sequence: i64,
    pub sha256: String,
    pub signer: String,
    pub created_at: String,
    pub imported_at: String,
    pub imported_by: String,
}

/// What a workstation's newest handoff file of an episode says it left unsigned (drafts never leave a
/// workstation, so these entries are in no file: issue 14).
#[derive(Debug, Clone, Serialize)]
pub struct UnsignedLine {
    pub workstation: String,
    pub episode: String,
    /// The newest file of the workstation for the episode: what it says is what is still out there.
    pub sequence: i64,
    /// `None` when that file does not say (written by a Downtime Kit before files carried the count).
    pub total: Option<u64>,
    pub by_author: Option<Vec<crate::handoff::UnsignedCount>>,
}

impl UnsignedLine {
    /// "3 (jnurse 2, kcharge 1)", "0", or "not reported by this file".
    pub fn describe(&self) -> String {
        match (self.total, &self.by_author) {
            (Some(n), Some(list)) if n > 0 => format!("{n} ({})", crate::handoff::by_author(list)),
            (Some(n), _) => n.to_string(),
            (None, _) => "not reported (file from an older Downtime Kit)".into(),
        }
    }
}

/// Everything the reconciliation report shows; the CSV is written from it here and the PDF by `print`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: String,
    pub generated_by: String,
    pub unit: Option<String>,
    pub summary: Summary,
    pub episodes: Vec<EpisodeLine>,
    /// Counts per state for each workstation.
    pub per_workstation: BTreeMap<String, BTreeMap<String, i64>>,
    /// Counts per state for each form.
    pub per_form: BTreeMap<String, BTreeMap<String, i64>>,
    pub dispositions: Vec<Disposition>,
    /// Every entry back-entered from paper, each with its page.
    pub paper: Vec<PaperLine>,
    pub batches: Vec<BatchLine>,
    pub files: Vec<FileLine>,
    /// Per workstation and episode, the entries its newest handoff file says it left unsigned.
    pub unsigned: Vec<UnsignedLine>,
}

fn grouped(conn: &rusqlite::Connection, column: &str) -> Result<BTreeMap<String, BTreeMap<String, i64>>, VaultError> {
    let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut st = conn.prepare(&format!("SELECT {column}, state, count(*) FROM recon GROUP BY {column}, state"))?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
    for row in rows {
        let (k, s, n) = row?;
        out.entry(k).or_default().insert(s, n);
    }
    Ok(out)
}

/// Builds the report's data from the vault. `at` and `by` say when and by whom it was generated.
pub fn report(
    conn: &rusqlite::Connection,
    keys: &Keys,
    at: &str,
    by: &str,
    unit: Option<String>,
) -> Result<Report, VaultError> {
    let mut dispositions = Vec::new();
    {
        let mut st = conn.prepare(
            "SELECT entry_id, state, workstation, form, duplicate_of, fv, body, updated_by, updated_at, batch_id FROM recon
              WHERE state IN ('rejected', 'duplicate', 'needs-correction', 'refused', 'entered-by-hand')
              ORDER BY state, entry_id",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let state: String = r.get(1)?;
            let body = open_body(keys, &id, r.get(5)?, &r.get::<_, Vec<u8>>(6)?)?;
            let state = State::parse(&state).unwrap_or(State::Pending);
            let refused = matches!(state, State::Refused | State::EnteredByHand);
            dispositions.push(Disposition {
                state,
                workstation: r.get(2)?,
                form: r.get(3)?,
                duplicate_of: r.get(4)?,
                batch_id: if refused { r.get(9)? } else { None },
                reason: body.reason,
                hand_entry: body.hand_entry,
                decided_by: r.get(7)?,
                decided_at: r.get(8)?,
                entry_id: id,
            });
        }
    }
    let episodes = {
        let mut st = conn.prepare(
            "SELECT p.id, p.unit, p.started_at, p.ended_at,
                    (SELECT min(created_at) FROM entries e WHERE e.episode_id = p.id),
                    (SELECT count(*) FROM entries e JOIN recon r ON r.entry_id = e.id WHERE e.episode_id = p.id),
                    (SELECT count(DISTINCT workstation) FROM entries e WHERE e.episode_id = p.id),
                    (SELECT min(imported_at) FROM handoff_files f WHERE f.episode_id = p.id),
                    (SELECT max(b.created_at) FROM export_batches b JOIN export_batch_entries be ON be.batch_id = b.id
                       JOIN entries e ON e.id = be.entry_id WHERE e.episode_id = p.id)
               FROM episodes p WHERE p.kind = 'real' ORDER BY p.started_at, p.id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(EpisodeLine {
                id: r.get(0)?,
                unit: r.get(1)?,
                started_at: r.get(2)?,
                ended_at: r.get(3)?,
                first_entry_at: r.get(4)?,
                entries: r.get(5)?,
                workstations: r.get(6)?,
                first_handoff_imported_at: r.get(7)?,
                last_export_at: r.get(8)?,
                paper_only: None,
                timeline: None,
            })
        })?;
        let mut lines: Vec<EpisodeLine> =
            rows.collect::<Result<Vec<_>, _>>()?.into_iter().filter(|e| e.entries > 0).collect();
        for line in &mut lines {
            line.paper_only = crate::episodes::get(conn, keys, &line.id)?.and_then(|e| e.paper_only);
        }
        lines
    };
    let paper = paper_lines(conn, keys)?;
    let batches = {
        let mut st = conn.prepare(
            "SELECT b.id, b.created_at, b.created_by, b.entry_count, b.sha256,
                    (SELECT count(*) FROM export_batch_entries x WHERE x.batch_id = b.id AND x.post_state = 'posted'),
                    (SELECT count(*) FROM export_batch_entries x WHERE x.batch_id = b.id AND x.post_state = 'failed'),
                    (SELECT count(*) FROM export_batch_entries x JOIN export_readback v
                         ON v.batch_id = x.batch_id AND v.entry_id = x.entry_id
                      WHERE x.batch_id = b.id AND x.post_state = 'posted' AND v.state = 'present'),
                    (SELECT max(v.checked_at) FROM export_readback v WHERE v.batch_id = b.id)
               FROM export_batches b ORDER BY b.created_at, b.id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(BatchLine {
                id: r.get(0)?,
                created_at: r.get(1)?,
                created_by: r.get(2)?,
                entries: r.get(3)?,
                sha256: r.get(4)?,
                posted: r.get(5)?,
                failed: r.get(6)?,
                verified: r.get(7)?,
                verified_at: r.get(8)?,
            })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let files = {
        let mut st = conn.prepare(
            "SELECT workstation, sequence, file_sha256, signer, created_at, imported_at, imported_by FROM handoff_files
              ORDER BY imported_at, workstation, sequence",
        )?;
        let rows = st.query_map([], |r| {
            let signer: String = r.get(3)?;
            Ok(FileLine {
                workstation: r.get(0)?,
                sequence: r.get(1)?,
                sha256: r.get(2)?,
                signer: data_encoding::HEXLOWER_PERMISSIVE
                    .decode(signer.as_bytes())
                    .map(|k| crate::handoff::fingerprint(&k))
                    .unwrap_or(signer),
                created_at: r.get(4)?,
                imported_at: r.get(5)?,
                imported_by: r.get(6)?,
            })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let unsigned = {
        let mut st = conn.prepare(
            "SELECT f.workstation, f.episode_id, f.sequence, u.fv, u.body FROM handoff_files f
               LEFT JOIN handoff_unsigned u ON u.workstation = f.workstation AND u.sequence = f.sequence
              WHERE f.sequence = (SELECT max(g.sequence) FROM handoff_files g
                                   WHERE g.workstation = f.workstation AND g.episode_id = f.episode_id)
              ORDER BY f.workstation, f.episode_id",
        )?;
        let mut rows = st.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let (workstation, sequence): (String, i64) = (r.get(0)?, r.get(2)?);
            let by_author = match (r.get::<_, Option<i64>>(3)?, r.get::<_, Option<Vec<u8>>>(4)?) {
                (Some(fv), Some(body)) => Some(crate::handoff::open_unsigned(keys, &workstation, sequence, fv, &body)?),
                _ => None,
            };
            let total = by_author.as_ref().map(|l| l.iter().map(|c| c.entries).sum());
            out.push(UnsignedLine { workstation, episode: r.get(1)?, sequence, total, by_author });
        }
        out
    };
    Ok(Report {
        generated_at: at.to_string(),
        generated_by: by.to_string(),
        unit,
        summary: summary(conn)?,
        episodes,
        per_workstation: grouped(conn, "workstation")?,
        per_form: grouped(conn, "form")?,
        dispositions,
        paper,
        batches,
        files,
        unsigned,
    })
}

/// Every entry of paper origin on the worklist, with the page its current version was typed from.
fn paper_lines(conn: &rusqlite::Connection, keys: &Keys) -> Result<Vec<PaperLine>, VaultError> {
    let mut st = conn.prepare(
        "SELECT e.id, r.state, e.form, e.episode_id, e.current_version FROM entries e JOIN recon r ON r.entry_id = e.id
          WHERE e.origin = 'paper' ORDER BY e.episode_id, e.id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get::<_, i64>(4)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (entry_id, state, form, episode_id, version) = row?;
        let body = crate::entries::version_body(conn, keys, &entry_id, version)?;
        out.push(PaperLine {
            state: State::parse(&state).unwrap_or(State::Pending),
            form,
            episode_id,
            page: crate::paper::page_label(body.paper.as_ref().and_then(|p| p.qr.as_deref())),
            entry_id,
        });
    }
    Ok(out)
}

fn csv_field(s: &str) -> String {
    // Cells that a spreadsheet would run as a formula are prefixed with a quote (CSV injection).
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

impl Report {
    /// The report as CSV: one section per table, each introduced by a `section` row, so a spreadsheet opens it.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let mut line = |cells: &[&str]| {
            out.push_str(&cells.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
            out.push_str("\r\n");
        };
        line(&["section", "reconciliation report"]);
        line(&["generated_at", &self.generated_at]);
        line(&["generated_by", &self.generated_by]);
        line(&["unit", self.unit.as_deref().unwrap_or("")]);
        line(&["section", "counts"]);
        line(&["state", "entries"]);
        for (s, n) in &self.summary.by_state {
            line(&[s, &n.to_string()]);
        }
        line(&["total", &self.summary.total.to_string()]);
        line(&["open", &self.summary.open.to_string()]);
        line(&["open_duplicate_proposals", &self.summary.open_duplicate_proposals.to_string()]);
        line(&["version_conflicts", &self.summary.conflicts.to_string()]);
        let states: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
        for (title, key, map) in
            [("per workstation", "workstation", &self.per_workstation), ("per form", "form", &self.per_form)]
        {
            line(&["section", title]);
            let mut head = vec![key];
            head.extend(states.iter().copied());
            line(&head);
            for (k, counts) in map {
                let cells: Vec<String> = std::iter::once(k.clone())
                    .chain(states.iter().map(|s| counts.get(*s).copied().unwrap_or(0).to_string()))
                    .collect();
                line(&cells.iter().map(String::as_str).collect::<Vec<_>>());
            }
        }
        line(&["section", "episodes"]);
        line(&[
            "episode",
            "unit",
            "started_at",
            "ended_at",
            "first_entry_at",
            "entries",
            "workstations",
            "first_handoff_imported_at",
            "last_export_at",
            "paper_only",
        ]);
        for e in &self.episodes {
            let paper_only = e.paper_only.as_ref().map(|p| format!("created by {} at {}", p.created_by, p.created_at));
            line(&[
                &e.id,
                &e.unit,
                &e.started_at,
                e.ended_at.as_deref().unwrap_or(""),
                e.first_entry_at.as_deref().unwrap_or(""),
                &e.entries.to_string(),
                &e.workstations.to_string(),
                e.first_handoff_imported_at.as_deref().unwrap_or(""),
                e.last_export_at.as_deref().unwrap_or(""),
                paper_only.as_deref().unwrap_or(""),
            ]);
        }
        line(&["section", "episode timelines"]);
        line(&[
            "episode",
            "declared_at",
            "declared_severity",
            "severity_changes",
            "first_entry_at",
            "minutes_to_first_entry",
            "entries_per_hour",
            "ended_at",
            "minutes_to_recovery",
            "handoff_at",
            "minutes_recovery_to_handoff",
            "reconciled_at",
            "minutes_recovery_to_reconciled",
        ]);
        let opt = |m: Option<i64>| m.map(|m| m.to_string()).unwrap_or_default();
        for (e, t) in self.episodes.iter().filter_map(|e| Some((e, e.timeline.as_ref()?))) {
            let changes: Vec<String> = t.escalations.iter().map(|(at, s)| format!("{at} {}", s.code())).collect();
            line(&[
                &e.id,
                &t.declared_at,
                t.declared_severity.map(|s| s.code()).unwrap_or(""),
                &changes.join("; "),
                t.first_entry_at.as_deref().unwrap_or(""),
                &opt(t.minutes_to_first_entry),
                &t.entries_per_hour.map(|v| format!("{v:.1}")).unwrap_or_default(),
                t.ended_at.as_deref().unwrap_or(""),
                &opt(t.minutes_to_recovery),
                t.handoff_at.as_deref().unwrap_or(""),
                &opt(t.minutes_recovery_to_handoff),
                t.reconciled_at.as_deref().unwrap_or(""),
                &opt(t.minutes_recovery_to_reconciled),
            ]);
        }
        line(&["section", "dispositions"]);
        line(&[
            "entry",
            "state",
            "workstation",
            "form",
            "duplicate_of",
            "batch",
            "reason",
            "entered_by",
            "entered_at",
            "entered_where",
            "decided_by",
            "decided_at",
        ]);
        for d in &self.dispositions {
            let hand = d.hand_entry.as_ref();
            line(&[
                &d.entry_id,
                d.state.as_str(),
                &d.workstation,
                &d.form,
                d.duplicate_of.as_deref().unwrap_or(""),
                d.batch_id.as_deref().unwrap_or(""),
                d.reason.as_deref().unwrap_or(""),
                hand.map_or("", |h| h.by.as_str()),
                hand.map_or("", |h| h.at.as_str()),
                hand.map_or("", |h| h.place.as_str()),
                &d.decided_by,
                &d.decided_at,
            ]);
        }
        line(&["section", "entries from paper"]);
        line(&["entry", "state", "form", "episode", "page"]);
        for p in &self.paper {
            line(&[&p.entry_id, p.state.as_str(), &p.form, &p.episode_id, &format!("from paper, page {}", p.page)]);
        }
        line(&["section", "export batches"]);
        line(&["batch", "created_at", "created_by", "entries", "sha256", "posted", "failed", "verified_in_ehr"]);
        for b in &self.batches {
            line(&[
                &b.id,
                &b.created_at,
                &b.created_by,
                &b.entries.to_string(),
                &b.sha256,
                &b.posted.to_string(),
                &b.failed.to_string(),
                &b.verified_text(),
            ]);
        }
        line(&["section", "unsigned entries left on workstations"]);
        line(&["workstation", "episode", "newest_file", "unsigned", "by_author"]);
        for u in &self.unsigned {
            let total = u.total.map(|n| n.to_string()).unwrap_or_else(|| "not reported".into());
            let authors = u.by_author.as_deref().map(crate::handoff::by_author).unwrap_or_default();
            line(&[&u.workstation, &u.episode, &u.sequence.to_string(), &total, &authors]);
        }
        line(&["section", "handoff files"]);
        line(&["workstation", "sequence", "sha256", "signer_fingerprint", "created_at", "imported_at", "imported_by"]);
        for f in &self.files {
            line(&[
                &f.workstation,
                &f.sequence.to_string(),
                &f.sha256,
                &f.signer,
                &f.created_at,
                &f.imported_at,
                &f.imported_by,
            ]);
        }
        out
    }
}
