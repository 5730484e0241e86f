//! The unit share's operations of the façade (issue 20): this workstation's unit key, one sync (publish what is new,
//! then read every peer's new segments), the status the banner shows (each peer and how fresh it is, or that the
//! share is unreachable), and the peers' entries of a patient. Nothing here ever stops charting: a share that is
//! missing, full or read-only is reported, and the local vault is unaffected.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::clock::{parse_stamp, Clock};
use crate::handoff::fingerprint;
use crate::unit::publish::{self, Published, Publisher};
use crate::unit::receive::{self, Received};
use crate::unit::segment::{self, Reader};
use crate::unit::store::{self, PeerEntry, PeerVersion};
use crate::unit::{self as share, Counts, UnitError};

impl From<UnitError> for ApiError {
    fn from(e: UnitError) -> Self {
        let code = match &e {
            UnitError::Vault(_) => {
                if let UnitError::Vault(v) = e {
                    return v.into();
                }
                ErrorCode::Io
            }
            UnitError::NotEnrolled { .. } | UnitError::Refused { .. } => ErrorCode::Conflict,
            UnitError::Unreadable { .. } => ErrorCode::Integrity,
            UnitError::Publish(_) => ErrorCode::Io,
        };
        ApiError::new(code, e.to_string())
    }
}

/// This workstation's unit key, for the other workstations' `unit_peers`.
#[derive(Debug, Clone, Serialize)]
pub struct UnitKey {
    /// 64 hex digits (the public half of the workstation's handoff signing key).
    pub public_key: String,
    pub fingerprint: String,
}

/// What one peer's segments brought in one sync (counts, no patient data).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeerSync {
    pub workstation: String,
    /// How people name it: the first 8 characters of its id.
    pub label: String,
    pub segments: u64,
    #[serde(flatten)]
    pub counts: Counts,
}

/// One sync: what was published, what came in, and every problem named (file, folder or reason; never patient data).
#[derive(Debug, Clone, Serialize)]
pub struct UnitSync {
    pub share: PathBuf,
    pub reachable: bool,
    /// This workstation's new segment, if it had anything new.
    pub published: Option<Published>,
    /// Why publishing failed (a full or read-only share): nothing local is affected; the next sync tries again.
    pub publish_problem: Option<String>,
    pub received: Vec<PeerSync>,
    /// Segments refused or waiting (not enrolled, half-written, out of order, gone), each named.
    pub problems: Vec<String>,
}

/// One peer as the banner shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PeerStatus {
    pub workstation: String,
    pub label: String,
    pub key_fingerprint: String,
    pub last_sequence: u64,
    /// When its newest segment was written, by its clock.
    pub written_at: String,
    /// When its newest segment arrived here, by this workstation's clock.
    pub received_at: String,
    /// Minutes since it was last heard from: since its newest segment was written, or arrived here when its clock
    /// was ahead of this one's (its clock is shown, never trusted).
    pub age_minutes: i64,
    /// Minutes its clock was ahead of this one's when its newest segment arrived (negative: behind or slow share).
    pub clock_offset_minutes: i64,
    /// "WS 1a2b3c4d: 10:42" or "WS 1a2b3c4d: not heard from for 25 min".
    pub line: String,
}

/// The unit share as the banner shows it (no sign-in needed).
#[derive(Debug, Clone, Serialize)]
pub struct UnitStatus {
    /// `None` when the site configures no unit share (this workstation charts alone).
    pub share: Option<PathBuf>,
    pub reachable: bool,
    /// "unit share unreachable: DIR" when it is; charting goes on either way.
    pub message: Option<String>,
    pub peers: Vec<PeerStatus>,
    /// Enrolled keys (fingerprints) of which nothing has arrived yet.
    pub not_heard_from: Vec<String>,
    /// This workstation's newest published segment.
    pub last_published: Option<u64>,
}

/// A peer is "not heard from" after this long without a new segment.
pub const STALE_AFTER_MINUTES: i64 = 15;
/// A peer's clock ahead of this one's by more than this is shown as such.
const CLOCK_AHEAD_MINUTES: i64 = 5;

fn unreachable(dir: &Path) -> String {
    format!("unit share unreachable: {}", dir.display())
}

