//! SMART Backend Services (HL7 SMART App Launch 2, "Backend Services"): the HIM station's signing key (ES384, P-384)
//! sealed in the vault, its public JWK set for the EHR's registration, and the client-credentials exchange with a
//! signed JWT assertion (RFC 7523) for an access token, cached until shortly before it expires.
//!
//! Why ES384 and `ring`: SMART Backend Services requires RS384 or ES384 of the client; ES384 keys are small and
//! `ring` (already in the lock through rustls) generates, signs and verifies P-384 with no new crypto dependency.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use data_encoding::BASE64URL_NOPAD;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P384_SHA384_FIXED_SIGNING};
use rusqlite::OptionalExtension;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::FhirError;
use crate::crypto::{Keys, Place};
use crate::site::FhirServer;
use crate::vault::{Tx, VaultError};

const KEY_PLACE: Place<'static> = Place { table: "meta", row: "smart_backend_key", column: "value", format: 1 };
/// An assertion lives this long (SMART: no more than five minutes).
const ASSERTION_LIFE: u64 = 240;

/// The station's SMART signing key (PKCS#8, P-384). No `Debug`; zeroised on drop.
pub struct SmartKey {
    pkcs8: Zeroizing<Vec<u8>>,
}

impl SmartKey {
    /// The key sealed in the vault, if one was created or imported.
    pub fn load(conn: &rusqlite::Connection, keys: &Keys) -> Result<Option<SmartKey>, FhirError> {
        let sealed: Option<Vec<u8>> =
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [KEY_PLACE.row], |r| r.get(0)).optional()?;
        let Some(sealed) = sealed else { return Ok(None) };
        let plain = keys
            .open(&KEY_PLACE, &sealed)
            .map_err(|_| VaultError::Integrity("meta smart_backend_key: sealed key fails authentication".into()))?;
        Ok(Some(SmartKey::from_pkcs8(plain.to_vec())?))
    }

    /// Creates a new key (`pem` none) or imports one (a PKCS#8 PEM P-384 private key), seals it in the vault and
    /// audits it with its key id. Refused if the station has a key already: the EHR trusts that one.
    pub fn store(tx: &mut Tx<'_>, pem: Option<&[u8]>) -> Result<SmartKey, FhirError> {
        if tx.sql().query_row("SELECT 1 FROM meta WHERE key = ?1", [KEY_PLACE.row], |_| Ok(())).optional()?.is_some() {
            return Err(FhirError::Server(
                "this station already has a SMART key; its public JWK set is shown by `dtk export smart-key`".into(),
            ));
        }
        let key = match pem {
            Some(pem) => {
                use rustls_pki_types::pem::PemObject;
                let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(pem)
                    .map_err(|e| FhirError::Server(format!("the key file is not a PKCS#8 PEM private key: {e}")))?;
                SmartKey::from_pkcs8(der.secret_pkcs8_der().to_vec())?
            }
            None => {
                let rng = ring::rand::SystemRandom::new();
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng)
                    .map_err(|_| FhirError::Server("the system's random source failed".into()))?;
                SmartKey::from_pkcs8(doc.as_ref().to_vec())?
            }
        };
        let sealed = tx.seal(&KEY_PLACE, &key.pkcs8);
        tx.insert_meta(KEY_PLACE.row, &sealed)?;
        tx.audit(
            if pem.is_some() { "fhir.smart_key_imported" } else { "fhir.smart_key_created" },
            "meta:smart_backend_key",
            &json!({ "kid": key.kid() }),
        )?;
        Ok(key)
    }

    fn from_pkcs8(pkcs8: Vec<u8>) -> Result<SmartKey, FhirError> {
        let pkcs8 = Zeroizing::new(pkcs8);
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &pkcs8, &ring::rand::SystemRandom::new())
            .map_err(|e| FhirError::Server(format!("the SMART key is not a P-384 (ES384) key: {e}")))?;
        Ok(SmartKey { pkcs8 })
    }

    fn pair(&self) -> Result<EcdsaKeyPair, FhirError> {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &self.pkcs8, &ring::rand::SystemRandom::new())
            .map_err(|e| FhirError::Server(format!("the SMART key cannot be used: {e}")))
    }

    /// The public key as a JWK (no private part).
    fn public_jwk(&self) -> Value {
        let point = self.pair().map(|p| p.public_key().as_ref().to_vec()).unwrap_or_default();
        // An uncompressed P-384 point: 0x04, then x and y of 48 bytes each.
        let (x, y) = if point.len() == 97 { (&point[1..49], &point[49..]) } else { (&[][..], &[][..]) };
        json!({ "crv": "P-384", "kty": "EC", "x": BASE64URL_NOPAD.encode(x), "y": BASE64URL_NOPAD.encode(y) })
    }

    /// The key id: the RFC 7638 thumbprint (SHA-256 of the required members in lexicographic order).
    pub fn kid(&self) -> String {
        let jwk = self.public_jwk();
        let canonical = format!(
            r#"{{"crv":"P-384","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap_or(""),
            jwk["y"].as_str().unwrap_or("")
        );
        BASE64URL_NOPAD.encode(&<sha2::Sha256 as sha2::Digest>::digest(canonical.as_bytes()))
    }

    /// The public JWK set to give the EHR when it registers this station as a backend client.
    pub fn jwks(&self) -> Value {
        let mut jwk = self.public_jwk();
        jwk["kid"] = json!(self.kid());
        jwk["alg"] = json!("ES384");
        jwk["use"] = json!("sig");
        jwk["key_ops"] = json!(["verify"]);
        json!({ "keys": [jwk] })
    }

    /// A signed client assertion for `server` (RFC 7523 §3: iss = sub = client id, aud = token endpoint).
    fn assertion(&self, client_id: &str, token_url: &str, now: SystemTime) -> Result<String, FhirError> {
        let secs = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let header = json!({ "alg": "ES384", "typ": "JWT", "kid": self.kid() });
        let claims = json!({
            "iss": client_id, "sub": client_id, "aud": token_url,
            "iat": secs, "exp": secs + ASSERTION_LIFE, "jti": uuid::Uuid::new_v4().to_string(),
        });
        let input = format!(
            "{}.{}",
            BASE64URL_NOPAD.encode(header.to_string().as_bytes()),
            BASE64URL_NOPAD.encode(claims.to_string().as_bytes())
        );
        let signature = self
            .pair()?
            .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
            .map_err(|_| FhirError::Server("signing the SMART assertion failed".into()))?;
        Ok(format!("{input}.{}", BASE64URL_NOPAD.encode(signature.as_ref())))
    }
}

