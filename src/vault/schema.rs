//! The vault's schema, as an ordered list of migrations. `PRAGMA user_version` records how many have run; a vault
//! whose version is higher than [`SCHEMA_VERSION`] was written by a newer Downtime Kit and is refused, not damaged.

/// `PRAGMA application_id`: "DTK1". A SQLite file without it is not a vault and is never written to.
pub const APPLICATION_ID: i32 = 0x4454_4B31;

/// Migrations in order; index + 1 is the schema version each one produces. Never edit a released migration:
/// append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the foundation: metadata, key wraps, users, the audit chain.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) STRICT;

    -- The data key wrapped once per user (Argon2id) and once under the recovery key.
    CREATE TABLE key_wraps (
        id      TEXT PRIMARY KEY,
        kind    TEXT NOT NULL CHECK (kind IN ('user', 'recovery')),
        user_id TEXT,
        kdf_m   INTEGER,
        kdf_t   INTEGER,
        kdf_p   INTEGER,
        salt    BLOB NOT NULL,
        wrapped BLOB NOT NULL
    ) STRICT;

    -- Staff accounts. Staff names and roles are not patient data; they stay readable so that sign-in can find the
    -- wrap, and a keyed MAC (row_mac) stops anyone without the data key from editing a role or a status.
    -- failed_count and locked_until are outside the MAC because they must change when nobody can sign in.
    CREATE TABLE users (
        id           TEXT PRIMARY KEY,
        username     TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        role         TEXT NOT NULL CHECK (role IN ('nurse', 'charge', 'him', 'admin')),
        status       TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
        must_change  INTEGER NOT NULL,
        created_at   TEXT NOT NULL,
        created_by   TEXT NOT NULL,
        expires_at   TEXT,
        emergency    INTEGER NOT NULL DEFAULT 0,
        mac          BLOB NOT NULL,
        failed_count INTEGER NOT NULL DEFAULT 0,
        locked_until TEXT
    ) STRICT;

    -- The audit chain: append-only; each row's MAC covers the previous row's MAC. The detail is encrypted because it
    -- may name a patient. The sealed chain head lives in meta('audit_head').
    CREATE TABLE audit (
        seq    INTEGER PRIMARY KEY,
        at     TEXT NOT NULL,
        actor  TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail BLOB NOT NULL,
        mac    BLOB NOT NULL
    ) STRICT;
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

    -- Events that happen while nobody holds the key (a failed sign-in): staged here without a MAC and folded into
    -- the chain, in order, by the next successful sign-in.
    CREATE TABLE audit_pending (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at     TEXT NOT NULL,
        actor  TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL
    ) STRICT;

    -- Drafts: autosaved, encrypted, visible to their author only.
    CREATE TABLE drafts (
        id         TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        fv         INTEGER NOT NULL,
        body       BLOB NOT NULL
    ) STRICT;
    CREATE INDEX drafts_by_user ON drafts (user_id, updated_at);
    "#,
    // 2: the clinical heart: census snapshot, patients, temporary MRNs, episodes, entries and their versions.
    r#"
    CREATE TABLE census_snapshots (
        id            TEXT PRIMARY KEY,
        imported_at   TEXT NOT NULL,
        imported_by   TEXT NOT NULL,
        snapshot_time TEXT,
        patient_count INTEGER NOT NULL,
        fv            INTEGER NOT NULL,
        body          BLOB NOT NULL
    ) STRICT;

    -- One row per patient the unit can chart on. The MRN is only a keyed blind index; the rest is sealed.
    CREATE TABLE patients (
        id          TEXT PRIMARY KEY,
        mrn_idx     BLOB NOT NULL UNIQUE,
        source      TEXT NOT NULL CHECK (source IN ('census', 'registration')),
        snapshot_id TEXT,
        created_at  TEXT NOT NULL,
        fv          INTEGER NOT NULL,
        body        BLOB NOT NULL
    ) STRICT;

    -- Temporary MRNs issued from this workstation's pre-assigned block (numbers are not patient data).
    CREATE TABLE temp_mrns (
        number     INTEGER PRIMARY KEY,
        patient_id TEXT NOT NULL,
        issued_at  TEXT NOT NULL
    ) STRICT;

    CREATE TABLE episodes (
        id         TEXT PRIMARY KEY,
        unit       TEXT NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('real', 'drill')),
        started_at TEXT NOT NULL,
        started_by TEXT NOT NULL,
        ended_at   TEXT,
        ended_by   TEXT,
        fv         INTEGER NOT NULL,
        body       BLOB NOT NULL
    ) STRICT;

    -- An entry: one filled form. Plain columns are what lists and the worklist filter on; none is patient data
    -- (patient_idx and med_idx are keyed blind indexes).
    CREATE TABLE entries (
        id              TEXT PRIMARY KEY,
        patient_idx     BLOB NOT NULL,
        form            TEXT NOT NULL,
        episode_id      TEXT NOT NULL REFERENCES episodes (id),
        author          TEXT NOT NULL,
        workstation     TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('draft', 'signed', 'amended', 'entered-in-error')),
        current_version INTEGER NOT NULL,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL,
        med_idx         BLOB,
        origin          TEXT NOT NULL DEFAULT 'electronic' CHECK (origin IN ('electronic', 'paper'))
    ) STRICT;
    CREATE INDEX entries_by_patient ON entries (patient_idx, created_at);
    CREATE INDEX entries_by_episode ON entries (episode_id, created_at);
    CREATE INDEX entries_for_duplicates ON entries (patient_idx, form, med_idx);

    -- Every version of every entry. Signed versions are immutable and no version is ever deleted.
    CREATE TABLE entry_versions (
        entry_id     TEXT NOT NULL REFERENCES entries (id),
        version      INTEGER NOT NULL,
        kind         TEXT NOT NULL CHECK (kind IN ('original', 'amendment', 'entered-in-error')),
        author       TEXT NOT NULL,
        recorded_at  TEXT NOT NULL,
        signed_at    TEXT,
        signed_by    TEXT,
        content_hash TEXT NOT NULL,
        fv           INTEGER NOT NULL,
        body         BLOB NOT NULL,
        PRIMARY KEY (entry_id, version)
    ) STRICT;
    CREATE TRIGGER signed_versions_are_immutable BEFORE UPDATE ON entry_versions WHEN OLD.signed_at IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'signed entry versions are immutable'); END;
    CREATE TRIGGER entry_versions_are_kept BEFORE DELETE ON entry_versions
        BEGIN SELECT RAISE(ABORT, 'entry versions are never deleted'); END;
    "#,
    // 3: the downtime procedure: severity changes, checklist ticks and status updates of each episode.
    r#"
    CREATE TABLE episode_events (
        id         TEXT PRIMARY KEY,
        episode_id TEXT NOT NULL REFERENCES episodes (id),
        at         TEXT NOT NULL,
        actor      TEXT NOT NULL,
        kind       TEXT NOT NULL,
        fv         INTEGER NOT NULL,
        body       BLOB NOT NULL
    ) STRICT;
    CREATE INDEX episode_events_by_episode ON episode_events (episode_id, at);
    "#,
    // 4: handoff files and reconciliation. On a workstation only handoff_exports is used; on the HIM station the
    // imported entries live in entries/entry_versions (their workstation column says where they came from) and the
    // tables below hold the HIM side. No column is patient data: MRNs appear only as keyed blind indexes, and the
    // clinical time (recon.clinical_at), like entries.created_at, is a bare time kept plain so that duplicate
    // proposals can use an index instead of decrypting every entry of a patient.
    r#"
    -- Every handoff file this workstation wrote; the sequence number lets HIM refuse replayed, older files.
    CREATE TABLE handoff_exports (
        sequence    INTEGER PRIMARY KEY,
        episode_id  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        created_by  TEXT NOT NULL,
        file_sha256 TEXT NOT NULL
    ) STRICT;

    -- Every handoff file imported on the HIM station. The first file of a workstation pins its signing key.
    CREATE TABLE handoff_files (
        workstation TEXT NOT NULL,
        sequence    INTEGER NOT NULL,
        file_sha256 TEXT NOT NULL,
        signer      TEXT NOT NULL,
        episode_id  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        imported_by TEXT NOT NULL,
        PRIMARY KEY (workstation, sequence)
    ) STRICT;

    -- The workstations' audit rows, verified by their unkeyed hash chain at import; detail sealed under HIM's key.
    CREATE TABLE handoff_audit (
        workstation TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        hash        TEXT NOT NULL,
        at          TEXT NOT NULL,
        actor       TEXT NOT NULL,
        action      TEXT NOT NULL,
        target      TEXT NOT NULL,
        fv          INTEGER NOT NULL,
        detail      BLOB NOT NULL,
        PRIMARY KEY (workstation, seq)
    ) STRICT;
    CREATE TRIGGER handoff_audit_no_update BEFORE UPDATE ON handoff_audit
        BEGIN SELECT RAISE(ABORT, 'imported audit rows are append-only'); END;

    -- Staff names of each workstation (not patient data), for the author agents of the FHIR export.
    CREATE TABLE handoff_staff (
        workstation  TEXT NOT NULL,
        username     TEXT NOT NULL,
        display_name TEXT NOT NULL,
        role         TEXT NOT NULL,
        PRIMARY KEY (workstation, username)
    ) STRICT;

    -- Versions that arrived with different content under an id+version already imported: surfaced, never merged.
    CREATE TABLE handoff_conflicts (
        entry_id     TEXT NOT NULL,
        version      INTEGER NOT NULL,
        workstation  TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        file_sha256  TEXT NOT NULL,
        seen_at      TEXT NOT NULL,
        PRIMARY KEY (entry_id, version, content_hash)
    ) STRICT;

    -- The reconciliation state of every entry on the HIM worklist.
    CREATE TABLE recon (
        entry_id     TEXT PRIMARY KEY REFERENCES entries (id),
        state        TEXT NOT NULL CHECK (state IN ('pending', 'matched', 'accepted', 'duplicate', 'rejected',
                                                    'needs-correction', 'exported', 'posted')),
        patient_idx  BLOB NOT NULL,
        form         TEXT NOT NULL,
        match_idx    BLOB,
        clinical_at  TEXT,
        workstation  TEXT NOT NULL,
        duplicate_of TEXT,
        batch_id     TEXT,
        updated_at   TEXT NOT NULL,
        updated_by   TEXT NOT NULL,
        fv           INTEGER NOT NULL,
        body         BLOB NOT NULL
    ) STRICT;
    CREATE INDEX recon_by_state ON recon (state, entry_id);
    CREATE INDEX recon_by_patient ON recon (patient_idx, entry_id);
    CREATE INDEX recon_by_workstation ON recon (workstation, entry_id);
    CREATE INDEX recon_by_form ON recon (form, entry_id);
    CREATE INDEX recon_for_duplicates ON recon (patient_idx, form, match_idx, clinical_at);

    -- Proposed duplicate pairs (entry_id < other_id) and the analyst's answer.
    CREATE TABLE recon_duplicates (
        entry_id   TEXT NOT NULL,
        other_id   TEXT NOT NULL,
        status     TEXT NOT NULL CHECK (status IN ('proposed', 'confirmed', 'dismissed')),
        decided_by TEXT,
        decided_at TEXT,
        PRIMARY KEY (entry_id, other_id)
    ) STRICT;
    CREATE INDEX recon_duplicates_other ON recon_duplicates (other_id);
    CREATE INDEX recon_duplicates_open ON recon_duplicates (status);

    -- FHIR export batches: what is needed to regenerate each file byte for byte, and its hash.
    CREATE TABLE export_batches (
        id          TEXT PRIMARY KEY,
        created_at  TEXT NOT NULL,
        created_by  TEXT NOT NULL,
        entry_count INTEGER NOT NULL,
        sha256      TEXT NOT NULL,
        fv          INTEGER NOT NULL,
        body        BLOB NOT NULL
    ) STRICT;
    CREATE TABLE export_batch_entries (
        batch_id   TEXT NOT NULL REFERENCES export_batches (id),
        entry_id   TEXT NOT NULL REFERENCES entries (id),
        position   INTEGER NOT NULL,
        version    INTEGER NOT NULL,
        post_state TEXT NOT NULL CHECK (post_state IN ('unposted', 'posted', 'failed')),
        fv         INTEGER NOT NULL,
        body       BLOB NOT NULL,
        PRIMARY KEY (batch_id, entry_id)
    ) STRICT;
    CREATE UNIQUE INDEX export_batch_order ON export_batch_entries (batch_id, position);
    "#,
    // 5 (issue 8, "scale"): indexes that keep a four-week vault as fast as a new one, with no plaintext column.
    // entries.dup_idx is a keyed blind index of (patient, form, hour of the clinical time), so the duplicate check
    // reads the few entries of the hours its window covers instead of decrypting every entry of the patient and
    // form; entries written before this migration have none and are still checked the old way (partial index).
    // entries_patient_page serves a patient's newest-first page straight from the index, without a sort.
    r#"
    ALTER TABLE entries ADD COLUMN dup_idx BLOB;
    CREATE INDEX entries_by_dup_bucket ON entries (dup_idx) WHERE dup_idx IS NOT NULL;
    CREATE INDEX entries_dup_unbucketed ON entries (patient_idx, form) WHERE dup_idx IS NULL;
    CREATE INDEX entries_patient_page ON entries (patient_idx, created_at DESC, id);
    "#,
    // 6 (issue 14, "nothing lost"): two worklist states, `refused` (the EHR refused the entry when its batch was
    // posted: open until the analyst decides) and `entered-by-hand` (typed in by hand in the EHR instead: closed).
    // SQLite cannot change a CHECK constraint in place, so the table is rebuilt with the same columns and indexes.
    r#"
    CREATE TABLE recon_new (
        entry_id     TEXT PRIMARY KEY REFERENCES entries (id),
        state        TEXT NOT NULL CHECK (state IN ('pending', 'matched', 'accepted', 'duplicate', 'rejected',
                                                    'needs-correction', 'exported', 'posted', 'refused',
                                                    'entered-by-hand')),
        patient_idx  BLOB NOT NULL,
        form         TEXT NOT NULL,
        match_idx    BLOB,
        clinical_at  TEXT,
        workstation  TEXT NOT NULL,
        duplicate_of TEXT,
        batch_id     TEXT,
        updated_at   TEXT NOT NULL,
        updated_by   TEXT NOT NULL,
        fv           INTEGER NOT NULL,
        body         BLOB NOT NULL
    ) STRICT;
    INSERT INTO recon_new SELECT entry_id, state, patient_idx, form, match_idx, clinical_at, workstation, duplicate_of,
                                 batch_id, updated_at, updated_by, fv, body FROM recon;
    DROP TABLE recon;
    ALTER TABLE recon_new RENAME TO recon;
    CREATE INDEX recon_by_state ON recon (state, entry_id);
    CREATE INDEX recon_by_patient ON recon (patient_idx, entry_id);
    CREATE INDEX recon_by_workstation ON recon (workstation, entry_id);
    CREATE INDEX recon_by_form ON recon (form, entry_id);
    CREATE INDEX recon_for_duplicates ON recon (patient_idx, form, match_idx, clinical_at);
    "#,
    // 7 (issue 14, "nothing lost"): what each imported handoff file says its workstation left unsigned, per author
    // (drafts never leave a workstation), kept on the HIM station so the reconciliation report names it later. A
    // file written before files carried the count has no row. Sealed, although usernames and counts are not patient
    // data, so that the count is bound to its file and an edit with an SQLite tool fails `verify`.
    r#"
    CREATE TABLE handoff_unsigned (
        workstation TEXT NOT NULL,
        sequence    INTEGER NOT NULL,
        fv          INTEGER NOT NULL,
        body        BLOB NOT NULL,
        PRIMARY KEY (workstation, sequence)
    ) STRICT;
    "#,
    // 8 (issue 14, "a dead disk"): `dtk status` and the app's banner ask for the newest `backup.written` row of the
    // audit log every time they show the backup's age; this index finds it without walking a four-week log.
    r#"
    CREATE INDEX audit_by_action ON audit (action, seq);
    "#,
    // 9 (issue 14 item 6, "plaintext metadata is not authenticated"): a MAC per row of every table whose plaintext
    // columns decide what a user sees or what HIM exports (`MACED_TABLES`, computed by `vault::rows`). Rows written
    // before this migration get theirs at the first keyed sign-in (trust on upgrade). The two "never update"
    // triggers let that one write through: they now refuse updates only of rows that already have a MAC.
    r#"
    ALTER TABLE meta ADD COLUMN mac BLOB;
    ALTER TABLE key_wraps ADD COLUMN mac BLOB;
    ALTER TABLE drafts ADD COLUMN mac BLOB;
    ALTER TABLE census_snapshots ADD COLUMN mac BLOB;
    ALTER TABLE patients ADD COLUMN mac BLOB;
    ALTER TABLE temp_mrns ADD COLUMN mac BLOB;
    ALTER TABLE episodes ADD COLUMN mac BLOB;
    ALTER TABLE entries ADD COLUMN mac BLOB;
    ALTER TABLE entry_versions ADD COLUMN mac BLOB;
    ALTER TABLE episode_events ADD COLUMN mac BLOB;
    ALTER TABLE handoff_exports ADD COLUMN mac BLOB;
    ALTER TABLE handoff_files ADD COLUMN mac BLOB;
    ALTER TABLE handoff_audit ADD COLUMN mac BLOB;
    ALTER TABLE handoff_staff ADD COLUMN mac BLOB;
    ALTER TABLE handoff_conflicts ADD COLUMN mac BLOB;
    ALTER TABLE recon ADD COLUMN mac BLOB;
    ALTER TABLE recon_duplicates ADD COLUMN mac BLOB;
    ALTER TABLE export_batches ADD COLUMN mac BLOB;
    ALTER TABLE export_batch_entries ADD COLUMN mac BLOB;
    ALTER TABLE handoff_unsigned ADD COLUMN mac BLOB;
    DROP TRIGGER signed_versions_are_immutable;
    CREATE TRIGGER signed_versions_are_immutable BEFORE UPDATE ON entry_versions
        WHEN OLD.signed_at IS NOT NULL AND OLD.mac IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'signed entry versions are immutable'); END;
    DROP TRIGGER handoff_audit_no_update;
    CREATE TRIGGER handoff_audit_no_update BEFORE UPDATE ON handoff_audit WHEN OLD.mac IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'imported audit rows are append-only'); END;
    "#,
    // 10 (issue 15 item 4, read-back): what the last read-back of a posted batch found on the EHR's server, per
    // entry: every resource there exactly once (`present`), some not found (`missing`), or one found more than once
    // (`duplicated`: a second post created a copy). The body (sealed) names the resources by type and identifier.
    // A new read-back of the batch replaces its rows.
    r#"
    CREATE TABLE export_readback (
        batch_id   TEXT NOT NULL REFERENCES export_batches (id),
        entry_id   TEXT NOT NULL REFERENCES entries (id),
        checked_at TEXT NOT NULL,
        checked_by TEXT NOT NULL,
        state      TEXT NOT NULL CHECK (state IN ('present', 'missing', 'duplicated')),
        resources  INTEGER NOT NULL,
        fv         INTEGER NOT NULL,
        body       BLOB NOT NULL,
        mac        BLOB,
        PRIMARY KEY (batch_id, entry_id)
    ) STRICT;
    "#,
    // 11 (issue 17 item 2, one account for the site's workstations): a key wrap may be of kind `roster`, the data
    // key wrapped to a user of the site's signed roster (src/roster). SQLite cannot change a CHECK in place, so the
    // table is rebuilt with the same columns; rows and their MACs are copied unchanged.
    r#"
    CREATE TABLE key_wraps_new (
        id      TEXT PRIMARY KEY,
        kind    TEXT NOT NULL CHECK (kind IN ('user', 'recovery', 'roster')),
        user_id TEXT,
        kdf_m   INTEGER,
        kdf_t   INTEGER,
        kdf_p   INTEGER,
        salt    BLOB NOT NULL,
        wrapped BLOB NOT NULL,
        mac     BLOB
    ) STRICT;
    INSERT INTO key_wraps_new SELECT id, kind, user_id, kdf_m, kdf_t, kdf_p, salt, wrapped, mac FROM key_wraps;
    DROP TABLE key_wraps;
    ALTER TABLE key_wraps_new RENAME TO key_wraps;
    "#,
    // 12 (issue 19, the save within 1.5x of SQLite): every save writes one page of each index of `entries`, and
    // these two serve no query another index does not serve as well: a patient's entries are read through
    // `entries_patient_page (patient_idx, created_at DESC, id)`, the duplicate check through the bucket indexes.
    r#"
    DROP INDEX IF EXISTS entries_by_patient;
    DROP INDEX IF EXISTS entries_for_duplicates;
    "#,
    // 13 (issue 19): a signed save appends two audit rows (`entry.created`, `entry.signed`), and each wrote its own
    // page of `audit_by_action`, which is only ever asked for other actions (the newest backup, verify, handover,
    // census import, handoff export). The index now leaves out the actions of entries; a query restates
    // [`AUDIT_BY_ACTION_WHERE`] to use it.
    r#"
    DROP INDEX audit_by_action;
    CREATE INDEX audit_by_action ON audit (action, seq) WHERE action NOT LIKE 'entry.%';
    "#,
    // 14 (issue 20, the unit share): the segments this workstation published (its own id in `workstation`) and
    // received from its peers, and the peers' records, kept apart from this workstation's own entries so that none
    // is ever amended, signed or handed off here. Every record body is sealed; `patient_idx`, `form` and `med_idx`
    // (keyed blind indexes under this vault's key, computed at receipt) are what the duplicate check looks up.
    r#"
    CREATE TABLE unit_segments (
        workstation TEXT NOT NULL,
        sequence    INTEGER NOT NULL,
        file_sha256 TEXT NOT NULL,
        signer      TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        received_at TEXT NOT NULL,
        watermark   INTEGER NOT NULL,
        audit_head  TEXT NOT NULL,
        mac         BLOB,
        PRIMARY KEY (workstation, sequence)
    ) STRICT;
    CREATE TABLE unit_records (
        workstation TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('episode', 'staff', 'registration', 'event', 'audit', 'entry',
                                                  'unsigned')),
        id          TEXT NOT NULL,
        sequence    INTEGER NOT NULL,
        patient_idx BLOB,
        form        TEXT,
        med_idx     BLOB,
        fv          INTEGER NOT NULL,
        body        BLOB NOT NULL,
        mac         BLOB,
        PRIMARY KEY (workstation, kind, id)
    ) STRICT;
    CREATE INDEX unit_records_by_patient ON unit_records (patient_idx, form) WHERE patient_idx IS NOT NULL;
    "#,
    // 15 (issue 15 item 5, export speed): the next batch's entries (`fhir::exportable`: accepted, in clinical-time
    // order, with their forms) are read from this index alone; reading each worklist row for its time and form was a
    // random read per entry on a cold cache (1.5 s of a 100,000-entry export). Both columns were plain already.
    r#"
    DROP INDEX recon_by_state;
    CREATE INDEX recon_by_state ON recon (state, entry_id, clinical_at, form);
    "#,
];

