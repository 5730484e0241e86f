//! The site configuration that hospital IT pushes to every workstation: unit name, forms folder, this
//! workstation's block of temporary MRNs, idle timeout, census import folder, interim backups, the FHIR servers HIM may
//! post to, the limits of the readiness check. A JSON file, validated with errors that name the field.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file name looked for inside the vault folder when no other configuration is named.
pub const FILE_NAME: &str = "site.json";
/// Environment variable naming the site configuration file.
pub const SITE_ENV: &str = "DTK_SITE";

/// A workstation's pre-assigned block of temporary MRNs: `prefix` + a number from `first` to `last`.
/// Each workstation gets its own block, so two workstations can never issue the same number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MrnBlock {
    pub prefix: String,
    pub first: u32,
    pub last: u32,
}

impl MrnBlock {
    pub fn format(&self, number: u32) -> String {
        format!("{}{number}", self.prefix)
    }
}

/// The response targets of one severity (issue 21 item 3), in minutes; the episode's timeline measures each and the
/// charge desk shows when one is missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseTarget {
    /// From when the outage began (as the declaration says) to the declaration.
    pub declare_minutes: i64,
    /// Between status updates, and from the declaration (or an escalation to this severity) to the next one.
    pub update_minutes: i64,
    /// From the declaration to the unit's first electronic entry.
    pub first_entry_minutes: i64,
}