/// Asks a server's token endpoint for access tokens with the station's key, and keeps the current one.
pub struct Signer {
    key: SmartKey,
    token_url: String,
    client_id: String,
    scope: String,
    token: Mutex<Option<(Zeroizing<String>, Instant)>>,
}

impl Signer {
    /// The signer for a server of the allowlist with `token_url`, `client_id` and `scope` (else `None`).
    pub fn for_server(key: SmartKey, server: &FhirServer) -> Option<Signer> {
        Some(Signer {
            key,
            token_url: server.token_url.clone()?,
            client_id: server.client_id.clone()?,
            scope: server.scope.clone()?,
            token: Mutex::new(None),
        })
    }

    /// The current access token, asked for again when none is held or it expires within half a minute.
    pub(super) fn access_token(&self, agent: &ureq::Agent, server: &str) -> Result<Zeroizing<String>, FhirError> {
        let mut held = self.token.lock().map_err(|_| FhirError::Server("the token cache was poisoned".into()))?;
        if let Some((token, until)) = held.as_ref() {
            if Instant::now() + Duration::from_secs(30) < *until {
                return Ok(token.clone());
            }
        }
        let refused = |reason: String| FhirError::Token { server: server.to_string(), reason };
        let assertion = self.key.assertion(&self.client_id, &self.token_url, SystemTime::now())?;
        let answer = agent.post(&self.token_url).set("Accept", "application/json").send_form(&[
            ("grant_type", "client_credentials"),
            ("scope", self.scope.as_str()),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion.as_str()),
        ]);
        let body: Value = match answer {
            Ok(r) => r.into_json().map_err(|e| refused(format!("the answer is not JSON: {e}")))?,
            Err(ureq::Error::Status(code, r)) => {
                let v: Value = r.into_json().unwrap_or(Value::Null);
                let what = [v["error"].as_str(), v["error_description"].as_str()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": ");
                return Err(refused(format!("HTTP {code} {what}")));
            }
            Err(e) => return Err(refused(format!("unreachable: {e}"))),
        };
        let token = body["access_token"].as_str().ok_or_else(|| refused("no access_token in the answer".into()))?;
        let life = body["expires_in"].as_u64().unwrap_or(300);
        let token = Zeroizing::new(token.to_string());
        *held = Some((token.clone(), Instant::now() + Duration::from_secs(life)));
        Ok(token)
    }

    /// Drops the held token (the server refused it): the next request asks for a new one.
    pub(super) fn forget_token(&self) {
        if let Ok(mut held) = self.token.lock() {
            *held = None;
        }
    }
}

/// Stores a new or imported key in `tx` (see [`SmartKey::store`]); a leaf for the façade.
pub fn store_key(tx: &mut Tx<'_>, pem: Option<&[u8]>) -> Result<Value, FhirError> {
    Ok(SmartKey::store(tx, pem)?.jwks())
}
