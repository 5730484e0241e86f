//! Password changes travelling back to IT: a workstation writes its roster users' current wrapped secrets in a file
//! signed by its handoff key (`dtk user roster changes`), and IT's next `roster build --changes` merges the newest of
//! each user (ARCHITECTURE.md, "Password changes and one-time passwords", the ordering rule).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{RosterError, SecretWrap};
use crate::crypto::{hex, unhex};

/// The first line of a changes file.
pub const MAGIC: &str = "DTKCHANGES1";
const SIGNED_PREFIX: &[u8] = b"dtk-roster-changes-v1\0";

/// One roster user's secret as a workstation holds it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub username: String,
    /// The user's public key: a change for another key (the user was reset since) is dropped.
    pub public_key: String,
    pub secret: SecretWrap,
    pub secret_version: u64,
    pub changed_at: i64,
}

/// What a workstation signs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    pub workstation: String,
    /// The workstation's handoff key (Ed25519, hex).
    pub signer: String,
    pub created_at: String,
    pub changes: Vec<Change>,
}

/// The file's bytes, signed with the workstation's handoff key.
pub fn sign(body: &Body, key: &SigningKey) -> Vec<u8> {
    let bytes = serde_json::to_vec_pretty(body).unwrap_or_default();
    let mut signed = SIGNED_PREFIX.to_vec();
    signed.extend_from_slice(&bytes);
    let mut out = format!("{MAGIC}\n{}\n", hex(&key.sign(&signed).to_bytes())).into_bytes();
    out.extend(bytes);
    out
}

/// Checks a changes file against the workstation keys IT trusts (hex); returns its body.
pub fn verify(bytes: &[u8], trusted: &[String]) -> Result<Body, RosterError> {
    let forged = || {
        RosterError::Input("changes file refused: it is not signed by a workstation key given with --workstation-key (another key signed it, or it was changed after signing)".into())
    };
    let rest = bytes
        .strip_prefix(MAGIC.as_bytes())
        .and_then(|r| r.strip_prefix(b"\n"))
        .ok_or_else(|| RosterError::Input(format!("this is not a changes file (it does not start with {MAGIC})")))?;
    let nl = rest.iter().position(|b| *b == b'\n').ok_or_else(forged)?;
    let (sig_hex, body) = (&rest[..nl], &rest[nl + 1..]);
    let sig = std::str::from_utf8(sig_hex).ok().and_then(unhex::<64>).ok_or_else(forged)?;
    let value = crate::json::parse_limited(body, super::MAX_BYTES, 8).map_err(|_| forged())?;
    let parsed: Body = serde_json::from_value(value).map_err(|_| forged())?;
    let signer = unhex::<32>(&parsed.signer).ok_or_else(forged)?;
    if !trusted.iter().any(|t| unhex::<32>(t) == Some(signer)) {
        return Err(forged());
    }
    let key = VerifyingKey::from_bytes(&signer).map_err(|_| forged())?;
    let mut signed = SIGNED_PREFIX.to_vec();
    signed.extend_from_slice(body);
    key.verify_strict(&signed, &Signature::from_bytes(&sig)).map_err(|_| forged())?;
    Ok(parsed)
}

/// The ordering rule: the change that wins for one user among many (highest `secret_version`, then the later
/// `changed_at`, then the workstation id, so every build gives the same answer).
pub fn newest<'a>(candidates: impl Iterator<Item = (&'a str, &'a Change)>) -> Option<&'a Change> {
    candidates
        .max_by(|(wa, a), (wb, b)| (a.secret_version, a.changed_at, *wa).cmp(&(b.secret_version, b.changed_at, *wb)))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(secret_version: u64, changed_at: i64) -> Change {
        let secret = SecretWrap { kdf_m: 65536, kdf_t: 3, kdf_p: 1, salt: String::new(), wrapped: String::new() };
        Change { username: "anurse".into(), public_key: String::new(), secret, secret_version, changed_at }
    }

    #[test]
    fn the_newest_change_wins_by_version_then_time_then_workstation() {
        let (old, later_version, later_time) = (change(2, 900), change(3, 50), change(3, 60));
        let all = [("ws-a", &old), ("ws-b", &later_version), ("ws-c", &later_time)];
        assert!(newest(all.into_iter()).is_some_and(|c| std::ptr::eq(c, &later_time)));
        let (x, y) = (change(3, 60), change(3, 60));
        let tie = [("ws-z", &x), ("ws-a", &y)];
        assert!(newest(tie.into_iter()).is_some_and(|c| std::ptr::eq(c, &x)), "the workstation id breaks a tie");
    }
}