/// The condition of the partial index `audit_by_action` (migration 13). A query by action adds it (`AND …`), or
/// SQLite cannot know that the index holds every row it asks for, and reads the whole log.
pub const AUDIT_BY_ACTION_WHERE: &str = "action NOT LIKE 'entry.%'";

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Every encrypted column, for `verify`: (table, id column, format-version column, sealed column).
pub const SEALED_COLUMNS: &[(&str, &str, &str, &str)] = &[
    ("drafts", "id", "fv", "body"),
    ("census_snapshots", "id", "fv", "body"),
    ("patients", "id", "fv", "body"),
    ("episodes", "id", "fv", "body"),
    ("entry_versions", "entry_id || '/' || version", "fv", "body"),
    ("episode_events", "id", "fv", "body"),
    ("handoff_audit", "workstation || '/' || seq", "fv", "detail"),
    ("handoff_unsigned", "workstation || '/' || sequence", "fv", "body"),
    ("recon", "entry_id", "fv", "body"),
    ("export_batches", "id", "fv", "body"),
    ("export_batch_entries", "batch_id || '/' || entry_id", "fv", "body"),
    ("export_readback", "batch_id || '/' || entry_id", "fv", "body"),
    ("unit_records", "workstation || '/' || kind || '/' || id", "fv", "body"),
];

