//! IT's side of the roster: `dtk user roster build` turns a CSV of staff (and the previous roster) into the next
//! signed roster, with a fresh key pair and one-time password for each new or reset user. Needs no vault.

use std::collections::HashSet;

use time::OffsetDateTime;

use super::changes::{self, Change};
use super::{Body, Entry, ItKey, Roster, RosterError, SecretWrap, Status};
use crate::auth::{self, Role};
use crate::crypto::{hex, KdfParams, Password, Random, UserSecret};

/// The CSV's columns: the first three are required, in any order named by the header line.
const COLUMNS: [&str; 5] = ["username", "display name", "role", "status", "expires at"];

/// One staff line of IT's CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub status: Status,
    pub expires_at: Option<String>,
}

/// Splits one CSV line (commas, double quotes with "" escapes).
pub fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|f| f.trim().to_string()).collect()
}

/// A readable one-time password: 12 characters without look-alikes (0/O, 1/l/I).
pub fn one_time_password(rng: &mut dyn Random) -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 12];
    rng.fill(&mut bytes);
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

fn bad(line_no: usize, what: impl std::fmt::Display) -> RosterError {
    RosterError::Input(format!("line {line_no}: {what}"))
}

/// Reads IT's CSV: a header line naming the columns (username, display name, role, and optionally status and
/// expires at), then one line per user. A column or a username given twice is refused by name.
pub fn parse_csv(csv: &str) -> Result<Vec<Line>, RosterError> {
    let mut order: Option<[Option<usize>; 5]> = None;
    let mut lines: Vec<(usize, Line)> = Vec::new();
    for (n, text) in csv.lines().enumerate() {
        let line_no = n + 1;
        if text.trim().is_empty() || text.trim_start().starts_with('#') {
            continue;
        }
        let f = csv_fields(text);
        let Some(cols) = order else {
            let mut found: [Option<usize>; 5] = [None; 5];
            for (i, name) in f.iter().enumerate() {
                let norm = name.to_lowercase().replace('_', " ");
                let col = COLUMNS.iter().position(|c| *c == norm).ok_or_else(|| {
                    bad(line_no, format!("unknown column '{}'; the columns are {}", name, COLUMNS.join(", ")))
                })?;
                if found[col].replace(i).is_some() {
                    return Err(bad(line_no, format!("the column '{}' is given twice", COLUMNS[col])));
                }
            }
            if let Some(missing) = (0..3).find(|c| found[*c].is_none()) {
                return Err(bad(line_no, format!("the header line has no '{}' column", COLUMNS[missing])));
            }
            order = Some(found);
            continue;
        };
        if f.len() != cols.iter().flatten().count() {
            return Err(bad(line_no, format!("expected {} fields, found {}", cols.iter().flatten().count(), f.len())));
        }
        let get = |c: usize| cols[c].map(|i| f[i].clone()).unwrap_or_default();
        let username = get(0);
        auth::check_username(&username).map_err(|e| bad(line_no, e))?;
        let role = Role::parse(&get(2).to_lowercase())
            .ok_or_else(|| bad(line_no, "role must be nurse, charge, him or admin"))?;
        let status = match get(3).to_lowercase().as_str() {
            "" | "active" => Status::Active,
            "disabled" => Status::Disabled,
            _ => return Err(bad(line_no, "status must be active or disabled")),
        };
        let expires = get(4);
        let expires_at = if expires.is_empty() {
            None
        } else {
            let t = crate::clock::parse_stamp(&expires)
                .ok_or_else(|| bad(line_no, "expires at must be an RFC 3339 time (2026-03-01T07:00:00Z)"))?;
            Some(crate::clock::stamp(t))
        };
        if let Some((first, _)) = lines.iter().find(|(_, l)| l.username == username) {
            return Err(RosterError::Duplicate {
                username,
                first: format!("line {first}"),
                again: format!("line {line_no}"),
            });
        }
        lines.push((line_no, Line { username, display_name: get(1), role, status, expires_at }));
    }
    if order.is_none() {
        return Err(RosterError::Input("the CSV has no header line (username, display name, role)".into()));
    }
    Ok(lines.into_iter().map(|(_, l)| l).collect())
}

/// What IT asked for.
pub struct Request<'a> {
    pub lines: &'a [Line],
    /// The roster this one follows (already verified against the same IT key): users keep their key pair and
    /// password, and the version goes up by one.
    pub previous: Option<&'a Roster>,
    /// Users who get a fresh key pair and one-time password (a forgotten or leaked password).
    pub reset: &'a [String],
    /// Workstations' password changes (verified changes files), merged by the ordering rule.
    pub changes: &'a [changes::Body],
    pub now: OffsetDateTime,
    /// Argon2id cost of the one-time password wraps (the floor unless IT chooses more).
    pub params: KdfParams,
}

