//! The site's signed roster in the façade: an administrator's import of a roster file, the roster found by itself
//! in `site.json`'s folder at sign-in, and a roster user's password change (ARCHITECTURE.md, "One account for the
//! site's workstations").

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::{AuthError, Op};
use crate::clock::Clock;
use crate::crypto::Password;
use crate::roster::{self, store, Roster, RosterError};

pub use store::Applied as RosterApplied;

impl From<RosterError> for ApiError {
    fn from(e: RosterError) -> Self {
        let code = match &e {
            RosterError::Vault(_) => {
                if let RosterError::Vault(v) = e {
                    return v.into();
                }
                ErrorCode::Io
            }
            RosterError::NoItKey => ErrorCode::NotInitialised,
            RosterError::BadSignature { .. } => ErrorCode::Integrity,
            RosterError::Rollback { .. } | RosterError::Reissued(_) => ErrorCode::Conflict,
            RosterError::ItKey(_) => ErrorCode::BadCredentials,
            _ => ErrorCode::InvalidInput,
        };
        ApiError::new(code, e.to_string())
    }
}

/// Names the roster file in front of the reason.
fn in_roster(path: &Path) -> impl Fn(RosterError) -> ApiError + '_ {
    move |e| {
        let mut a = ApiError::from(e);
        a.message = format!("{}: {}", path.display(), a.message);
        a
    }
}

impl Workstation {
    /// The folder where a newer roster is picked up at sign-in: `site.json`'s, else the vault folder.
    fn roster_folder(&self) -> PathBuf {
        self.site.folder.clone().unwrap_or_else(|| self.dir.clone())
    }

    /// The newest roster in the site's folder that verifies and that this vault has not applied yet.
    fn pending_roster(&self) -> Option<(PathBuf, Roster)> {
        let key = roster::site_key(&self.site).ok()?;
        let (path, found) = roster::newest_in(&self.roster_folder(), &key)?;
        let conn = self.vault.as_ref()?.conn();
        matches!(store::is_newer(conn, &found), Ok(true)).then_some((path, found))
    }

    /// Before a sign-in: refuses a user whom a roster in the site's folder disables, though nobody has signed in
    /// since it arrived to apply it.
    pub(super) fn roster_refuses(&self, username: &str) -> Result<(), ApiError> {
        let Some((_, pending)) = self.pending_roster() else { return Ok(()) };
        if store::refuses(self.vault()?.conn(), &pending, username)? {
            return Err(AuthError::Disabled(username.to_string()).into());
        }
        Ok(())
    }

    /// After a sign-in: applies a newer roster from the site's folder with the session's data key. A failure leaves
    /// it pending for the next sign-in (an administrator's `dtk user roster import` names what is wrong); it never
    /// stops the sign-in.
    pub(super) fn roster_pick_up(&mut self, session: &Session, now: OffsetDateTime) {
        let Some((_, pending)) = self.pending_roster() else { return };
        if let Ok(vault) = self.vault_mut() {
            let _pending_until_next_sign_in =
                vault.write(session.keys(), session.username(), now, |tx| store::apply(tx, &session.dek, &pending));
        }
    }

    /// Imports a roster file (administrators): checked against the site's IT key, refused when older than the one
    /// applied (rollback) or re-issued under the same version; the very same file again changes nothing.
    pub fn import_site_roster(
        &mut self,
        session: &Session,
        path: &Path,
        clock: &dyn Clock,
    ) -> Result<RosterApplied, ApiError> {
        session.require(Op::ManageUsers)?;
        let key = roster::site_key(&self.site).map_err(in_roster(path))?;
        let meta =
            std::fs::metadata(path).map_err(|e| ApiError::new(ErrorCode::Io, format!("{}: {e}", path.display())))?;
        if meta.len() > roster::MAX_BYTES as u64 {
            return Err(in_roster(path)(RosterError::Malformed(format!(
                "larger than the {} MiB limit",
                roster::MAX_BYTES >> 20
            ))));
        }
        let bytes =
            std::fs::read(path).map_err(|e| ApiError::new(ErrorCode::Io, format!("{}: {e}", path.display())))?;
        let found = roster::verify(&bytes, &key).map_err(in_roster(path))?;
        let vault = self.vault_mut()?;
        if !store::is_newer(vault.conn(), &found).map_err(in_roster(path))? {
            return Ok(RosterApplied { version: found.body.version, ..RosterApplied::default() });
        }
        let applied = vault
            .write(session.keys(), session.username(), clock.now(), |tx| store::apply(tx, &session.dek, &found))
            .map_err(in_roster(path))?;
        Ok(applied.into_value())
    }

    /// The changes file (`dtk user roster changes`, administrators): every roster user's secret as this workstation
    /// holds it, signed by its handoff key, for IT to merge into the next roster. Returns the file's bytes and the
    /// signing key (hex) IT lists with `--workstation-key`.
    pub fn export_roster_changes(
        &mut self,
        session: &Session,
        clock: &dyn Clock,
    ) -> Result<(Vec<u8>, String, usize), ApiError> {
        session.require(Op::ManageUsers)?;
        let workstation = self.workstation_id();
        let now = clock.now();
        let vault = self.vault_mut()?;
        let done = vault.write(session.keys(), session.username(), now, |tx| -> Result<_, ApiError> {
            let key = crate::handoff::signing_key(tx)?;
            let signer = crate::crypto::hex(key.verifying_key().as_bytes());
            let changes = store::current_secrets(tx.sql())?;
            let count = changes.len();
            let body = roster::changes::Body {
                workstation,
                signer: signer.clone(),
                created_at: crate::clock::stamp(now),
                changes,
            };
            tx.audit(store::action::CHANGES_EXPORTED, "roster", &serde_json::json!({ "users": count }))?;
            Ok((roster::changes::sign(&body, &key), signer, count))
        })?;
        Ok(done.into_value())
    }

    /// A roster user's password change: their secret re-wrapped under the new password. `None` for a local
    /// account (the caller changes its password wrap as before).
    pub(super) fn change_roster_password(
        &mut self,
        session: &Session,
        new_password: &Password,
        now: OffsetDateTime,
    ) -> Result<Option<crate::auth::User>, ApiError> {
        let Some(secret) = session.user_secret.as_ref() else { return Ok(None) };
        crate::auth::check_password(session.username(), new_password)?;
        let vault = self.vault_mut()?;
        let user = session.user.clone();
        let updated = vault
            .write(session.keys(), session.username(), now, |tx| {
                store::change_password(tx, &user, secret, new_password)
            })?
            .into_value();
        Ok(Some(updated))
    }
}