/// The built-in response targets: the faster the worse the outage.
pub fn default_response_targets() -> std::collections::BTreeMap<crate::severity::Severity, ResponseTarget> {
    use crate::severity::Severity::*;
    let t = |declare_minutes, update_minutes, first_entry_minutes| ResponseTarget {
        declare_minutes,
        update_minutes,
        first_entry_minutes,
    };
    [(P1, t(15, 30, 15)), (P2, t(30, 60, 30)), (P3, t(60, 120, 60)), (P4, t(120, 240, 120))].into_iter().collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    /// Unit name shown on the banner and every printed page (else the one given at set-up).
    pub unit: Option<String>,
    /// Folder of form definitions (else the forms built into the application).
    pub forms_dir: Option<PathBuf>,
    /// The unit's downtime checklist (else the one built into the application).
    pub checklist_file: Option<PathBuf>,
    /// The unit's escalation ladder and contacts (`src/escalation.rs`; a relative path is read from the folder of
    /// this configuration). Without it the charge desk says that no escalation file is configured.
    pub escalation_file: Option<PathBuf>,
    /// Identifier system of the hospital's MRNs.
    pub mrn_system: String,
    /// Identifier system for temporary (downtime registration) MRNs.
    pub temp_mrn_system: String,
    pub temp_mrn_block: Option<MrnBlock>,
    /// Minutes of inactivity before the screen locks.
    pub idle_timeout_secs: u64,
    /// Folder the census snapshot is exported to while the EHR is up.
    pub census_import_dir: Option<PathBuf>,
    /// Two entries of the same patient, form and medication this close in clinical time are flagged as possible
    /// duplicates.
    pub duplicate_window_minutes: i64,
    /// The HIM station's handoff public key (X25519, 64 hex characters), distributed by hospital IT before any
    /// downtime. Handoff files are encrypted to it, so only the HIM station can read them (ARCHITECTURE.md, "Keys").
    pub him_public_key: Option<String>,
    /// HIM station: the folder the desktop app lists handoff files from (a USB stick's mount point or a shared
    /// folder), because the app's window cannot browse the file system itself.
    pub handoff_import_dir: Option<PathBuf>,
    /// Folder the app's print centre saves PDFs in unless the charge nurse types another (else the user's
    /// Documents/Downtime Kit).
    pub print_dir: Option<PathBuf>,
    /// Folder the app writes an interim backup of the vault to during a long outage (a USB stick's mount point or
    /// a share), so a dead disk does not lose what was charted here (`dtk restore` on a new workstation). It must
    /// exist when a backup is due: a missing folder is an unplugged stick, never created on the local disk.
    pub backup_dir: Option<PathBuf>,
    /// Hours between interim backups (1–24); a backup older than this is shown as overdue.
    pub backup_interval_hours: u32,
    /// HIM station: the FHIR servers a batch may be posted to, by name. Posting takes a name from this list and
    /// never a typed URL, so nobody can send the batch (every patient of the downtime) somewhere IT did not list.
    pub fhir_servers: Vec<FhirServer>,
    /// HIM station: a PEM file of CA certificates trusted for the FHIR servers besides the system's own store (a
    /// hospital's internal CA).
    pub fhir_ca_bundle: Option<PathBuf>,
    /// Readiness (`dtk readiness`): a census snapshot older than this many hours (from when the EHR took it) makes the
    /// workstation not ready, because a downtime starting now would chart on yesterday's patient list.
    pub census_max_age_hours: u32,
    /// Readiness: less free space than this (MB) on the vault's disk makes the workstation not ready.
    pub readiness_min_free_mb: u64,
    /// Readiness: fewer temporary MRNs left in `temp_mrn_block` than this is a warning (none left: not ready).
    pub temp_mrn_min_left: u32,
    /// Readiness: no drill in this many days is a warning.
    pub drill_max_age_days: u32,
    /// Response targets per severity (`{"P1": {"declare_minutes": 15, "update_minutes": 30, "first_entry_minutes":
    /// 15}, …}`); a severity left out has none. Without the setting, [`default_response_targets`].
    pub response_targets: std::collections::BTreeMap<crate::severity::Severity, ResponseTarget>,
    /// Readiness: no `dtk verify` in this many days is a warning.
    pub verify_max_age_days: u32,
    /// The site's IT key (Ed25519, 64 hex characters, printed by `dtk site it-key --create`): the workstation imports
    /// staff rosters signed by this key only (src/roster; ARCHITECTURE.md, "One account for the site's workstations").
    pub it_public_key: Option<String>,
    /// The census signing key (Ed25519, 64 hex characters, printed by `dtk site census-key --create`): the key of the
    /// job that exports the census while the EHR is up. `dtk census stage` (no password) and the sign-in take only
    /// census files signed by it (ARCHITECTURE.md, "The census without a password").
    pub census_public_key: Option<String>,
    /// The folder this configuration was read from: where the workstation looks for a newer roster at sign-in. Not
    /// a setting; `None` for the defaults (the vault folder is used).
    #[serde(skip)]
    pub folder: Option<PathBuf>,
    /// What a sign-in throttle at its longest delay turns into: a lock that a charge nurse or an administrator lifts
    /// (`"admin_or_charge"`, the default), one that only an administrator lifts (`"admin"`), or none (`"off"`).
    pub account_lockout: AccountLockout,
    /// The MAR (`dtk mar`): a dose charted this many minutes either side of a due time covers it, and a due time is
    /// "due" from this long before it until this long after it, "overdue" after that (1–240).
    pub mar_window_minutes: i64,
    /// The unit's time zone for the MAR's clock times: an IANA name ("America/New_York") or a POSIX TZ rule; else
    /// the workstation's own zone.
    pub time_zone: Option<String>,
    /// Folder of the site's tabletop scenarios for drills (`*.json`, README "Drill scenarios"), offered when a drill
    /// starts beside the ones built into the application.
    pub scenario_dir: Option<PathBuf>,
    /// The unit share (issue 20): a folder every workstation of the unit reaches (the hospital's file share, or one
    /// Syncthing replicates between the unit's PCs). Each workstation writes its own encrypted, signed segments into
    /// a folder of its own there and reads its peers'. A relative path is read from the folder of this
    /// configuration. Without it the workstation charts alone (ARCHITECTURE.md, "Unit share").
    pub unit_share_dir: Option<PathBuf>,
    /// The public keys of the unit's other workstations (Ed25519, 64 hex characters each, printed by `dtk unit key`
    /// on each): only segments signed by one of these are read, and segments are encrypted to each. A key is never
    /// trusted on first sight.
    pub unit_peers: Vec<String>,
}

/// Who unlocks an account locked after [`crate::auth::LOCK_AFTER_FAILURES`] failed sign-ins, or whether accounts
/// lock at all. One setting rather than an on/off switch beside a "who" list, so the two can never disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountLockout {
    /// The account locks; a charge nurse (on the unit, at 3 a.m.) or an administrator unlocks it.
    #[default]
    AdminOrCharge,
    /// The account locks; only an administrator unlocks it.
    Admin,
    /// No lock: the throttle alone keeps guessing to one try per longest delay (15 minutes).
    Off,
}

