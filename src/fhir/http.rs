//! The HTTP client for one FHIR server of the site's allowlist: TLS trusting the system's certificate store plus the
//! site's CA bundle, the analyst's credentials, timeouts, and bounded retries that honour `429`/`503` and
//! `Retry-After`. Posting and the read-back use it (`Client::for_server`, `get`, `post`; [`FhirRead`]).
//!
//! Retrying a transaction is safe because the export is idempotent by design: creates carry `ifNoneExist` on a
//! deterministic identifier and the rest are `PUT`s to deterministic ids, so a transaction sent twice (an answer
//! lost on the way back) adds nothing the second time.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use zeroize::Zeroizing;

use super::{FhirError, FhirRead};
use crate::site::{check_server_url, SiteConfig};

/// A secret the analyst gives for one post (a bearer token): zeroised on drop, never printed (no `Debug`), never
/// stored.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Takes the token as read from a file or standard input, without the line ending around it.
    pub fn new(text: String) -> Secret {
        let text = Zeroizing::new(text);
        Secret(Zeroizing::new(text.trim().to_string()))
    }

    /// Nothing was given (an empty file, a blank line).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

/// How the client proves who it is to the server.
pub enum Credentials {
    /// None: a server that needs credentials answers 401, and the post fails naming the server.
    None,
    /// A bearer token the analyst gave for this post only.
    Bearer(Secret),
    /// SMART Backend Services: access tokens asked for with a JWT signed by the station's key (`smart.rs`).
    Smart(super::smart::Signer),
}

/// How often and how long a request is tried again. Bounded: at most `attempts` tries, never a wait over `max_wait`.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first_wait: Duration,
    pub max_wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { attempts: 5, first_wait: Duration::from_secs(1), max_wait: Duration::from_secs(60) }
    }
}

impl Retry {
    /// The wait before try `n + 1` after try `n` (from 1) failed: what the server asked for, else doubling from the
    /// first wait; never over the bound.
    fn wait(&self, n: u32, asked: Option<Duration>) -> Duration {
        let doubled = self.first_wait.saturating_mul(1u32 << n.saturating_sub(1).min(16));
        asked.unwrap_or(doubled).min(self.max_wait)
    }
}

/// Connect quickly or not at all; a transaction of 500 entries may take the server minutes to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const IO_TIMEOUT: Duration = Duration::from_secs(300);
/// An answer bigger than this is not a transaction-response we sent for.
const MAX_ANSWER: u64 = 256 * 1024 * 1024;

/// A server's final answer: its status and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A client for one named server of the allowlist.
pub struct Client {
    name: String,
    base: String,
    agent: ureq::Agent,
    credentials: Credentials,
    retry: Retry,
}

impl Client {
    /// The client for the server `name` of the site's `fhir_servers` (a URL is never taken: the error names the
    /// configured servers), trusting the system's certificates and the site's `fhir_ca_bundle`.
    pub fn for_server(site: &SiteConfig, name: &str, credentials: Credentials) -> Result<Client, FhirError> {
        let server = site.fhir_server(name).map_err(FhirError::Server)?;
        let url = check_server_url("base_url", &server.base_url).map_err(FhirError::Server)?;
        let tls = tls_config(site.fhir_ca_bundle.as_deref())?;
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(CONNECT_TIMEOUT)
            .timeout_read(IO_TIMEOUT)
            .timeout_write(IO_TIMEOUT)
            .tls_config(tls)
            .build();
        Ok(Client {
            name: server.name.clone(),
            base: url.as_str().trim_end_matches('/').to_string(),
            agent,
            credentials,
            retry: Retry::default(),
        })
    }

    /// The server's name in the allowlist (what errors and the audit log say).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Another retry bound (tests, read-back).
    pub fn with_retry(mut self, retry: Retry) -> Client {
        self.retry = retry;
        self
    }

    /// `GET base/path` (a search, a read).
    pub fn get(&self, path: &str) -> Result<Response, FhirError> {
        self.send("GET", path, None)
    }

    /// `POST base/path` with a FHIR JSON body (`path` "" for a transaction).
    pub fn post(&self, path: &str, body: &[u8]) -> Result<Response, FhirError> {
        self.send("POST", path, Some(body))
    }