/// A patient by MRN on this workstation (census or its own registrations), or else registered on another workstation
/// of the unit (its registration came through the unit share): the nurse who admitted the patient on one PC and the
/// one who gives the next dose on another chart under the same temporary MRN.
pub(super) fn find_in_unit(
    conn: &rusqlite::Connection,
    keys: &crate::crypto::Keys,
    systems: &[&str],
    mrn: &str,
) -> Result<Option<crate::patients::Patient>, crate::vault::VaultError> {
    match crate::patients::find_by_mrn(conn, keys, systems, mrn)? {
        Some(p) => Ok(Some(p)),
        None => Ok(store::peer_patient(conn, keys, systems, mrn)?.map(|(_, p)| p)),
    }
}

/// The segments of a writer's `folder` not received here yet, in order, each with the name it is reported by
/// (`<folder>/<file>`). Names in `problems` a file still being written or copied (ignored until whole), a segment
/// received before that is gone from the share or was replaced with other content (the copy received first is
/// kept), and stops before a missing one: nothing after a gap is read until it arrives.
pub(super) fn pending_segments(
    conn: &rusqlite::Connection,
    folder: &receive::Folder,
    problems: &mut Vec<String>,
) -> Result<Vec<(String, PathBuf)>, ApiError> {
    for p in &folder.partial {
        problems
            .push(format!("{}/{p}: half-written (being written or copied); ignored until it is complete", folder.name));
    }
    let recorded = store::segments(conn, &folder.name)?;
    let name = |n: u64| format!("{}/{}", folder.name, share::file_name(n));
    for s in &recorded {
        match folder.segments.iter().find(|(n, _)| *n == s.sequence) {
            None => problems.push(format!(
                "{}: received before but gone from the share (deleted or the share restored from an older copy)",
                name(s.sequence)
            )),
            Some((_, path)) => {
                let same = receive::read(path, "").ok().map(|b| crate::crypto::sha256_hex(&b));
                if same.as_deref().is_some_and(|h| h != s.file_sha256) {
                    problems.push(format!(
                        "{}: replaced with other content after it was received; refused (the copy received first is kept)",
                        name(s.sequence)
                    ));
                }
            }
        }
    }
    let last = recorded.last().map_or(0, |s| s.sequence);
    let mut out = Vec::new();
    for (n, path) in folder.segments.iter().filter(|(n, _)| *n > last) {
        let expected = last + 1 + out.len() as u64;
        if *n != expected {
            problems.push(format!(
                "{}: segment {} of this workstation is missing from the share; nothing after it is read until it arrives",
                name(*n),
                share::file_name(expected)
            ));
            break;
        }
        out.push((name(*n), path.clone()));
    }
    Ok(out)
}

impl Workstation {
    /// The enrolled peers' keys; a key that is not an Ed25519 point is left out (site.json already checked the hex).
    fn unit_peers(&self) -> Vec<VerifyingKey> {
        self.site.unit_peers.iter().filter_map(|k| share::peer_key(k)).collect()
    }

