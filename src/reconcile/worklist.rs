//! The worklist as the analyst pages through it: the filter (blind indexes and plain non-PHI columns only), one
//! page with only its rows decrypted, the counts per state, and the list of duplicate proposals.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{open_body, State};
use crate::crypto::Keys;
use crate::entries::{self, PatientHeader, Status};
use crate::vault::VaultError;

/// What the worklist shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub state: Option<State>,
    /// Blind-index tokens of the patient's MRN (under each MRN system); matches the original or the matched MRN.
    pub patient_idx: Vec<Vec<u8>>,
    pub form: Option<String>,
    pub workstation: Option<String>,
    pub episode: Option<String>,
    pub status: Option<Status>,
}

/// One worklist row.
#[derive(Debug, Clone, Serialize)]
pub struct WorkItem {
    pub entry_id: String,
    pub state: State,
    pub duplicate_of: Option<String>,
    pub batch_id: Option<String>,
    pub reason: Option<String>,
    pub workstation: String,
    pub episode_id: String,
    pub origin: entries::Origin,
    pub form: String,
    pub status: Status,
    pub version: i64,
    pub author: String,
    pub patient: PatientHeader,
    /// The real MRN a downtime registration was matched to.
    pub matched_mrn: Option<String>,
    pub clinical_time: Option<String>,
    pub medication: Option<String>,
    /// For an entry from paper: the page it came from (form, printed when, where, which episode).
    pub paper_page: Option<String>,
    /// Entries proposed as duplicates of this one, not yet decided.
    pub proposed_duplicates: Vec<String>,
    /// Who last changed the row (the importer, or the analyst who decided) and when: shown beside the decision.
    pub decided_by: String,
    pub decided_at: String,
}

/// A page of the worklist and how many rows match in all.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub total: i64,
    pub offset: usize,
    pub items: Vec<WorkItem>,
}

fn where_clause(f: &Filter) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as V;
    let mut sql = String::from(" WHERE 1 = 1");
    let mut args = Vec::new();
    if let Some(s) = f.state {
        sql.push_str(" AND r.state = ?");
        args.push(V::Text(s.as_str().into()));
    }
    if !f.patient_idx.is_empty() {
        // Two indexed look-ups instead of an OR across the join, which scanned every row (issue 8).
        let marks = vec!["?"; f.patient_idx.len()].join(", ");
        sql.push_str(&format!(
            " AND r.entry_id IN (SELECT entry_id FROM recon WHERE patient_idx IN ({marks}) UNION SELECT id FROM entries WHERE patient_idx IN ({marks}))"
        ));
        for _ in 0..2 {
            args.extend(f.patient_idx.iter().map(|i| V::Blob(i.clone())));
        }
    }
    if let Some(form) = &f.form {
        // A form is named by its canonical url|version, or by the last part of its url.
        sql.push_str(" AND (r.form = ? OR r.form LIKE ?)");
        args.push(V::Text(form.clone()));
        args.push(V::Text(format!("%/{}|%", form.replace(['%', '_'], ""))));
    }
    if let Some(ws) = &f.workstation {
        sql.push_str(" AND r.workstation = ?");
        args.push(V::Text(ws.clone()));
    }
    if let Some(ep) = &f.episode {
        sql.push_str(" AND e.episode_id = ?");
        args.push(V::Text(ep.clone()));
    }
    if let Some(st) = f.status {
        sql.push_str(" AND e.status = ?");
        args.push(V::Text(st.as_str().into()));
    }
    (sql, args)
}