    fn send(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Response, FhirError> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let mut n = 0;
        loop {
            n += 1;
            let last = n >= self.retry.attempts.max(1);
            let mut req = self
                .agent
                .request(method, &url)
                .set("Accept", "application/fhir+json")
                .set("Content-Type", "application/fhir+json");
            let token = match &self.credentials {
                Credentials::None => None,
                Credentials::Bearer(t) => Some(Zeroizing::new(t.expose().to_string())),
                Credentials::Smart(s) => Some(s.access_token(&self.agent, &self.name)?),
            };
            if let Some(t) = &token {
                req = req.set("Authorization", &format!("Bearer {}", t.as_str()));
            }
            let answer = match body {
                // A transaction-response need only say each entry's status and location (FHIR's `Prefer:
                // return=minimal`): by default a server may echo every resource back, as large as the transaction
                // itself, which the client would hold and parse for nothing.
                Some(b) => req.set("Prefer", "return=minimal").send_bytes(b),
                None => req.call(),
            };
            let (status, resp) = match answer {
                Ok(r) => (r.status(), r),
                Err(ureq::Error::Status(code, r)) => (code, r),
                Err(e) if tls_refused(&e) => {
                    // Trying again would meet the same certificate: say what to do instead.
                    return Err(FhirError::Unreachable(format!(
                        "{}: TLS failed ({}); if the server's certificate is issued by the hospital's own CA, IT adds \
                         that CA to fhir_ca_bundle in site.json",
                        self.name,
                        transport(&e)
                    )));
                }
                Err(e) if last => {
                    return Err(FhirError::Unreachable(format!("{} ({n} tries): {}", self.name, transport(&e))))
                }
                Err(_) => {
                    std::thread::sleep(self.retry.wait(n, None));
                    continue;
                }
            };
            match status {
                401 | 403 => {
                    if let Credentials::Smart(s) = &self.credentials {
                        s.forget_token();
                    }
                    return Err(FhirError::Unauthorized {
                        server: self.name.clone(),
                        status,
                        given: !matches!(self.credentials, Credentials::None),
                    });
                }
                429 | 502 | 503 | 504 if !last => {
                    let asked = resp.header("Retry-After").and_then(|v| retry_after(v, SystemTime::now()));
                    std::thread::sleep(self.retry.wait(n, asked));
                    continue;
                }
                429 | 502 | 503 | 504 => {
                    return Err(FhirError::Unavailable { server: self.name.clone(), status, tries: n })
                }
                _ => {}
            }
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(resp.into_reader(), MAX_ANSWER), &mut bytes)
                .map_err(|e| FhirError::Unreachable(format!("{}: the answer broke off: {e}", self.name)))?;
            return Ok(Response { status, body: bytes });
        }
    }
}

/// The read-back's GET through this client (its credentials, CA bundle and retries): only URLs on this server, so a
/// `next` link cannot carry the token elsewhere.
impl FhirRead for Client {
    fn get(&self, url: &str) -> Result<serde_json::Value, FhirError> {
        let path = url
            .strip_prefix(self.base.as_str())
            .filter(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
            .ok_or_else(|| FhirError::ReadBack(format!("{}: a read-back URL is not on this server", self.name)))?;
        let answer = self.send("GET", path, None)?;
        if !(200..300).contains(&answer.status) {
            return Err(FhirError::ReadBack(format!("{}: the server answered HTTP {}", self.name, answer.status)));
        }
        serde_json::from_slice(&answer.body)
            .map_err(|e| FhirError::ReadBack(format!("{}: the answer is not JSON: {e}", self.name)))
    }
}

/// A transport error without the URL's path (which names nothing secret, but keeps messages short).
fn transport(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Transport(t) => t.to_string(),
        other => other.to_string(),
    }
}

/// The transport failed in TLS (a certificate not trusted, a name that does not match): nothing to retry.
fn tls_refused(e: &ureq::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        if c.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(inner) = c.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            if inner.downcast_ref::<rustls::Error>().is_some() {
                return true;
            }
        }
        cause = c.source();
    }
    false
}

/// The wait a `Retry-After` value asks for: delay-seconds, or an HTTP-date (RFC 9110 §10.2.3) after `now`.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, &format).ok()?.assume_utc();
    let now = time::OffsetDateTime::from(now);
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

/// TLS trusting the system's certificate store and the site's CA bundle (PEM). A bundle that cannot be read or holds
/// no certificate is an error naming the file: silently trusting less than IT configured would fail later, unclearly.
fn tls_config(bundle: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, FhirError> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = bundle {
        let bad = |why: String| FhirError::Server(format!("fhir_ca_bundle {}: {why}", path.display()));
        let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
        let mut added = 0;
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&bytes) {
            let cert = cert.map_err(|e| bad(format!("not a PEM certificate: {e}")))?;
            roots.add(cert).map_err(|e| bad(format!("not a CA certificate: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad("holds no certificate".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| FhirError::Server(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), Some(Duration::ZERO), "a past date: now");
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }

    #[test]
    fn waits_double_and_stay_bounded() {
        let r = Retry { attempts: 9, first_wait: Duration::from_secs(1), max_wait: Duration::from_secs(10) };
        let waits: Vec<u64> = (1..=6).map(|n| r.wait(n, None).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(r.wait(1, Some(Duration::from_secs(3))).as_secs(), 3, "the server's Retry-After wins");
        assert_eq!(r.wait(1, Some(Duration::from_secs(3600))).as_secs(), 10, "but never over the bound");
    }
}
