//! Account provisioning in the façade: roster import by hospital IT, break-glass emergency accounts by the charge
//! nurse, disabling and unlocking accounts, and rotating the data key (`dtk rekey`).

use serde::Serialize;

use super::{ApiError, ErrorCode, Session, Workstation};
use crate::auth::{self, AuthError, NewUser, Op, Role};
use crate::clock::Clock;
use crate::crypto::{DataKey, KdfParams, Password, RecoveryKey};
use crate::keyring::{self, WrapKind};
// Shared with IT's signed roster, which reads CSV and makes one-time passwords the same way.
use crate::roster::build::{csv_fields, one_time_password};
use crate::roster::store;
use crate::vault::VaultError;

/// Longest an emergency account may live: one long shift.
pub const MAX_EMERGENCY_HOURS: i64 = 24;

/// Audit action for break-glass accounts (the user row also carries the flag).
pub const EMERGENCY_ADDED: &str = "user.emergency_added";

/// One account created by a roster import, with the one-time password to hand over in person.
#[derive(Serialize)]
pub struct Provisioned {
    pub username: String,
    pub role: Role,
    pub one_time_password: String,
}

/// A break-glass account request.
pub struct EmergencyUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password: &'a Password,
    pub reason: &'a str,
    pub hours: i64,
}

/// A break-glass account request whose password the core makes ([`Workstation::add_emergency_user_with_one_time_password`]).
#[derive(Clone, Copy)]
pub struct EmergencyRequest<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub reason: &'a str,
    pub hours: i64,
}

/// What a roster import did.
#[derive(Serialize)]
pub struct RosterResult {
    pub created: Vec<Provisioned>,
    /// Usernames already present (left as they are), so a roster can be imported again safely.
    pub skipped: Vec<String>,
}

/// A staff account as shown to administrators.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserInfo {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub active: bool,
    /// A one-time password (roster import, the admin desk's add or reset) is still to be changed.
    pub must_change: bool,
    pub emergency: bool,
    pub expires_at: Option<String>,
    /// Consecutive failed sign-ins: the account is locked from [`auth::LOCK_AFTER_FAILURES`] on (unless the site's
    /// `account_lockout` is `off`).
    pub failed_sign_ins: i64,
}

impl From<&auth::User> for UserInfo {
    fn from(u: &auth::User) -> Self {
        UserInfo {
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            active: u.active,
            must_change: u.must_change,
            emergency: u.emergency,
            expires_at: u.expires_at.clone(),
            failed_sign_ins: u.failed_sign_ins(),
        }
    }
}

/// What `dtk rekey` did.
#[derive(Serialize)]
pub struct Rekeyed {
    /// The new data key's generation (2 after the first rekey).
    pub generation: u32,
    /// Every other account that could sign in, now on a one-time password that opens the new key: hand them over in
    /// person, as after a roster import.
    pub reset: Vec<Provisioned>,
    /// Site roster users (src/roster): the new key wrapped to their public key, so they keep their own password.
    pub roster_kept: Vec<String>,
    /// Wraps removed because their accounts were disabled or expired.
    pub wraps_removed: usize,
}

/// The roster's three columns, in the order used when there is no header line.
const ROSTER_COLUMNS: [&str; 3] = ["username", "display name", "role"];

fn roster_error(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidInput, message)
}

