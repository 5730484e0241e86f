//! The census feed through the façade (issue 17 item 6): `Workstation::stage_census` (no sign-in) seals the newest
//! signed census of `census_import_dir` beside the vault, and every sign-in imports a staged census newer than the
//! current one. Design: ARCHITECTURE.md, "The census without a password".

use std::path::PathBuf;

use serde::Serialize;
use time::OffsetDateTime;

use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::Op;
use crate::census_feed::{self as feed, FeedError, Header, StagedHeader};
use crate::clock::{parse_stamp, Clock};
use crate::crypto::{hex, unhex, OsRandom};
use crate::patients::Provenance;

/// Audit actions of the feed.
pub mod action {
    /// A staged census imported at sign-in (detail: snapshot time, patients, signer's fingerprint).
    pub const FEED_IMPORTED: &str = "census.feed_imported";
    /// A staged census that did not open or verify at sign-in, removed (detail: the reason).
    pub const FEED_REFUSED: &str = "census.feed_refused";
    /// The workstation's census inbox key published (at the first sign-in after an upgrade, or after `dtk rekey`).
    pub const INBOX_PUBLISHED: &str = "census.inbox_published";
}

impl From<FeedError> for ApiError {
    fn from(e: FeedError) -> Self {
        let code = match e {
            FeedError::NoKey => ErrorCode::Unavailable,
            FeedError::BadSignature { .. } => ErrorCode::Integrity,
            _ => ErrorCode::InvalidInput,
        };
        ApiError::new(code, e.to_string())
    }
}

/// What `dtk census stage` did.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    /// `staged`: a newer census is sealed beside the vault, imported at the next sign-in; `up_to_date`: the newest
    /// signed file is not newer than what this workstation has or has staged.
    pub outcome: &'static str,
    pub file: Option<PathBuf>,
    pub snapshot_time: Option<String>,
    pub patients: Option<usize>,
    /// Files of the feed passed over, each with why (a forged or damaged file is named, never silently skipped).
    pub passed_over: Vec<(PathBuf, String)>,
}

/// [`Provenance::via`] of a census imported by someone signed in.
const VIA_FILE: &str = "file";
/// [`Provenance::via`] of a staged census imported at a sign-in.
const VIA_FEED: &str = "feed";

/// The current census as `dtk census status` and the banner show it: counts, times and the signer's fingerprint,
/// never a patient. Stale as readiness's `census` check says it (an age that cannot be read is stale too).
#[derive(Debug, Clone, Serialize)]
pub struct CensusSummary {
    pub snapshot_time: String,
    pub age_hours: Option<i64>,
    pub max_age_hours: u32,
    pub stale: bool,
    pub patients: i64,
    pub imported_at: String,
    pub imported_by: String,
    /// `None`: imported by a version that did not record it.
    pub provenance: Option<Provenance>,
}

impl Workstation {
    fn staged_path(&self) -> PathBuf {
        self.dir.join(feed::STAGED_FILE)
    }

    /// The staged census's plain header, if a readable one is there (for readiness, which holds no key).
    pub fn staged_census(&self) -> Option<StagedHeader> {
        let bytes = std::fs::read(self.staged_path()).ok()?;
        feed::staged_header(&bytes).ok()
    }

    /// When the current snapshot was taken (none imported: `None`).
    fn census_taken(&self) -> Option<OffsetDateTime> {
        let conn = self.vault.as_ref()?.conn();
        let snap = crate::patients::current_snapshot(conn).ok().flatten()?;
        parse_stamp(&snap.snapshot_time)
    }

