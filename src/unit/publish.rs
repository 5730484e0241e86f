//! Publishing: what this workstation recorded since its previous segment, gathered from its vault inside the write
//! transaction that records the new segment. The audit log says what is new: every signed version, registration and
//! episode event writes an audit row, so the rows after the previous segment's watermark name the entries,
//! registrations and episodes to carry, and the rows themselves travel too (under the handoff file's unkeyed chain,
//! continued from one segment to the next).

use std::collections::BTreeSet;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::segment::{self, Sealed, Sealing};
use super::store::{self, SegmentRow};
use super::{action, Counts, UnitError};
use crate::audit::PlainRow;
use crate::clock::stamp;
use crate::crypto::{hex, unhex};
use crate::handoff::{
    chain_genesis, chain_link, for_each_entry, signing_key, AuditRecord, EndRecord, Entries, EpisodeRecord,
    EventRecord, Record, Registered, Staff, UnsignedCount,
};
use crate::vault::Tx;

/// This workstation, as its segments name it, and whom they are encrypted to.
pub struct Publisher<'a> {
    pub workstation: &'a str,
    pub unit: &'a str,
    pub peers: &'a [VerifyingKey],
    pub him: Option<[u8; 32]>,
}

/// What a published segment carried (counts only, no patient data).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Published {
    pub sequence: u64,
    #[serde(flatten)]
    pub counts: Counts,
    pub bytes: u64,
}

/// The actions whose audit row means an entry has a new signed version to carry.
const SIGNED_ACTIONS: &[&str] =
    &[crate::entries::action::SIGNED, crate::entries::action::AMENDED, crate::entries::action::ENTERED_IN_ERROR];

/// Gathers what is new since this workstation's previous segment, seals it and records it (with a `unit.published`
/// audit row, carried in the segment itself). `None` when nothing but the unit share's own bookkeeping happened
/// since. The caller writes the bytes to the share before the transaction commits, so a recorded segment always had
/// its complete file written.
pub fn prepare(tx: &mut Tx<'_>, me: &Publisher<'_>) -> Result<Option<(Sealed, Published)>, UnitError> {
    let last = store::last_segment(tx.sql(), me.workstation)?;
    let since = last.as_ref().map_or(0, |l| l.watermark);
    if !crate::audit::has_rows_after(tx.sql(), since, "unit.")? {
        return Ok(None);
    }
    let sequence = last.as_ref().map_or(1, |l| l.sequence + 1);
    let previous = last.as_ref().map(|l| l.file_sha256.clone()).unwrap_or_default();
    let signer = signing_key(tx)?;
    tx.audit(
        action::PUBLISHED,
        &format!("unit:{sequence}"),
        &serde_json::json!({ "sequence": sequence, "previous": previous }),
    )?;
    let mut rows: Vec<PlainRow> = Vec::new();
    crate::audit::for_each_plain_row_after(tx.sql(), tx.keys(), since, |r| {
        rows.push(r);
        Ok::<_, UnitError>(())
    })?;
    let mut head = match last.as_ref().and_then(|l| unhex::<32>(&l.audit_head)) {
        Some(h) => h,
        None => chain_genesis(me.workstation),
    };
    let (mut entries, mut episodes, mut patients) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for r in &rows {
        if let Some(id) = r.target.strip_prefix("entries:") {
            if SIGNED_ACTIONS.contains(&r.action.as_str()) {
                entries.insert(id.to_string());
            }
        } else if let Some(id) = r.target.strip_prefix("episodes:") {
            episodes.insert(id.to_string());
        } else if let Some(id) = r.target.strip_prefix("patients:") {
            patients.insert(id.to_string());
        }
    }
    let mut by_episode: Vec<(String, String)> = Vec::new();
    for id in &entries {
        if let Some(s) = crate::entries::summary(tx.sql(), tx.keys(), id)? {
            episodes.insert(s.episode_id.clone());
            by_episode.push((s.episode_id, id.clone()));
        }
    }
    let mut records = Vec::new();
    let mut end = EndRecord::default();
    for u in crate::auth::list_users(tx.sql())? {
        end.staff += 1;
        records.push(Record::Staff(Staff {
            username: u.username,
            display_name: u.display_name,
            role: u.role.as_str().to_string(),
        }));
    }
    for p in crate::patients::list(tx.sql(), tx.keys())? {
        if p.source == crate::patients::Source::Registration && patients.contains(&p.id) {
            end.registrations += 1;
            records.push(Record::Registration(Registered { id: p.id, record: p.record }));
        }
    }
    let watermark = rows.last().map_or(since, |r| r.seq);
    for row in rows {
        head = chain_link(&head, &row);
        end.audit_rows += 1;
        records.push(Record::Audit(AuditRecord { row, hash: hex(&head) }));
    }
    for episode_id in &episodes {
        let Some(ep) = crate::episodes::get(tx.sql(), tx.keys(), episode_id)? else { continue };
        records.push(Record::Episode(EpisodeRecord {
            id: ep.id,
            unit: ep.unit,
            kind: ep.kind,
            started_at: ep.started_at,
            started_by: ep.started_by,
            ended_at: ep.ended_at,
            ended_by: ep.ended_by,
            declaration: ep.declaration,
        }));
        for (id, r) in crate::episodes::event_rows(tx.sql(), tx.keys(), episode_id)? {
            end.events += 1;
            records.push(Record::Event(EventRecord { id, at: r.at, actor: r.actor, event: r.event }));
        }
        for (_, id) in by_episode.iter().filter(|(e, _)| e == episode_id) {
            for_each_entry(tx.sql(), tx.keys(), Entries::One(id), me.workstation, |e| {
                end.entries += 1;
                end.versions += e.versions.len() as u64;
                records.push(Record::Entry(e.clone()));
                Ok(())
            })?;
        }
    }
    if let Some(newest) = crate::episodes::list(tx.sql(), tx.keys())?.into_iter().next() {
        end.unsigned = Some(
            crate::entries::unsigned::by_author(tx.sql(), &newest.id)?
                .into_iter()
                .map(|c| UnsignedCount { author: c.author, entries: c.count })
                .collect(),
        );
    }
    end.audit_head = hex(&head);
    let counts = Counts {
        entries: end.entries,
        versions: end.versions,
        events: end.events,
        registrations: end.registrations,
        audit_rows: end.audit_rows,
    };
    records.push(Record::End(end));
    let created_at = stamp(tx.at());
    let sealing = Sealing {
        workstation: me.workstation,
        unit: me.unit,
        sequence,
        previous: &previous,
        created_at: &created_at,
        signer: &signer,
        peers: me.peers,
        him: me.him,
    };
    let sealed = segment::seal(&sealing, &records, tx)?;
    store::record_segment(
        tx,
        &SegmentRow {
            workstation: me.workstation.to_string(),
            sequence,
            file_sha256: sealed.sha256.clone(),
            signer: hex(signer.verifying_key().as_bytes()),
            created_at: created_at.clone(),
            received_at: created_at,
            watermark,
            audit_head: hex(&head),
        },
    )?;
    let bytes = sealed.bytes.len() as u64;
    Ok(Some((sealed, Published { sequence, counts, bytes })))
}