/// Reads a roster (CSV: username, display name, role). A header line (the first line, when one of its fields is
/// `username`) names the columns in any order
/// (`display_name` or `display name`); a column named twice, an unknown column and a username listed twice are
/// refused by name rather than one silently winning.
fn parse_roster(csv: &str) -> Result<Vec<(String, String, Role)>, ApiError> {
    let mut order = [0usize, 1, 2];
    let mut rows: Vec<(String, String, Role)> = Vec::new();
    let mut first_line: Vec<usize> = Vec::new();
    let mut seen_content = false;
    for (n, line) in csv.lines().enumerate() {
        let line_no = n + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let f = csv_fields(line);
        // A header names the username column somewhere (in any order); a data line never holds that word there.
        if !seen_content && f.iter().any(|h| h.eq_ignore_ascii_case("username")) {
            seen_content = true;
            let mut found: [Option<usize>; 3] = [None; 3];
            for (i, name) in f.iter().enumerate() {
                let norm = name.to_lowercase().replace('_', " ");
                let col = ROSTER_COLUMNS.iter().position(|c| *c == norm).ok_or_else(|| {
                    roster_error(format!(
                        "roster header (line {line_no}): unknown column '{}'; the columns are username, display name, role",
                        name.chars().take(40).collect::<String>()
                    ))
                })?;
                if found[col].replace(i).is_some() {
                    return Err(roster_error(format!(
                        "roster header (line {line_no}): the column '{}' is given twice",
                        ROSTER_COLUMNS[col]
                    )));
                }
            }
            for (col, at) in found.iter().enumerate() {
                order[col] = at.ok_or_else(|| {
                    roster_error(format!("roster header (line {line_no}): no '{}' column", ROSTER_COLUMNS[col]))
                })?;
            }
            continue;
        }
        seen_content = true;
        if f.len() != 3 {
            return Err(roster_error(format!(
                "roster line {line_no}: expected 3 fields (username, display name, role), found {}",
                f.len()
            )));
        }
        let (username, display, role) = (&f[order[0]], &f[order[1]], &f[order[2]]);
        let role = Role::parse(&role.to_lowercase())
            .ok_or_else(|| roster_error(format!("roster line {line_no}: role must be nurse, charge, him or admin")))?;
        auth::check_username(username).map_err(|e| roster_error(format!("roster line {line_no}: {e}")))?;
        if let Some(i) = rows.iter().position(|(u, _, _)| u == username) {
            return Err(roster_error(format!(
                "roster line {line_no}: the username '{username}' is already on line {}",
                first_line[i]
            )));
        }
        rows.push((username.clone(), display.clone(), role));
        first_line.push(line_no);
    }
    Ok(rows)
}

/// The synthetic census of the demo unit.
const DEMO_CENSUS: &str = include_str!("../../assets/demo/census-demo.json");
/// The demo unit's escalation ladder and contacts, written beside its vault as [`DEMO_ESCALATION_FILE`].
const DEMO_ESCALATION: &str = include_str!("../../assets/demo/escalation-demo.json");
pub const DEMO_ESCALATION_FILE: &str = "escalation.json";
/// The demo accounts and their shared, published password (demo vaults hold synthetic data only).
pub const DEMO_USERS: [(&str, &str, Role); 3] = [
    ("demo.nurse", "Demo Nurse", Role::Nurse),
    ("demo.charge", "Demo Charge Nurse", Role::Charge),
    ("demo.him", "Demo HIM Analyst", Role::Him),
];
pub const DEMO_PASSWORD: &str = "demo-password";
/// The made-up unit of the demo census, the unit name `dtk init --demo` gives when none is named.
pub const DEMO_UNIT: &str = "5 East";
/// How long before the demo is loaded its practice downtime began, so that the MAR has a dose overdue to practise
/// charting on (Okafor's metoprolol, last given five hours before the outage, every six hours).
pub const DEMO_OUTAGE_HOURS: i64 = 3;

/// The demo census with its last doses given moved to keep their distance from the outage's start: the snapshot's
/// doses are weeks old, and a MAR counts the next dose from the last one, so without this nothing would be due.
fn demo_census(outage: time::OffsetDateTime) -> Vec<u8> {
    let Ok(mut bundle) = serde_json::from_str::<serde_json::Value>(DEMO_CENSUS) else {
        return DEMO_CENSUS.as_bytes().to_vec();
    };
    let taken = bundle["timestamp"].as_str().and_then(crate::clock::parse_stamp);
    if let (Some(taken), Some(entries)) = (taken, bundle["entry"].as_array_mut()) {
        for r in entries.iter_mut().map(|e| &mut e["resource"]) {
            if r["resourceType"] != "MedicationAdministration" {
                continue;
            }
            if let Some(at) = r["effectiveDateTime"].as_str().and_then(crate::clock::parse_stamp) {
                r["effectiveDateTime"] = crate::clock::stamp(outage + (at - taken)).into();
            }
        }
    }
    serde_json::to_vec(&bundle).unwrap_or_else(|_| DEMO_CENSUS.as_bytes().to_vec())
}