impl AccountLockout {
    /// Whether an account locks at all.
    pub fn locks(self) -> bool {
        self != AccountLockout::Off
    }

    /// Whom the locked person is told to ask.
    pub fn who_unlocks(self) -> &'static str {
        match self {
            AccountLockout::Admin => "an administrator",
            AccountLockout::AdminOrCharge | AccountLockout::Off => "a charge nurse or an administrator",
        }
    }
}

/// One FHIR server of the allowlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FhirServer {
    /// What the analyst chooses (`dtk export fhir --post NAME`, the HIM desk's list).
    pub name: String,
    /// The server's FHIR base URL: `https://…`, or `http://` on loopback only (a test server on this machine).
    pub base_url: String,
    /// SMART Backend Services (client credentials with a signed JWT): the token endpoint. With `client_id` and
    /// `scope`, posting asks it for an access token signed with the station's key (`dtk export smart-key`).
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// Checks a server URL: `https`, or plain `http` to this machine's loopback only (nothing leaves the machine), with no
/// user name or password in it. `what` names the field in the error.
pub fn check_server_url(what: &str, text: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(text).map_err(|e| format!("{what}: not a URL ({e})"))?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err(format!("{what}: must not carry a user name or password; credentials are given when posting"));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(format!("{what}: must not carry a query or a fragment"));
    }
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match u.scheme() {
        "https" if u.host().is_some() => Ok(u),
        "http" if loopback => Ok(u),
        "http" => {
            Err(format!("{what}: use https (plain http is allowed only to this machine: 127.0.0.1, [::1], localhost)"))
        }
        _ => Err(format!("{what}: use an https:// URL")),
    }
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            unit: None,
            forms_dir: None,
            checklist_file: None,
            escalation_file: None,
            mrn_system: "http://hospital.example.org/mrn".into(),
            temp_mrn_system: "http://hospital.example.org/downtime-mrn".into(),
            temp_mrn_block: None,
            idle_timeout_secs: 300,
            census_import_dir: None,
            duplicate_window_minutes: 60,
            him_public_key: None,
            handoff_import_dir: None,
            print_dir: None,
            backup_dir: None,
            backup_interval_hours: 4,
            fhir_servers: Vec::new(),
            fhir_ca_bundle: None,
            census_max_age_hours: 24,
            readiness_min_free_mb: 1024,
            temp_mrn_min_left: 20,
            drill_max_age_days: 90,
            response_targets: default_response_targets(),
            verify_max_age_days: 7,
            it_public_key: None,
            census_public_key: None,
            folder: None,
            account_lockout: AccountLockout::default(),
            mar_window_minutes: 60,
            time_zone: None,
            scenario_dir: None,
            unit_share_dir: None,
            unit_peers: Vec::new(),
        }
    }
}

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SiteError {
    #[error("{file}: {reason}")]
    Invalid { file: String, reason: String },
    #[error("{file}: cannot be read: {reason}")]
    Unreadable { file: String, reason: String },
}