/// A table whose rows carry a MAC over every plaintext column (`vault::rows`): its key columns (how `verify` names a
/// row) and every column the MAC covers, in the order inserts name them. Everything but `mac` itself is covered.
/// A column added to one of these tables later is appended to its list; it must be NULL in the rows written before
/// (NULL columns are left out of the MAC, so their MACs stay valid), or its migration must have every row re-MAC'ed.
pub struct MacedTable {
    pub name: &'static str,
    pub key: &'static [&'static str],
    pub columns: &'static [&'static str],
}

/// Every table with row MACs. Not here: `users` (its own MAC since migration 1, `auth::User`), `audit` (the
/// keyed chain) and `audit_pending` (written while nobody holds the key). `tests/it/vault.rs`
/// `fail_any_edited_column_of_any_table` edits every column of every table and fails on one left unprotected.
pub const MACED_TABLES: &[MacedTable] = &[
    MacedTable { name: "meta", key: &["key"], columns: &["key", "value"] },
    MacedTable {
        name: "key_wraps",
        key: &["id"],
        columns: &["id", "kind", "user_id", "kdf_m", "kdf_t", "kdf_p", "salt", "wrapped"],
    },
    MacedTable { name: "drafts", key: &["id"], columns: &["id", "user_id", "created_at", "updated_at", "fv", "body"] },
    MacedTable {
        name: "census_snapshots",
        key: &["id"],
        columns: &["id", "imported_at", "imported_by", "snapshot_time", "patient_count", "fv", "body"],
    },
    MacedTable {
        name: "patients",
        key: &["id"],
        columns: &["id", "mrn_idx", "source", "snapshot_id", "created_at", "fv", "body"],
    },
    MacedTable { name: "temp_mrns", key: &["number"], columns: &["number", "patient_id", "issued_at"] },
    MacedTable {
        name: "episodes",
        key: &["id"],
        columns: &["id", "unit", "kind", "started_at", "started_by", "ended_at", "ended_by", "fv", "body"],
    },
    MacedTable {
        name: "entries",
        key: &["id"],
        columns: &[
            "id",
            "patient_idx",
            "form",
            "episode_id",
            "author",
            "workstation",
            "status",
            "current_version",
            "created_at",
            "updated_at",
            "med_idx",
            "origin",
            "dup_idx",
        ],
    },
    MacedTable {
        name: "entry_versions",
        key: &["entry_id", "version"],
        columns: &[
            "entry_id",
            "version",
            "kind",
            "author",
            "recorded_at",
            "signed_at",
            "signed_by",
            "content_hash",
            "fv",
            "body",
        ],
    },
    MacedTable {
        name: "episode_events",
        key: &["id"],
        columns: &["id", "episode_id", "at", "actor", "kind", "fv", "body"],
    },
    MacedTable {
        name: "handoff_exports",
        key: &["sequence"],
        columns: &["sequence", "episode_id", "created_at", "created_by", "file_sha256"],
    },
    MacedTable {
        name: "handoff_files",
        key: &["workstation", "sequence"],
        columns: &[
            "workstation",
            "sequence",
            "file_sha256",
            "signer",
            "episode_id",
            "created_at",
            "imported_at",
            "imported_by",
        ],
    },
    MacedTable {
        name: "handoff_audit",
        key: &["workstation", "seq"],
        columns: &["workstation", "seq", "hash", "at", "actor", "action", "target", "fv", "detail"],
    },
    MacedTable {
        name: "handoff_staff",
        key: &["workstation", "username"],
        columns: &["workstation", "username", "display_name", "role"],
    },
    MacedTable {
        name: "handoff_conflicts",
        key: &["entry_id", "version", "content_hash"],
        columns: &["entry_id", "version", "workstation", "content_hash", "file_sha256", "seen_at"],
    },
    MacedTable {
        name: "recon",
        key: &["entry_id"],
        columns: &[
            "entry_id",
            "state",
            "patient_idx",
            "form",
            "match_idx",
            "clinical_at",
            "workstation",
            "duplicate_of",
            "batch_id",
            "updated_at",
            "updated_by",
            "fv",
            "body",
        ],
    },
    MacedTable {
        name: "recon_duplicates",
        key: &["entry_id", "other_id"],
        columns: &["entry_id", "other_id", "status", "decided_by", "decided_at"],
    },
    MacedTable {
        name: "export_batches",
        key: &["id"],
        columns: &["id", "created_at", "created_by", "entry_count", "sha256", "fv", "body"],
    },
    MacedTable {
        name: "export_batch_entries",
        key: &["batch_id", "entry_id"],
        columns: &["batch_id", "entry_id", "position", "version", "post_state", "fv", "body"],
    },
    MacedTable {
        name: "handoff_unsigned",
        key: &["workstation", "sequence"],
        columns: &["workstation", "sequence", "fv", "body"],
    },
    MacedTable {
        name: "export_readback",
        key: &["batch_id", "entry_id"],
        columns: &["batch_id", "entry_id", "checked_at", "checked_by", "state", "resources", "fv", "body"],
    },
    MacedTable {
        name: "unit_segments",
        key: &["workstation", "sequence"],
        columns: &[
            "workstation",
            "sequence",
            "file_sha256",
            "signer",
            "created_at",
            "received_at",
            "watermark",
            "audit_head",
        ],
    },
    MacedTable {
        name: "unit_records",
        key: &["workstation", "kind", "id"],
        columns: &["workstation", "kind", "id", "sequence", "patient_idx", "form", "med_idx", "fv", "body"],
    },
];