impl Workstation {
    /// Loads the demo unit so a newcomer can try everything: the synthetic census, one account per clinical role
    /// (password [`DEMO_PASSWORD`]), a block of temporary MRNs, and an open DRILL episode (so nothing charted in the
    /// demo can ever be exported). Administrators only, typically right after set-up.
    pub fn load_demo_unit(&mut self, session: &Session, clock: &dyn Clock) -> Result<(), ApiError> {
        session.require(Op::ManageUsers)?;
        let outage = crate::clock::FixedClock::new(clock.now() - time::Duration::hours(DEMO_OUTAGE_HOURS));
        self.import_census(session, &demo_census(outage.now()), clock)?;
        let existing: Vec<String> = auth::list_users(self.vault()?.conn())?.into_iter().map(|u| u.username).collect();
        for (username, display, role) in DEMO_USERS {
            if existing.iter().any(|u| u == username) {
                continue;
            }
            self.add_user(
                session,
                super::AddUserRequest {
                    username: username.into(),
                    display_name: display.into(),
                    role,
                    password: Password::new(DEMO_PASSWORD.into()),
                },
                clock,
            )?;
        }
        // What the demo adds to the site configuration: written to site.json when there is none yet.
        let mut settings = serde_json::Map::new();
        if self.site.temp_mrn_block.is_none() {
            let block = crate::site::MrnBlock { prefix: "DEMO-".into(), first: 1, last: 999 };
            settings.insert("temp_mrn_block".into(), serde_json::json!(&block));
            self.site.temp_mrn_block = Some(block);
        }
        if self.site.escalation_file.is_none() {
            // The demo's escalation ladder (synthetic 555-01xx numbers), beside the vault like its site.json.
            let file = self.dir.join(DEMO_ESCALATION_FILE);
            if !file.exists() {
                crate::durable::write(&file, DEMO_ESCALATION.as_bytes())
                    .map_err(|e| ApiError::new(ErrorCode::Io, format!("writing {}: {e}", file.display())))?;
            }
            settings.insert("escalation_file".into(), DEMO_ESCALATION_FILE.into());
            self.escalation = crate::escalation::load(Some(&file), None);
            self.site.escalation_file = Some(file);
        }
        let path = self.dir.join(crate::site::FILE_NAME);
        if !settings.is_empty() && !path.exists() {
            let text = serde_json::to_string_pretty(&settings).unwrap_or_default();
            crate::durable::write(&path, text.as_bytes())
                .map_err(|e| ApiError::new(ErrorCode::Io, format!("writing {}: {e}", path.display())))?;
        }
        if crate::episodes::current(self.vault()?.conn(), session.keys())?.is_none() {
            let declaration = crate::episodes::Declaration {
                reason: Some("Demo unit: practice with synthetic patients".into()),
                severity: Some(crate::procedures::Severity::P3),
                affected: vec!["EHR".into()],
                impact: Some("None: this is a practice episode on a demo unit.".into()),
                next_update_due: None,
                began_at: None,
            };
            self.start_episode(session, crate::episodes::Kind::Drill, declaration, &outage)?;
        }
        Ok(())
    }

    /// Imports a roster (CSV: username, display name, role; a header line is allowed). Every new account gets a
    /// one-time password that must be changed at first sign-in. All or nothing: a bad line changes nothing.
    pub fn import_roster(&mut self, session: &Session, csv: &str, clock: &dyn Clock) -> Result<RosterResult, ApiError> {
        session.require(Op::ManageUsers)?;
        let rows = parse_roster(csv)?;
        let vault = self.vault_mut()?;
        let existing: Vec<String> = auth::list_users(vault.conn())?.into_iter().map(|u| u.username).collect();
        let dek = session.dek.clone();
        let result =
            vault.write(session.keys(), session.username(), clock.now(), |tx| -> Result<RosterResult, ApiError> {
                let mut created = Vec::new();
                let mut skipped = Vec::new();
                for (username, display, role) in &rows {
                    if existing.contains(username) {
                        skipped.push(username.clone());
                        continue;
                    }
                    let otp = one_time_password(tx);
                    let password = Password::new(otp.clone());
                    auth::create_user(
                        tx,
                        &dek,
                        &NewUser {
                            username,
                            display_name: display,
                            role: *role,
                            password: &password,
                            must_change: true,
                            expires_at: None,
                            emergency: false,
                        },
                        KdfParams::FLOOR,
                    )?;
                    created.push(Provisioned { username: username.clone(), role: *role, one_time_password: otp });
                }
                Ok(RosterResult { created, skipped })
            })?;
        Ok(result.into_value())
    }