impl SiteConfig {
    /// Parses and checks a configuration. `file` only names the file in errors.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<SiteConfig, SiteError> {
        let bad = |reason: String| SiteError::Invalid { file: file.into(), reason };
        let value = crate::json::parse_limited(bytes, 1024 * 1024, 16).map_err(|e| bad(e.to_string()))?;
        let cfg: SiteConfig = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        if let Some(b) = &cfg.temp_mrn_block {
            if b.first > b.last {
                return Err(bad("temp_mrn_block: first is after last".into()));
            }
            if b.prefix.is_empty()
                || b.prefix.len() > 16
                || !b.prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(
                    bad("temp_mrn_block.prefix: use 1–16 letters, digits or '-' (for example \"T5E-\")".into()),
                );
            }
        }
        if !(30..=86_400).contains(&cfg.idle_timeout_secs) && cfg.idle_timeout_secs != 0 {
            return Err(bad("idle_timeout_secs: between 30 and 86400 (0 turns the lock off only for drills)".into()));
        }
        if !(1..=24 * 60).contains(&cfg.duplicate_window_minutes) {
            return Err(bad("duplicate_window_minutes: between 1 and 1440".into()));
        }
        for (severity, t) in &cfg.response_targets {
            for (name, minutes) in [
                ("declare_minutes", t.declare_minutes),
                ("update_minutes", t.update_minutes),
                ("first_entry_minutes", t.first_entry_minutes),
            ] {
                if !(1..=7 * 24 * 60).contains(&minutes) {
                    return Err(bad(format!(
                        "response_targets.{}.{name}: between 1 and 10080 (a week)",
                        severity.code()
                    )));
                }
            }
        }
        if !(1..=240).contains(&cfg.mar_window_minutes) {
            return Err(bad("mar_window_minutes: between 1 and 240".into()));
        }
        if let Some(zone) = &cfg.time_zone {
            crate::mar::zone::LocalZone::named(zone).map_err(|e| bad(format!("time_zone: {e}")))?;
        }
        if !(1..=24).contains(&cfg.backup_interval_hours) {
            return Err(bad("backup_interval_hours: between 1 and 24".into()));
        }
        if cfg.census_max_age_hours == 0 || cfg.drill_max_age_days == 0 || cfg.verify_max_age_days == 0 {
            return Err(bad("census_max_age_hours, drill_max_age_days and verify_max_age_days: at least 1".into()));
        }
        if let Some(k) = &cfg.him_public_key {
            if crate::crypto::unhex::<32>(k).is_none() {
                return Err(bad(
                    "him_public_key: expected the 64 hex characters printed by `dtk handoff keygen`".into()
                ));
            }
        }
        if cfg.it_public_key.as_deref().is_some_and(|k| crate::crypto::unhex::<32>(k).is_none()) {
            return Err(bad(
                "it_public_key: expected the 64 hex characters printed by `dtk site it-key --create`".into()
            ));
        }
        if cfg.census_public_key.as_deref().is_some_and(|k| crate::crypto::unhex::<32>(k).is_none()) {
            return Err(bad(
                "census_public_key: expected the 64 hex characters printed by `dtk site census-key --create`".into(),
            ));
        }
        if cfg.mrn_system.trim().is_empty() || cfg.temp_mrn_system.trim().is_empty() {
            return Err(bad("mrn_system and temp_mrn_system must not be empty".into()));
        }
        check_servers(&cfg.fhir_servers).map_err(bad)?;
        check_peers(&cfg.unit_peers).map_err(bad)?;
        Ok(cfg)
    }

    /// The FHIR server of the allowlist named `name`; the error names the configured ones (a URL is never taken).
    pub fn fhir_server(&self, name: &str) -> Result<&FhirServer, String> {
        let name = name.trim();
        if let Some(s) = self.fhir_servers.iter().find(|s| s.name == name) {
            return Ok(s);
        }
        let names: Vec<String> = self.fhir_servers.iter().map(|s| format!("\"{}\"", s.name)).collect();
        let what = if name.contains("://") {
            "a URL is not taken".to_string()
        } else {
            format!("no server is named \"{name}\"")
        };
        Err(if names.is_empty() {
            format!("{what}: this station's site.json lists no FHIR server (fhir_servers); ask IT to add the EHR's")
        } else {
            format!("{what}: choose one of the FHIR servers in site.json: {}", names.join(", "))
        })
    }

    /// The unit share's folder (`unit_share_dir`), a relative one read from the folder of this configuration.
    pub fn unit_share_path(&self) -> Option<PathBuf> {
        let dir = self.unit_share_dir.as_ref()?;
        Some(match &self.folder {
            Some(base) if dir.is_relative() => base.join(dir),
            _ => dir.clone(),
        })
    }

    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<SiteConfig, SiteError> {
        let bytes = std::fs::read(path)
            .map_err(|e| SiteError::Unreadable { file: path.display().to_string(), reason: e.to_string() })?;
        let mut cfg = Self::parse(&path.display().to_string(), &bytes)?;
        // A bare file name's parent is the empty path: the current folder.
        cfg.folder = path.parent().map(|p| if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() });
        Ok(cfg)
    }

    /// The configuration for a vault folder: `explicit` (from `--site` or `DTK_SITE`) if given, else `site.json` in
    /// the vault folder if present, else the defaults.
    pub fn for_vault(dir: &Path, explicit: Option<&Path>) -> Result<SiteConfig, SiteError> {
        match explicit {
            Some(p) => Self::load(p),
            None => {
                let local = dir.join(FILE_NAME);
                if local.is_file() {
                    Self::load(&local)
                } else {
                    Ok(SiteConfig::default())
                }
            }
        }
    }
}