    fn unit_share(&self) -> Result<PathBuf, ApiError> {
        self.site.unit_share_path().ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotInitialised,
                "no unit share is configured: hospital IT sets unit_share_dir in site.json",
            )
        })
    }

    /// This workstation's unit key (`dtk unit key`): the public half of its handoff signing key, made (and audited)
    /// on first use. Nurses, charge nurses and administrators (IT collects the keys for `unit_peers`).
    pub fn unit_key(&mut self, session: &Session, clock: &dyn Clock) -> Result<UnitKey, ApiError> {
        if session.require(Op::Configure).is_err() {
            session.require(Op::ChartEntry)?;
        }
        let vault = self.vault_mut()?;
        let done = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            crate::handoff::signing_key(tx).map_err(ApiError::from)
        })?;
        let key = done.into_value();
        Ok(UnitKey { public_key: share::key_hex(&key), fingerprint: fingerprint(key.verifying_key().as_bytes()) })
    }

    /// One sync of the unit share (`dtk unit sync`, and the app on its interval): publishes this workstation's new
    /// records as one segment, then reads every peer's new segments. Refusals and a failed publish are reported in
    /// the answer, never as an error: charting goes on. An error only when no share is configured.
    pub fn unit_sync(&mut self, session: &Session, clock: &dyn Clock) -> Result<UnitSync, ApiError> {
        session.require(Op::ReadUnit)?;
        let share = self.unit_share()?;
        let mut out = UnitSync {
            share: share.clone(),
            reachable: share.is_dir(),
            published: None,
            publish_problem: None,
            received: Vec::new(),
            problems: Vec::new(),
        };
        if !out.reachable {
            out.publish_problem = Some(unreachable(&share));
            return Ok(out);
        }
        match self.unit_publish(session, &share, clock) {
            Ok(p) => out.published = p,
            Err(e) => out.publish_problem = Some(e.message),
        }
        self.unit_receive(session, &share, clock, &mut out)?;
        Ok(out)
    }

    fn unit_publish(
        &mut self,
        session: &Session,
        share: &Path,
        clock: &dyn Clock,
    ) -> Result<Option<Published>, ApiError> {
        let workstation = self.workstation_id();
        let unit = self.unit().unwrap_or_default();
        let peers = self.unit_peers();
        let him = match &self.site.him_public_key {
            Some(k) => Some(crate::handoff::parse_public_key(k)?),
            None => None,
        };
        let own = share.join(&workstation);
        let publish_err = |e: std::io::Error| ApiError::from(UnitError::Publish(format!("{}: {e}", own.display())));
        let me = Publisher { workstation: &workstation, unit: &unit, peers: &peers, him };
        // The file is written beside its name and synced before the segment is recorded, and moved into place after:
        // a recorded segment always had its complete file, and a failed write records nothing.
        let vault = self.vault_mut()?;
        let placing = vault.write(session.keys(), session.username(), clock.now(), |tx| {
            let Some((sealed, published)) = publish::prepare(tx, &me)? else { return Ok::<_, ApiError>(None) };
            if !own.is_dir() {
                std::fs::create_dir(&own).map_err(publish_err)?;
            }
            let file = crate::durable::Streamed::beside(&own.join(share::file_name(published.sequence)));
            let mut w = file.open().map_err(publish_err)?;
            w.write_all(&sealed.bytes).map_err(publish_err)?;
            crate::durable::sync(w).map_err(publish_err)?;
            Ok(Some((file, published)))
        })?;
        let Some((file, published)) = placing.into_value() else { return Ok(None) };
        file.place().map_err(|e| {
            ApiError::from(UnitError::Publish(format!(
                "segment {} was recorded but moving it into place in {} failed ({e}); its peers will report it missing",
                published.sequence,
                own.display()
            )))
        })?;
        Ok(Some(published))
    }

    fn unit_receive(
        &mut self,
        session: &Session,
        share: &Path,
        clock: &dyn Clock,
        out: &mut UnitSync,
    ) -> Result<(), ApiError> {
        let own = self.workstation_id();
        let peers = self.unit_peers();
        let folders = match receive::scan(share, &own) {
            Ok(f) => f,
            Err(e) => {
                out.problems.push(format!("{} ({e})", unreachable(share)));
                return Ok(());
            }
        };
        let me = {
            let vault = self.vault_mut()?;
            vault.write(session.keys(), session.username(), clock.now(), crate::handoff::signing_key)?.into_value()
        };
        for folder in folders {
            let mut got = PeerSync {
                label: share::short_id(&folder.name),
                workstation: folder.name.clone(),
                ..PeerSync::default()
            };
            for (file, path) in pending_segments(self.vault()?.conn(), &folder, &mut out.problems)? {
                match self.unit_accept(session, clock, &folder.name, &file, &path, &me, &peers) {
                    Ok(r) => {
                        got.segments += 1;
                        got.counts.add(&r.counts);
                        if r.clock_offset_minutes > CLOCK_AHEAD_MINUTES {
                            out.problems.push(format!(
                                "{file}: its workstation's clock is {} min ahead of this one's (shown, not used for ordering)",
                                r.clock_offset_minutes
                            ));
                        }
                    }
                    Err(e) => {
                        out.problems.push(e.message);
                        break;
                    }
                }
            }
            if got.segments > 0 {
                out.received.push(got);
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn unit_accept(
        &mut self,
        session: &Session,
        clock: &dyn Clock,
        folder: &str,
        file: &str,
        path: &Path,
        me: &ed25519_dalek::SigningKey,
        peers: &[VerifyingKey],
    ) -> Result<Received, ApiError> {
        let bytes = receive::read(path, file)?;
        let opened = segment::open(&bytes, file, &Reader::Peer { me, enrolled: peers })?;
        let vault = self.vault_mut()?;
        Ok(vault
            .write(session.keys(), session.username(), clock.now(), |tx| receive::accept(tx, folder, file, &opened))?
            .into_value())
    }

    /// The unit share as the banner shows it: each peer and how fresh it is, or plainly that the share is
    /// unreachable. Needs no sign-in (plaintext columns under their row MACs).
    pub fn unit_status(&self, clock: &dyn Clock) -> Result<UnitStatus, ApiError> {
        let Some(share) = self.site.unit_share_path() else {
            return Ok(UnitStatus {
                share: None,
                reachable: false,
                message: None,
                peers: Vec::new(),
                not_heard_from: Vec::new(),
                last_published: None,
            });
        };
        let reachable = share.is_dir();
        let conn = self.vault()?.conn();
        let own = self.workstation_id();
        let now = clock.now();
        let mut peers = Vec::new();
        for s in store::newest_per_peer(conn, &own)? {
            let written = parse_stamp(&s.created_at);
            let received = parse_stamp(&s.received_at);
            let offset = match (written, received) {
                (Some(w), Some(r)) => (w - r).whole_minutes(),
                _ => 0,
            };
            let heard = match (written, received) {
                (Some(w), Some(r)) => Some(w.min(r)),
                (w, r) => w.or(r),
            };
            let age = heard.map_or(i64::MAX, |h| (now - h).whole_minutes().max(0));
            let label = share::short_id(&s.workstation);
            let line = if age > STALE_AFTER_MINUTES {
                format!("WS {label}: not heard from for {age} min")
            } else {
                let local = heard
                    .map(|h| h.to_offset(clock.now().offset()))
                    .map(|h| format!("{:02}:{:02}", h.hour(), h.minute()));
                format!("WS {label}: {}", local.unwrap_or_else(|| "?".into()))
            };
            peers.push(PeerStatus {
                key_fingerprint: crate::crypto::unhex::<32>(&s.signer).map(|k| fingerprint(&k)).unwrap_or_default(),
                workstation: s.workstation,
                label,
                last_sequence: s.sequence,
                written_at: s.created_at,
                received_at: s.received_at,
                age_minutes: age,
                clock_offset_minutes: offset,
                line,
            });
        }
        let heard: Vec<&str> = peers.iter().map(|p| p.key_fingerprint.as_str()).collect();
        let not_heard_from = self
            .unit_peers()
            .iter()
            .map(|k| fingerprint(k.as_bytes()))
            .filter(|f| !heard.contains(&f.as_str()))
            .collect();
        Ok(UnitStatus {
            message: (!reachable).then(|| unreachable(&share)),
            share: Some(share),
            reachable,
            peers,
            not_heard_from,
            last_published: store::last_segment(conn, &own)?.map(|s| s.sequence),
        })
    }

    /// Every entry the unit's other workstations charted for the patient with this MRN (newest version of each),
    /// marked with the workstation and when it arrived here: what the chart shows as "from WS X, received at …"
    /// and the charge nurse's unit overview reads. They are never amended or signed here (they are not entries of
    /// this vault). Audited like viewing the patient.
    pub fn unit_patient_entries(
        &mut self,
        session: &Session,
        mrn_system: &str,
        mrn: &str,
        clock: &dyn Clock,
    ) -> Result<Vec<(PeerEntry, PeerVersion)>, ApiError> {
        session.require(Op::ReadUnit)?;
        let idx = crate::patients::mrn_token(session.keys(), mrn_system, mrn);
        let found = store::patient_entries(self.vault()?.conn(), session.keys(), Some(&idx))?;
        let detail = serde_json::json!({ "mrn": mrn, "entries": found.len() });
        self.audit_view(session, crate::unit::action::VIEWED, "unit:entries", detail, clock)?;
        Ok(found.into_iter().map(|(v, e)| (e, v)).collect())
    }
}
