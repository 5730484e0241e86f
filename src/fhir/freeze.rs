//! Freezing the accepted entries of a new batch: what each entry is exported with (its current version, the MRN
//! it goes under, author, enterer and verifier by name, whether it registers a patient), fixed once so that the
//! batch regenerates byte for byte whatever happens later.
//!
//! Each entry's rows are read once on the transaction's thread ([`read`]), opened and frozen on a worker
//! ([`Unfrozen::freeze`]: its version body decrypted once, for the frozen facts and for the bundle alike), and
//! stored back on the transaction's thread ([`store`]: the frozen facts in `export_batch_entries`, the worklist row
//! locked as exported).

use std::collections::HashMap;

use super::batch::{open_version, seal_frozen};
use super::{BatchMeta, ExportEntry, FhirError, Frozen, Mode, StaffRef};
use crate::crypto::Keys;
use crate::entries::{Origin, VersionBody};
use crate::forms::Catalog;
use crate::reconcile::{self, RowBody};
use crate::vault::rows::OnConflict;
use crate::vault::{Tx, VaultError};

/// Display names of staff, read once per export: those each workstation's handoff file gave its staff, and this
/// station's accounts. Workers look names up without the connection.
pub(super) struct Names {
    /// By workstation, then username: looked up by borrowed names, twice per entry, without building a key.
    by_station: HashMap<String, HashMap<String, String>>,
    accounts: HashMap<String, String>,
}

impl Names {
    pub(super) fn load(conn: &rusqlite::Connection) -> Result<Names, FhirError> {
        let mut st = conn.prepare("SELECT workstation, username, display_name FROM handoff_staff")?;
        let mut rows = st.query([])?;
        let mut by_station: HashMap<String, HashMap<String, String>> = HashMap::new();
        while let Some(r) = rows.next()? {
            by_station.entry(r.get(0)?).or_default().insert(r.get(1)?, r.get(2)?);
        }
        let mut st = conn.prepare("SELECT username, display_name FROM users")?;
        let accounts = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        Ok(Names { by_station, accounts })
    }

    /// The name the workstation's handoff file gave `username`, else this station's account, else the username.
    fn get(&self, workstation: Option<&str>, username: &str) -> String {
        workstation
            .and_then(|ws| self.by_station.get(ws)?.get(username))
            .or_else(|| self.accounts.get(username))
            .cloned()
            .unwrap_or_else(|| username.to_string())
    }
}

const FREEZE_SQL: &str = "SELECT e.current_version, e.author, e.workstation, e.origin, e.form, e.episode_id,
        v.kind, v.signed_at, r.fv, r.body, v.fv, v.body
   FROM recon r JOIN entries e ON e.id = r.entry_id
   JOIN entry_versions v ON v.entry_id = e.id AND v.version = e.current_version
  WHERE r.entry_id = ?1";

/// One accepted entry's rows as read for freezing, still sealed, so that it can be frozen on another thread.
pub(super) struct Unfrozen {
    id: String,
    position: i64,
    version: i64,
    author: String,
    workstation: String,
    origin: String,
    form: String,
    episode_id: String,
    kind: String,
    signed_at: Option<String>,
    recon_fv: i64,
    recon: Vec<u8>,
    fv: i64,
    body: Vec<u8>,
}

/// Reads the rows an accepted entry is frozen from: its worklist row, its entry and its current version.
pub(super) fn read(conn: &rusqlite::Connection, id: &str, position: i64) -> Result<Unfrozen, FhirError> {
    let mut st = conn.prepare_cached(FREEZE_SQL)?;
    let mut rows = st.query([id])?;
    let r = rows.next()?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    Ok(Unfrozen {
        id: id.to_string(),
        position,
        version: r.get(0)?,
        author: r.get(1)?,
        workstation: r.get(2)?,
        origin: r.get(3)?,
        form: r.get(4)?,
        episode_id: r.get(5)?,
        kind: r.get(6)?,
        signed_at: r.get(7)?,
        recon_fv: r.get(8)?,
        recon: r.get(9)?,
        fv: r.get(10)?,
        body: r.get(11)?,
    })
}

/// An entry frozen for the batch: what its bundle entries are written from, and its worklist row's body.
pub(super) struct Fresh {
    pub(super) entry: ExportEntry,
    pub(super) to_store: ToStore,
}

/// What [`store`] records of a frozen entry.
pub(super) struct ToStore {
    id: String,
    position: i64,
    version: i64,
    frozen: Frozen,
    recon: RowBody,
}