    /// The bundle of a census file and how it came: a signed file is checked against the site's census key first (a
    /// file that says it is signed and does not verify is refused, never read as plain); any other file is the
    /// bundle itself.
    pub(super) fn census_bundle<'a>(&self, bytes: &'a [u8]) -> Result<(&'a [u8], Provenance), ApiError> {
        if !feed::is_signed(bytes) {
            return Ok((bytes, Provenance { via: VIA_FILE.into(), signer: None }));
        }
        let key = feed::site_key(&self.site)?;
        let (header, bundle) = feed::verify(bytes, &key)?;
        Ok((bundle, Provenance { via: VIA_FILE.into(), signer: Some(signer(&header)) }))
    }

    /// When the current census was taken, its age against the site's `census_max_age_hours`, how many patients it
    /// holds and how it came (signed or not): no patient data, so the administrator, who imports the census but
    /// may not read the unit (`Op::ReadUnit`), sees it too, as every role does in the banner. Unlike the unit's
    /// data it is not held back while a one-time password waits to be changed: the banner over "Choose your
    /// password" would otherwise say there is no census.
    pub fn census_summary(&self, session: &Session, clock: &dyn Clock) -> Result<Option<CensusSummary>, ApiError> {
        let role = session.role();
        if !(role.allows(Op::ImportCensus) || role.allows(Op::ReadUnit)) {
            session.require(Op::ReadUnit)?;
        }
        let conn = self.vault()?.conn();
        let Some(snap) = crate::patients::current_snapshot(conn)? else { return Ok(None) };
        let provenance = crate::patients::provenance(conn, session.keys(), &snap.id)?;
        let limit = self.site.census_max_age_hours;
        let age_hours =
            parse_stamp(&snap.snapshot_time).map(|t| (clock.now() - t).max(time::Duration::ZERO).whole_hours());
        Ok(Some(CensusSummary {
            stale: age_hours.is_none_or(|h| h >= i64::from(limit)),
            snapshot_time: snap.snapshot_time,
            age_hours,
            max_age_hours: limit,
            patients: snap.patient_count,
            imported_at: snap.imported_at,
            imported_by: snap.imported_by,
            provenance,
        }))
    }

    /// Seals the newest signed census of `census_import_dir` beside the vault, for the next sign-in to import. Needs
    /// no sign-in and no password (a scheduled job of hospital IT runs it while the EHR is up); the vault is only read.
    pub fn stage_census(&self, clock: &dyn Clock) -> Result<StageReport, ApiError> {
        let vault = self.vault()?;
        let folder = self.site.census_import_dir.clone().ok_or_else(|| {
            ApiError::new(ErrorCode::Unavailable, "census_import_dir is not set in site.json: nothing to stage from")
        })?;
        let key = feed::site_key(&self.site)?;
        let inbox = vault.meta_text(feed::INBOX_META)?.and_then(|h| unhex::<32>(&h)).ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unavailable,
                "this workstation has no census inbox key yet: sign in once (any user) after the upgrade",
            )
        })?;
        let scan = feed::scan(&folder, &key)
            .map_err(|e| ApiError::new(ErrorCode::Io, format!("{}: {e}", folder.display())))?;
        let Some((path, header, bytes)) = scan.newest else {
            let why: Vec<String> = scan.refused.iter().map(|(p, e)| format!("{}: {e}", p.display())).collect();
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!(
                    "no signed census (*.{}) in {} verifies{}",
                    feed::EXTENSION,
                    folder.display(),
                    if why.is_empty() { String::new() } else { format!(" ({})", why.join("; ")) }
                ),
            ));
        };
        let staged_taken = self.staged_census().and_then(|s| parse_stamp(&s.census.snapshot_time));
        let have = self.census_taken().max(staged_taken);
        let report = |outcome: &'static str| StageReport {
            outcome,
            file: Some(path.clone()),
            snapshot_time: Some(header.snapshot_time.clone()),
            patients: Some(header.patients),
            passed_over: scan.refused.clone(),
        };
        if have.is_some_and(|t| header.taken() <= t) {
            return Ok(report("up_to_date"));
        }
        let staged = feed::stage(&bytes, &header, &inbox, clock.now(), &mut OsRandom)?;
        let target = self.staged_path();
        crate::durable::write_private(&target, &staged)
            .map_err(|e| ApiError::new(ErrorCode::Io, format!("{}: {e}", target.display())))?;
        Ok(report("staged"))
    }

    /// After a sign-in: publishes this generation's inbox key, then imports a staged census newer than the current
    /// snapshot. A staged file that does not open or verify is removed and audited (readiness then shows the old
    /// census's age, which is the truth). Never stops the sign-in.
    pub(super) fn census_pick_up(&mut self, session: &Session, now: OffsetDateTime) {
        let public = hex(&session.keys().inbox_public());
        let Ok(vault) = self.vault_mut() else { return };
        if vault.meta_text(feed::INBOX_META).ok().flatten().as_deref() != Some(public.as_str()) {
            let _next_sign_in_tries_again = vault.write(session.keys(), session.username(), now, |tx| {
                if tx.update("meta", &[&feed::INBOX_META], None, &[("value", &public.as_bytes())])? == 0 {
                    tx.insert_meta(feed::INBOX_META, public.as_bytes())?;
                }
                tx.audit(action::INBOX_PUBLISHED, "meta:census_inbox", &serde_json::json!({}))
            });
        }
        let path = self.staged_path();
        let Ok(bytes) = std::fs::read(&path) else { return };
        let outcome = self.import_staged(session, &bytes, now);
        if let Err(reason) = &outcome {
            if let Ok(vault) = self.vault_mut() {
                let _audited = vault.write(session.keys(), session.username(), now, |tx| {
                    tx.audit(action::FEED_REFUSED, "census.staged", &serde_json::json!({ "reason": reason }))
                });
            }
        }
        // Imported, older than what is here, or refused: this file has nothing more to give. Only a failed write
        // (a full disk) keeps it for the next sign-in.
        let write_failed = matches!(&outcome, Err(r) if r.starts_with(WRITE_FAILED));
        if !write_failed {
            let _ = crate::durable::remove(&path);
        }
    }

    /// Opens, verifies and (when newer) imports a staged census; the error is the audited reason.
    fn import_staged(&mut self, session: &Session, bytes: &[u8], now: OffsetDateTime) -> Result<(), String> {
        let key = feed::site_key(&self.site).map_err(|e| e.to_string())?;
        let signed = feed::open_staged(bytes, session.keys(), &key).map_err(|e| e.to_string())?;
        let (header, bundle) = feed::verify(&signed, &key).map_err(|e| e.to_string())?;
        if self.census_taken().is_some_and(|t| header.taken() <= t) {
            return Ok(());
        }
        let census = crate::census::parse(bundle, Some(&self.site.mrn_system)).map_err(|e| e.to_string())?;
        let vault = self.vault_mut().map_err(|e| e.to_string())?;
        vault
            .write(session.keys(), session.username(), now, |tx| {
                let from = Provenance { via: VIA_FEED.into(), signer: Some(signer(&header)) };
                crate::patients::import_census(tx, &census, &from)?;
                tx.audit(action::FEED_IMPORTED, "census.staged", &feed_detail(&header))
            })
            .map(|_| ())
            .map_err(|e| format!("{WRITE_FAILED}{e}"))
    }
}

/// The start of the reason when the import's write failed (kept for the next sign-in, unlike a refusal).
const WRITE_FAILED: &str = "the import could not be written: ";

/// The fingerprint of the census key that signed a verified file.
fn signer(header: &Header) -> String {
    unhex::<32>(&header.signer).map(|k| crate::handoff::fingerprint(&k)).unwrap_or_default()
}

fn feed_detail(header: &Header) -> serde_json::Value {
    serde_json::json!({ "snapshot_time": header.snapshot_time, "patients": header.patients, "signer": signer(header) })
}
