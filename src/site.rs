//! The site configuration that hospital IT pushes to every workstation: unit name, forms folder, this
//! workstation's block of temporary MRNs, idle timeout, census import folder, interim backups. A JSON file,
//! validated with errors that name the field.

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    /// Unit name shown on the banner and every printed page (else the one given at set-up).
    pub unit: Option<String>,
    /// Folder of form definitions (else the forms built into the application).
    pub forms_dir: Option<PathBuf>,
    /// The unit's downtime checklist (else the one built into the application).
    pub checklist_file: Option<PathBuf>,
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
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            unit: None,
            forms_dir: None,
            checklist_file: None,
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
        if !(1..=24).contains(&cfg.backup_interval_hours) {
            return Err(bad("backup_interval_hours: between 1 and 24".into()));
        }
        if let Some(k) = &cfg.him_public_key {
            if crate::crypto::unhex::<32>(k).is_none() {
                return Err(bad(
                    "him_public_key: expected the 64 hex characters printed by `dtk handoff keygen`".into()
                ));
            }
        }
        if cfg.mrn_system.trim().is_empty() || cfg.temp_mrn_system.trim().is_empty() {
            return Err(bad("mrn_system and temp_mrn_system must not be empty".into()));
        }
        Ok(cfg)
    }

    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<SiteConfig, SiteError> {
        let bytes = std::fs::read(path)
            .map_err(|e| SiteError::Unreadable { file: path.display().to_string(), reason: e.to_string() })?;
        Self::parse(&path.display().to_string(), &bytes)
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
            (r#"{"unit":"#, "not valid JSON"),
        ] {
            let err = SiteConfig::parse("site.json", json.as_bytes()).expect_err(json).to_string();
            assert!(err.starts_with("site.json: ") && err.contains(expect), "{json}: {err}");
        }
        let ok =
            SiteConfig::parse("s", br#"{"temp_mrn_block":{"prefix":"T5E-","first":1000,"last":1999}}"#).expect("ok");
        assert_eq!(ok.temp_mrn_block.map(|b| b.format(1000)), Some("T5E-1000".to_string()));
    }
}