impl Unfrozen {
    /// Decrypts the worklist row and the version and fixes what the entry is exported with. `exporter` verifies the
    /// entries no analyst accepted by name.
    pub(super) fn freeze(
        self,
        keys: &Keys,
        catalog: &Catalog,
        names: &Names,
        exporter: &str,
    ) -> Result<Fresh, FhirError> {
        let Unfrozen { id, position, version, author, workstation, origin, form, episode_id, kind, signed_at, .. } =
            self;
        let recon = reconcile::open_body(keys, &id, self.recon_fv, &self.recon)?;
        let plain = open_version(keys, &id, version, self.fv, &self.body)?;
        let v: VersionBody = serde_json::from_slice(&plain)
            .map_err(|_| VaultError::Integrity(format!("entry_versions {id}/{version}: body is not an entry")))?;
        let subject = recon.matched_mrn.clone().unwrap_or((v.patient.mrn_system.clone(), v.patient.mrn.clone()));
        let paper = origin == "paper";
        let (author_ref, enterer) = match (&v.paper, paper) {
            (Some(p), true) => (
                StaffRef { username: String::new(), display: p.author_name.clone() },
                Some(StaffRef { display: names.get(None, &author), username: author }),
            ),
            _ => (StaffRef { display: names.get(Some(&workstation), &author), username: author }, None),
        };
        let verifier = recon.accepted_by.clone().unwrap_or_else(|| exporter.to_string());
        let form_def =
            catalog.get(&form).ok_or_else(|| FhirError::UnknownForm { entry: id.clone(), form: form.clone() })?;
        // Only a form with a Patient extraction context can register a patient; the others skip the extraction here
        // (the bundle writer extracts every entry once).
        let registers_patient = form_def.may_extract("Patient") && form_registers_patient(form_def, &id, &v)?;
        let frozen = Frozen {
            subject,
            mode: if recon.exported_version.is_some() { Mode::Update } else { Mode::Create },
            author: author_ref,
            enterer,
            verifier: StaffRef { display: names.get(None, &verifier), username: verifier },
            registers_patient,
            location: None,
            failure: None,
        };
        let to_store = ToStore { id: id.clone(), position, version, frozen: frozen.clone(), recon };
        let entry = ExportEntry {
            entry_id: id,
            version,
            version_kind: kind,
            form,
            origin: if paper { Origin::Paper } else { Origin::Electronic },
            episode_id,
            signed_at: signed_at.unwrap_or_default(),
            body: v,
            frozen,
        };
        Ok(Fresh { entry, to_store })
    }
}

fn form_registers_patient(form: &crate::forms::Form, id: &str, v: &VersionBody) -> Result<bool, FhirError> {
    let ctx = crate::forms::ExtractContext {
        entry_id: id,
        subject: serde_json::json!({ "reference": "Patient?identifier=x|y" }),
        encounter: None,
        author: None,
        recorded: "2000-01-01T00:00:00Z",
        clinical_time: v.clinical_time.as_deref(),
    };
    // Validated when it was signed, like every stored response (see `bundle.rs`).
    let resources = crate::forms::extract_signed(form, &v.response, &ctx)
        .map_err(|e| FhirError::Extract { entry: id.to_string(), reason: e.to_string() })?;
    Ok(resources.iter().any(|r| r["resourceType"] == "Patient"))
}

/// Records a frozen entry in the batch (its frozen facts, sealed, at its position) and locks its worklist row as
/// exported in this batch. Refused if the row is no longer accepted.
pub(super) fn store(tx: &mut Tx<'_>, keys: &Keys, batch: &BatchMeta, f: ToStore) -> Result<(), FhirError> {
    let ToStore { id, position, version, frozen, mut recon } = f;
    let sealed = seal_frozen(keys, tx, &batch.id, &id, &frozen);
    tx.insert(
        OnConflict::Abort,
        "export_batch_entries",
        &[
            ("batch_id", &batch.id),
            ("entry_id", &id),
            ("position", &position),
            ("version", &version),
            ("post_state", &"unposted"),
            ("fv", &1_i64),
            ("body", &sealed),
        ],
    )?;
    recon.exported_version = Some(version);
    let rb = reconcile::seal_body(tx, &id, &recon);
    let n = tx.update(
        "recon",
        &[&id],
        Some(("state", &"accepted")),
        &[
            ("state", &"exported"),
            ("batch_id", &batch.id),
            ("updated_at", &batch.created_at),
            ("updated_by", &batch.by.username),
            ("fv", &1_i64),
            ("body", &rb),
        ],
    )?;
    if n != 1 {
        return Err(FhirError::Changed(id));
    }
    Ok(())
}