/// A page of the worklist, in a stable order (entry id). Only the page's rows are decrypted.
pub fn list(
    conn: &rusqlite::Connection,
    keys: &Keys,
    filter: &Filter,
    limit: usize,
    offset: usize,
) -> Result<Page, VaultError> {
    let (w, args) = where_clause(filter);
    // Every recon row has its entry, so without a filter on the entry the join changes no count: counting and
    // paging over recon's own indexes alone keeps a page fast at any depth of a 160,000-entry worklist (issue 8).
    let from = if filter.episode.is_none() && filter.status.is_none() {
        "recon r"
    } else {
        "recon r JOIN entries e ON e.id = r.entry_id"
    };
    let total: i64 =
        conn.query_row(&format!("SELECT count(*) FROM {from}{w}"), rusqlite::params_from_iter(args.iter()), |r| {
            r.get(0)
        })?;
    let sql = format!(
        "SELECT r.entry_id, r.state, r.duplicate_of, r.batch_id, r.workstation, r.fv, r.body, e.episode_id, e.origin,
                e.form, e.status, e.current_version, e.author, r.updated_by, r.updated_at
           FROM recon r JOIN entries e ON e.id = r.entry_id
          WHERE r.entry_id IN (SELECT r.entry_id FROM {from}{w} ORDER BY r.entry_id LIMIT {} OFFSET {})
          ORDER BY r.entry_id",
        limit.min(10_000),
        offset
    );
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query(rusqlite::params_from_iter(args.iter()))?;
    let mut items = Vec::new();
    let mut proposals = conn.prepare(
        "SELECT CASE WHEN entry_id = ?1 THEN other_id ELSE entry_id END FROM recon_duplicates
          WHERE (entry_id = ?1 OR other_id = ?1) AND status = 'proposed' ORDER BY 1",
    )?;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let state: String = r.get(1)?;
        let fv: i64 = r.get(5)?;
        let sealed: Vec<u8> = r.get(6)?;
        let version: i64 = r.get(11)?;
        let status: String = r.get(10)?;
        let origin: String = r.get(8)?;
        let body = open_body(keys, &id, fv, &sealed)?;
        let v = entries::version_body(conn, keys, &id, version)?;
        let proposed: Vec<String> = proposals.query_map([&id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        items.push(WorkItem {
            state: State::parse(&state).unwrap_or(State::Pending),
            duplicate_of: r.get(2)?,
            batch_id: r.get(3)?,
            reason: body.reason,
            workstation: r.get(4)?,
            episode_id: r.get(7)?,
            origin: if origin == "paper" { entries::Origin::Paper } else { entries::Origin::Electronic },
            form: r.get(9)?,
            status: Status::parse(&status).unwrap_or(Status::Signed),
            version,
            author: v.paper.as_ref().map(|p| p.author_name.clone()).unwrap_or(r.get(12)?),
            patient: v.patient,
            matched_mrn: body.matched_mrn.map(|(_, m)| m),
            clinical_time: v.clinical_time,
            paper_page: v.paper.as_ref().map(|p| crate::paper::page_label(p.qr.as_deref())),
            medication: v.medication,
            proposed_duplicates: proposed,
            decided_by: r.get(13)?,
            decided_at: r.get(14)?,
            entry_id: id,
        });
    }
    Ok(Page { total, offset, items })
}

/// Counts per state, and what is still open.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub total: i64,
    pub by_state: BTreeMap<String, i64>,
    /// Entries still without a final disposition (pending, matched, needs-correction, accepted but not exported).
    pub open: i64,
    pub open_duplicate_proposals: i64,
    pub conflicts: i64,
    /// Entries posted to the EHR (counted per batch they were posted in).
    pub posted_entries: i64,
    /// Of those, the entries whose last read-back found every resource on the server exactly once.
    pub verified_in_ehr: i64,
}

pub fn summary(conn: &rusqlite::Connection) -> Result<Summary, VaultError> {
    let mut s = Summary::default();
    for st in State::ALL {
        s.by_state.insert(st.as_str().into(), 0);
    }
    let mut q = conn.prepare("SELECT state, count(*) FROM recon GROUP BY state")?;
    let rows = q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (state, n) = row?;
        s.total += n;
        if State::parse(&state).is_some_and(State::is_open) {
            s.open += n;
        }
        s.by_state.insert(state, n);
    }
    s.open_duplicate_proposals =
        conn.query_row("SELECT count(*) FROM recon_duplicates WHERE status = 'proposed'", [], |r| r.get(0))?;
    s.conflicts = conn.query_row("SELECT count(*) FROM handoff_conflicts", [], |r| r.get(0))?;
    (s.posted_entries, s.verified_in_ehr) = conn.query_row(
        "SELECT count(*), coalesce(sum(EXISTS (SELECT 1 FROM export_readback x
                  WHERE x.batch_id = be.batch_id AND x.entry_id = be.entry_id AND x.state = 'present')), 0)
           FROM export_batch_entries be WHERE be.post_state = 'posted'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(s)
}

/// A duplicate proposal and its answer.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    pub entry_id: String,
    pub other_id: String,
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
}

/// Duplicate proposals (all, or only the open ones).
pub fn proposals(conn: &rusqlite::Connection, open_only: bool) -> Result<Vec<Proposal>, VaultError> {
    let sql = format!(
        "SELECT entry_id, other_id, status, decided_by, decided_at FROM recon_duplicates{} ORDER BY entry_id, other_id",
        if open_only { " WHERE status = 'proposed'" } else { "" }
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([], |r| {
        Ok(Proposal {
            entry_id: r.get(0)?,
            other_id: r.get(1)?,
            status: r.get(2)?,
            decided_by: r.get(3)?,
            decided_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