/// Each peer key is 64 hex characters and given once.
fn check_peers(peers: &[String]) -> Result<(), String> {
    for (i, k) in peers.iter().enumerate() {
        if crate::crypto::unhex::<32>(k).is_none() {
            return Err(format!(
                "unit_peers[{i}]: expected the 64 hex characters printed by `dtk unit key` on that workstation"
            ));
        }
        if let Some(j) = peers[..i].iter().position(|o| o.eq_ignore_ascii_case(k)) {
            return Err(format!("unit_peers[{i}]: the same key as unit_peers[{j}] is given twice"));
        }
    }
    Ok(())
}

fn check_servers(servers: &[FhirServer]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for (i, s) in servers.iter().enumerate() {
        let at = format!("fhir_servers[{i}]");
        if s.name.trim().is_empty() || s.name.len() > 64 || s.name.trim() != s.name || s.name.contains("://") {
            return Err(format!("{at}.name: 1–64 characters, no spaces at either end, not a URL"));
        }
        if !seen.insert(s.name.as_str()) {
            return Err(format!("{at}.name: \"{}\" is given twice", s.name));
        }
        check_server_url(&format!("{at}.base_url"), &s.base_url)?;
        match (&s.token_url, &s.client_id, &s.scope) {
            (None, None, None) => {}
            (Some(t), Some(c), Some(sc)) => {
                check_server_url(&format!("{at}.token_url"), t)?;
                if c.trim().is_empty() || sc.trim().is_empty() {
                    return Err(format!("{at}: client_id and scope must not be empty"));
                }
            }
            _ => return Err(format!("{at}: token_url, client_id and scope go together (SMART Backend Services)")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_bad_configurations_name_the_field() {
        for (json, expect) in [
            (r#"{"temp_mrn_block":{"prefix":"T","first":10,"last":1}}"#, "first is after last"),
            (r#"{"temp_mrn_block":{"prefix":"T 5","first":1,"last":9}}"#, "temp_mrn_block.prefix"),
            (r#"{"idle_timeout_secs":5}"#, "idle_timeout_secs"),
            (r#"{"backup_interval_hours":0}"#, "backup_interval_hours"),
            (r#"{"backup_interval_hours":25}"#, "backup_interval_hours"),
            (r#"{"colour":"blue"}"#, "unknown field `colour`"),
            (r#"{"census_max_age_hours":0}"#, "census_max_age_hours"),
            (r#"{"mar_window_minutes":0}"#, "mar_window_minutes"),
            (r#"{"time_zone":"Mars/Olympus"}"#, "time_zone: \"Mars/Olympus\""),
            (r#"{"unit":"#, "not valid JSON"),
            (r#"{"unit_peers":["abc"]}"#, "unit_peers[0]: expected the 64 hex characters printed by `dtk unit key`"),
            (
                r#"{"unit_peers":["1111111111111111111111111111111111111111111111111111111111111111","zz"]}"#,
                "unit_peers[1]: expected the 64 hex",
            ),
            (
                r#"{"unit_peers":["1111111111111111111111111111111111111111111111111111111111111111","1111111111111111111111111111111111111111111111111111111111111111"]}"#,
                "unit_peers[1]: the same key as unit_peers[0] is given twice",
            ),
            (r#"{"unit_share_dir":"a","unit_share_dir":"b"}"#, "the key \"unit_share_dir\" is given twice"),
            (r#"{"unit_share_dir":7}"#, "invalid type"),
            (
                r#"{"fhir_servers":[{"name":"EHR","base_url":"http://ehr.example.org/fhir"}]}"#,
                "fhir_servers[0].base_url: use https",
            ),
            (
                r#"{"fhir_servers":[{"name":"EHR","base_url":"http://127.0.0.1.evil.example/fhir"}]}"#,
                "fhir_servers[0].base_url: use https",
            ),
            (
                r#"{"fhir_servers":[{"name":"EHR","base_url":"ftp://ehr.example.org"}]}"#,
                "fhir_servers[0].base_url: use an https",
            ),
            (r#"{"fhir_servers":[{"name":"EHR","base_url":"https://u:p@ehr.example.org"}]}"#, "user name or password"),
            (r#"{"fhir_servers":[{"name":"EHR","base_url":"ehr"}]}"#, "fhir_servers[0].base_url: not a URL"),
            (
                r#"{"fhir_servers":[{"name":"EHR","base_url":"https://a.example"},{"name":"EHR","base_url":"https://b.example"}]}"#,
                "fhir_servers[1].name: \"EHR\" is given twice",
            ),
            (r#"{"fhir_servers":[{"name":"","base_url":"https://a.example"}]}"#, "fhir_servers[0].name"),
            (
                r#"{"fhir_servers":[{"name":"EHR","base_url":"https://a.example","colour":1}]}"#,
                "unknown field `colour`",
            ),
            (
                r#"{"fhir_servers":[{"name":"EHR","base_url":"https://a.example","token_url":"https://a.example/t"}]}"#,
                "fhir_servers[0]: token_url, client_id and scope go together",
            ),
            (
                r#"{"fhir_servers":[{"name":"EHR","base_url":"https://a.example","token_url":"http://a.example/t","client_id":"c","scope":"s"}]}"#,
                "fhir_servers[0].token_url: use https",
            ),
        ] {
            let err = SiteConfig::parse("site.json", json.as_bytes()).expect_err(json).to_string();
            assert!(err.starts_with("site.json: ") && err.contains(expect), "{json}: {err}");
        }
        let ok =
            SiteConfig::parse("s", br#"{"temp_mrn_block":{"prefix":"T5E-","first":1000,"last":1999}}"#).expect("ok");
        assert_eq!(ok.temp_mrn_block.map(|b| b.format(1000)), Some("T5E-1000".to_string()));
    }

    #[test]
    fn the_unit_share_is_read_from_the_configurations_folder_and_peers_are_kept() {
        let key = "ab".repeat(32);
        let mut cfg =
            SiteConfig::parse("s", format!(r#"{{"unit_share_dir":"share/5E","unit_peers":["{key}"]}}"#).as_bytes())
                .expect("ok");
        assert_eq!(cfg.unit_peers, [key]);
        assert_eq!(cfg.unit_share_path(), Some(PathBuf::from("share/5E")));
        cfg.folder = Some(PathBuf::from("/etc/dtk"));
        assert_eq!(cfg.unit_share_path(), Some(PathBuf::from("/etc/dtk/share/5E")));
        cfg.unit_share_dir = Some(PathBuf::from("/mnt/unit"));
        assert_eq!(cfg.unit_share_path(), Some(PathBuf::from("/mnt/unit")));
        assert_eq!(SiteConfig::default().unit_share_path(), None);
    }

    #[test]
    fn fhir_servers_are_chosen_by_name_never_by_url() {
        let cfg = SiteConfig::parse(
            "s",
            br#"{"fhir_servers":[{"name":"EHR","base_url":"https://ehr.example.org/fhir"},
                {"name":"Test","base_url":"http://127.0.0.1:8080/"},{"name":"v6","base_url":"http://[::1]:9/fhir"},
                {"name":"local","base_url":"http://localhost:9"}],"fhir_ca_bundle":"/etc/hospital-ca.pem"}"#,
        )
        .expect("https and loopback http are accepted");
        assert_eq!(cfg.fhir_server("EHR").map(|s| s.base_url.as_str()), Ok("https://ehr.example.org/fhir"));
        let url = cfg.fhir_server("https://ehr.example.org/fhir").expect_err("a URL is refused");
        assert!(url.contains("a URL is not taken") && url.contains("\"EHR\", \"Test\""), "{url}");
        let unknown = cfg.fhir_server("Other").expect_err("unknown");
        assert!(unknown.contains("no server is named \"Other\"") && unknown.contains("\"EHR\""), "{unknown}");
        let none = SiteConfig::default().fhir_server("EHR").expect_err("none configured");
        assert!(none.contains("lists no FHIR server"), "{none}");
    }
}