    /// Creates a break-glass account for staff who have none (agency nurse, float pool): a nurse account that
    /// expires, needs a reason, and is flagged in the user list and the audit log.
    pub fn add_emergency_user(
        &mut self,
        session: &Session,
        req: &EmergencyUser<'_>,
        clock: &dyn Clock,
    ) -> Result<UserInfo, ApiError> {
        let EmergencyUser { username, display_name, password, reason, hours } = *req;
        session.require(Op::AddEmergencyUser)?;
        if reason.trim().is_empty() {
            return Err(ApiError::new(ErrorCode::InvalidInput, "an emergency account needs a reason"));
        }
        if !(1..=MAX_EMERGENCY_HOURS).contains(&hours) {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("an emergency account lasts 1 to {MAX_EMERGENCY_HOURS} hours"),
            ));
        }
        let now = clock.now();
        let dek = session.dek.clone();
        let vault = self.vault_mut()?;
        let user = vault.write(session.keys(), session.username(), now, |tx| -> Result<auth::User, ApiError> {
            let user = auth::create_user(
                tx,
                &dek,
                &NewUser {
                    username,
                    display_name,
                    role: Role::Nurse,
                    password,
                    must_change: false,
                    expires_at: Some(now + time::Duration::hours(hours)),
                    emergency: true,
                },
                KdfParams::FLOOR,
            )?;
            tx.audit(
                EMERGENCY_ADDED,
                &format!("users:{}", user.id),
                &serde_json::json!({ "username": username, "reason": reason.trim(), "hours": hours }),
            )?;
            Ok(user)
        })?;
        Ok(UserInfo::from(user.value()))
    }

    /// As [`Workstation::add_emergency_user`], with a one-time password made here (12 characters without
    /// look-alikes) instead of one typed in: the app shows it once to the charge nurse, who hands it over in person.
    pub fn add_emergency_user_with_one_time_password(
        &mut self,
        session: &Session,
        request: &EmergencyRequest<'_>,
        clock: &dyn Clock,
    ) -> Result<(UserInfo, Password), ApiError> {
        let password = Password::new(one_time_password(&mut crate::crypto::OsRandom));
        let EmergencyRequest { username, display_name, reason, hours } = *request;
        let req = EmergencyUser { username, display_name, password: &password, reason, hours };
        let info = self.add_emergency_user(session, &req, clock)?;
        Ok((info, password))
    }

    /// Adds a staff account with a one-time password made here (the admin desk's "add user"): it must be changed at
    /// first sign-in, as a roster import's. Administrators only; the password is shown once and handed over in person.
    pub fn add_user_with_one_time_password(
        &mut self,
        session: &Session,
        username: &str,
        display_name: &str,
        role: Role,
        clock: &dyn Clock,
    ) -> Result<(super::UserInfo, Password), ApiError> {
        session.require(Op::ManageUsers)?;
        let password = Password::new(one_time_password(&mut crate::crypto::OsRandom));
        let dek = session.dek.clone();
        let new = NewUser {
            username,
            display_name,
            role,
            password: &password,
            must_change: true,
            expires_at: None,
            emergency: false,
        };
        let vault = self.vault_mut()?;
        let user = vault
            .write(session.keys(), session.username(), clock.now(), |tx| {
                auth::create_user(tx, &dek, &new, KdfParams::FLOOR)
            })?
            .into_value();
        Ok((UserInfo::from(&user), password))
    }

    /// Replaces a user's password with a one-time password (a forgotten password): the old one opens nothing from
    /// now on, and the user chooses their own at the next sign-in. Administrators only; not their own account (they
    /// change their own password as anyone does).
    pub fn reset_to_one_time_password(
        &mut self,
        session: &Session,
        username: &str,
        clock: &dyn Clock,
    ) -> Result<(super::UserInfo, Password), ApiError> {
        session.require(Op::ManageUsers)?;
        if username == session.username() {
            return Err(ApiError::new(ErrorCode::InvalidInput, "change your own password with \"Change my password\""));
        }
        let password = Password::new(one_time_password(&mut crate::crypto::OsRandom));
        let dek = session.dek.clone();
        let vault = self.vault_mut()?;
        let user = auth::find_user(vault.conn(), username)?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("there is no user named '{username}'")))?;
        let updated = vault
            .write(session.keys(), session.username(), clock.now(), |tx| {
                auth::reset_password(tx, &dek, &user, &password)
            })?
            .into_value();
        Ok((UserInfo::from(&updated), password))
    }

    /// Disables an account: it can no longer sign in; what it wrote stays attributed to it.
    pub fn disable_user(&mut self, session: &Session, username: &str, clock: &dyn Clock) -> Result<(), ApiError> {
        session.require(Op::ManageUsers)?;
        if username == session.username() {
            return Err(ApiError::new(ErrorCode::InvalidInput, "you cannot disable your own account"));
        }
        let vault = self.vault_mut()?;
        let user = auth::find_user(vault.conn(), username)?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("there is no user named '{username}'")))?;
        let _done = vault.write(session.keys(), session.username(), clock.now(), |tx| auth::disable_user(tx, &user))?;
        Ok(())
    }

    /// Rotates the data key (`dtk rekey`, administrators): a new key seals everything written from now on, the old
    /// one is kept sealed under it (so current users read everything), and no wrap of the old key opens the new one.
    /// The administrator's password (checked against their wrap) and the recovery key (checked against the vault) are
    /// wrapped around the new key. A site roster user's wrap needs only their public key, so the new key is wrapped
    /// to it and they keep their password; every other account that can sign in gets a one-time password wrapping
    /// it, because its own password is not known here (ARCHITECTURE.md, "Rotating the data key"). The session moves
    /// to the new key. One transaction: a failure changes nothing.
    pub fn rekey(
        &mut self,
        session: &mut Session,
        password: &Password,
        recovery_key: &str,
        clock: &dyn Clock,
    ) -> Result<Rekeyed, ApiError> {
        session.require(Op::ManageUsers)?;
        let now = clock.now();
        let vault = self.vault_mut()?;
        let recovery =
            RecoveryKey::parse(recovery_key).map_err(|e| ApiError::new(ErrorCode::BadCredentials, e.to_string()))?;
        if keyring::open_with_recovery(vault.conn(), &recovery)?.is_none() {
            return Err(ApiError::new(ErrorCode::BadCredentials, "the recovery key does not open this vault"));
        }
        let admin = session.user.clone();
        let (kind, own) = keyring::load_wrap(vault.conn(), &admin.id)?
            .ok_or_else(|| VaultError::Integrity(format!("key_wraps: no key wrap for user '{}'", admin.username)))?;
        keyring::open_wrap(kind, &own, &admin.username, &admin.id, password)
            .map_err(|_| AuthError::BadPassword(admin.username.clone()))?;
        let users = auth::list_users(vault.conn())?;
        let old = session.dek.clone();
        let (new, rekeyed) = vault
            .write(session.keys(), session.username(), now, |tx| -> Result<(DataKey, Rekeyed), ApiError> {
                let mut wraps_removed = auth::remove_expired_wraps(tx, now)?;
                let new = DataKey::generate(tx);
                let generation = keyring::add_generation(tx, &new, &old)?;
                if kind == WrapKind::Roster {
                    store::rewrap_data_key(tx, &new, &admin)?;
                } else {
                    keyring::store_wrap(tx, &new, &admin.id, password, KdfParams::FLOOR)?;
                }
                keyring::store_recovery_wrap(tx, &new, &recovery)?;
                let (mut reset, mut kept) = (Vec::new(), Vec::new());
                for user in users.iter().filter(|u| u.id != admin.id) {
                    if keyring::load_wrap(tx.sql(), &user.id)?.is_none() {
                        continue;
                    }
                    if !user.active {
                        // Disabled before disabling removed wraps: removed now.
                        wraps_removed += usize::from(keyring::remove_wrap(tx.sql(), &user.id)?);
                        continue;
                    }
                    if store::rewrap_data_key(tx, &new, user)? {
                        kept.push(user.username.clone());
                        continue;
                    }
                    let otp = one_time_password(tx);
                    auth::reset_to_one_time(tx, &new, user, &Password::new(otp.clone()))?;
                    reset.push(Provisioned { username: user.username.clone(), role: user.role, one_time_password: otp });
                }
                let usernames: Vec<&str> = reset.iter().map(|p| p.username.as_str()).collect();
                tx.audit(
                    crate::audit::action::VAULT_REKEYED,
                    "vault",
                    &serde_json::json!({ "generation": generation, "reset": usernames, "roster_kept": kept, "wraps_removed": wraps_removed }),
                )?;
                Ok((new, Rekeyed { generation, reset, roster_kept: kept, wraps_removed }))
            })?
            .into_value();
        // From here on the session seals under the new key.
        session.keys = keyring::keys_for(vault.conn(), &new)?
            .ok_or_else(|| VaultError::Integrity("meta key_chain: the new key does not open its own chain".into()))?;
        session.dek = new;
        Ok(rekeyed)
    }

    /// Lifts the lock on an account locked after [`auth::LOCK_AFTER_FAILURES`] failed sign-ins (or a throttle), so
    /// the right password opens it again. Administrators may; charge nurses too when the site's `account_lockout`
    /// is `admin_or_charge`, except for an administrator's account (IT's own accounts stay with IT). Audited.
    pub fn unlock_user(&mut self, session: &Session, username: &str, clock: &dyn Clock) -> Result<(), ApiError> {
        session.require(Op::UnlockUser)?;
        let by_charge = session.role() == Role::Charge;
        if by_charge && self.site.account_lockout != crate::site::AccountLockout::AdminOrCharge {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "this site's account_lockout setting lets only an administrator unlock accounts",
            ));
        }
        let vault = self.vault_mut()?;
        let user = auth::find_user(vault.conn(), username)?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("there is no user named '{username}'")))?;
        if by_charge && user.role == Role::Admin {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "an administrator's account is unlocked by an administrator",
            ));
        }
        let _done = vault.write(session.keys(), session.username(), clock.now(), |tx| auth::unlock_user(tx, &user))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{csv_fields, parse_roster};
    use crate::api::{InitRequest, Workstation};
    use crate::auth::Role;
    use crate::clock::SystemClock;
    use crate::crypto::{Password, PASSWORD_DERIVATIONS};

    /// Issue 17 item 4: an unknown name returned at once (no Argon2id) with its own code, so a guesser could list the
    /// staff ids by the answer or by its speed. Counted, not timed: the unknown name runs the one derivation a wrong
    /// password runs, and gets the same code and message.
    #[test]
    fn fail_unknown_username_told_apart_from_a_wrong_password() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ws = Workstation::open(dir.path()).expect("open");
        let init = InitRequest {
            unit: "5 East".into(),
            admin: "it.admin".into(),
            display_name: "IT Admin".into(),
            password: Password::new("admin-pass-1".into()),
        };
        ws.init(init, &SystemClock).expect("init");
        let derivations = || PASSWORD_DERIVATIONS.with(std::cell::Cell::get);
        let attempt = |ws: &mut Workstation, name: &str| {
            let before = derivations();
            let err = ws.sign_in(name, &Password::new("not-the-password".into()), &SystemClock).err().expect("refused");
            (err.code, err.message, derivations() - before)
        };
        let wrong = attempt(&mut ws, "it.admin");
        let unknown = attempt(&mut ws, "ghost");
        assert_eq!(wrong.2, 1, "a wrong password costs one derivation");
        assert_eq!(unknown, wrong, "an unknown name gets the same code and message, at the same cost");
    }

    fn refused(csv: &str) -> String {
        parse_roster(csv).expect_err("refused").message
    }

    #[test]
    fn roster_header_names_columns_in_any_order() {
        let rows = parse_roster("Role,Username,Display_Name\nnurse,asmith,Anna Smith\n").expect("parses");
        assert_eq!(rows, vec![("asmith".to_string(), "Anna Smith".to_string(), Role::Nurse)]);
        let plain = parse_roster("# staff\nasmith,Anna Smith,nurse\n").expect("no header");
        assert_eq!(plain, rows);
    }

    #[test]
    fn fail_roster_repeated_column_or_username_named() {
        assert_eq!(
            refused("username,role,role\nasmith,nurse,charge\n"),
            "roster header (line 1): the column 'role' is given twice"
        );
        assert_eq!(
            refused("username,display name,role,ward\n"),
            "roster header (line 1): unknown column 'ward'; the columns are username, display name, role"
        );
        assert_eq!(refused("username,role\n"), "roster header (line 1): no 'display name' column");
        assert_eq!(
            refused("asmith,Anna Smith,nurse\nbjones,Bo Jones,charge\nasmith,Anna Smyth,charge\n"),
            "roster line 3: the username 'asmith' is already on line 1"
        );
    }

    #[test]
    fn csv_fields_handle_quotes_and_commas() {
        assert_eq!(
            csv_fields(r#"asmith,"Smith, Anna ""Annie""",nurse"#),
            vec!["asmith", r#"Smith, Anna "Annie""#, "nurse"]
        );
        assert_eq!(csv_fields("a,,c"), vec!["a", "", "c"]);
    }
}