/// A signed roster and the one-time passwords to hand over in person.
pub struct Built {
    pub bytes: Vec<u8>,
    pub version: u64,
    pub users: usize,
    pub one_time_passwords: Vec<(String, Password)>,
}

/// The workstations' change for this user that wins by the ordering rule, if it is newer than the roster's and for
/// the user's current key pair (a change made before a reset is stale).
fn newer_change<'a>(bodies: &'a [changes::Body], e: &Entry) -> Option<&'a Change> {
    let all = bodies.iter().flat_map(|b| b.changes.iter().map(move |c| (b.workstation.as_str(), c)));
    changes::newest(all.filter(|(_, c)| {
        c.username == e.username
            && c.public_key == e.public_key
            && (c.secret_version, c.changed_at) > (e.secret_version, e.changed_at)
    }))
}

/// Builds and signs the next roster.
pub fn build(req: &Request<'_>, key: &ItKey, rng: &mut dyn Random) -> Result<Built, RosterError> {
    for name in req.reset {
        if !req.lines.iter().any(|l| &l.username == name) {
            return Err(RosterError::Input(format!("--reset {name}: there is no such user in the CSV")));
        }
    }
    let now = req.now.unix_timestamp();
    let mut users = Vec::new();
    let mut one_time_passwords = Vec::new();
    for line in req.lines {
        let kept = req.previous.and_then(|p| p.entry(&line.username)).filter(|_| !req.reset.contains(&line.username));
        let (public_key, secret, must_change, secret_version, changed_at) = match kept {
            Some(e) => match newer_change(req.changes, e) {
                Some(c) => (e.public_key.clone(), c.secret.clone(), false, c.secret_version, c.changed_at),
                None => (e.public_key.clone(), e.secret.clone(), e.must_change, e.secret_version, e.changed_at),
            },
            None => {
                let secret = UserSecret::generate(rng);
                let otp = Password::new(one_time_password(rng));
                let wrap = secret
                    .wrap(&line.username, &otp, req.params, rng)
                    .map_err(|e| RosterError::Input(e.to_string()))?;
                let version = req.previous.and_then(|p| p.entry(&line.username)).map_or(1, |e| e.secret_version + 1);
                one_time_passwords.push((line.username.clone(), otp));
                (hex(&secret.public()), SecretWrap::from_wrap(&wrap), true, version, now)
            }
        };
        users.push(Entry {
            username: line.username.clone(),
            display_name: line.display_name.clone(),
            role: line.role,
            status: line.status,
            expires_at: line.expires_at.clone(),
            must_change,
            public_key,
            secret,
            secret_version,
            changed_at,
        });
    }
    // Removing a line disables the account everywhere: a user of the previous roster is carried, disabled.
    let listed: HashSet<&str> = req.lines.iter().map(|l| l.username.as_str()).collect();
    if let Some(prev) = req.previous {
        for e in prev.body.users.iter().filter(|e| !listed.contains(e.username.as_str())) {
            users.push(Entry { status: Status::Disabled, ..e.clone() });
        }
    }
    let version = req.previous.map_or(1, |p| p.body.version + 1);
    let body = Body { version, created_at: crate::clock::stamp(req.now), signer: key.public_hex(), users };
    let count = body.users.len();
    Ok(Built { bytes: key.sign(&body), version, users: count, one_time_passwords })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(csv: &str) -> String {
        parse_csv(csv).expect_err("refused").to_string()
    }

    #[test]
    fn fail_csv_with_a_key_given_twice_names_both() {
        assert_eq!(
            refused("username,display name,role\nasmith,Anna Smith,nurse\nasmith,Anna Smyth,charge\n"),
            "the username 'asmith' is given twice (line 2 and line 3)"
        );
        assert_eq!(refused("username,role,role,display name\n"), "line 1: the column 'role' is given twice");
        assert_eq!(
            refused("asmith,Anna Smith,nurse\n"),
            "line 1: unknown column 'asmith'; the columns are username, display name, role, status, expires at"
        );
        assert_eq!(
            refused("username,display_name,role\nbo,Bo,doctor\n"),
            "line 2: role must be nurse, charge, him or admin"
        );
    }

    #[test]
    fn csv_reads_status_and_expiry_in_any_order() {
        let lines = parse_csv("Role,Status,Username,Display_Name,Expires_At\nnurse,disabled,asmith,Anna Smith,\ncharge,,bo,Bo,2026-03-01T07:00:00Z\n")
            .expect("parses");
        assert_eq!(lines[0].status, Status::Disabled);
        assert_eq!(lines[1].expires_at.as_deref(), Some("2026-03-01T07:00:00.000Z"));
        assert_eq!(csv_fields(r#"a,"Smith, ""A""",c"#), vec!["a", r#"Smith, "A""#, "c"]);
    }
}
