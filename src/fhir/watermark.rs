//! What the HIM station's vault held when it exported a batch (the [`Watermark`] in the batch's AuditEvent), read
//! back from the batch files beside a new export, and the refusal to export from a vault older than a batch it
//! already sent (issue 14, item 7).
//!
//! A vault restored from an older copy has forgotten the handoff files and batches that came after the copy: left
//! alone, it would import the same files again and export the same entries as a new batch, and nothing would say so.
//! The batches it exported before are outside the vault (in the export folder and in the EHR), so they are the
//! witness: each carries how many batches the station had exported, how many audit rows its vault held and the
//! newest handoff file per workstation. Before a new batch is recorded, every batch file of this station in the
//! folder the new one goes to is read (only its last line: the AuditEvent is always the bundle's last entry) and
//! compared with the vault; a vault behind any of them is refused.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::{json, Value};

use super::{FhirError, Watermark, WORKSTATION_SYSTEM};

/// `AuditEvent.entity.detail.type` of each figure.
const BATCHES: &str = "dtk-batches-exported";
const AUDIT_ROWS: &str = "dtk-audit-rows";
const HANDOFF: &str = "dtk-handoff-file:";

/// How much of a batch file's end is read: the AuditEvent line with its details, generously.
const TAIL: u64 = 256 * 1024;

/// The watermark as `AuditEvent.entity.detail` (type and `valueString`, as R4 defines it).
pub(super) fn details(w: &Watermark) -> Value {
    let mut d = vec![
        json!({ "type": BATCHES, "valueString": w.batches.to_string() }),
        json!({ "type": AUDIT_ROWS, "valueString": w.audit_rows.to_string() }),
    ];
    for (ws, seq) in &w.handoffs {
        d.push(json!({ "type": format!("{HANDOFF}{ws}"), "valueString": seq.to_string() }));
    }
    Value::Array(d)
}

/// A batch of `station` found in a file: its id and watermark.
#[derive(Debug, PartialEq)]
struct Found {
    batch: String,
    watermark: Watermark,
}

/// Reads the AuditEvent from the last entry line of a bundle this module's writer produced (`…,\n{entry}\n]}\n`).
/// Anything else (another program's file, a batch from before watermarks, another station's batch) is `None`.
fn read_batch_file(path: &Path, station: &str) -> Option<Found> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(TAIL))).ok()?;
    let mut tail = Vec::new();
    f.take(TAIL).read_to_end(&mut tail).ok()?;
    let text = std::str::from_utf8(&tail).ok()?;
    let body = text.strip_suffix("\n]}\n")?;
    let line = body.rsplit('\n').next()?.trim_start_matches(',');
    let entry: Value = serde_json::from_str(line).ok()?;
    let r = entry.get("resource")?;
    if r["resourceType"] != "AuditEvent"
        || r["source"]["observer"]["identifier"]["system"] != WORKSTATION_SYSTEM
        || r["source"]["observer"]["identifier"]["value"] != station
    {
        return None;
    }
    let entity = r["entity"].get(0)?;
    let batch = entity["what"]["identifier"]["value"].as_str()?.to_string();
    let mut w = Watermark::default();
    let mut seen = false;
    for d in entity["detail"].as_array()? {
        let (Some(ty), Some(v)) = (d["type"].as_str(), d["valueString"].as_str().and_then(|v| v.parse().ok())) else {
            continue;
        };
        match ty {
            BATCHES => (w.batches, seen) = (v, true),
            AUDIT_ROWS => w.audit_rows = v,
            _ => {
                if let Some(ws) = ty.strip_prefix(HANDOFF) {
                    w.handoffs.insert(ws.to_string(), v);
                }
            }
        }
    }
    seen.then_some(Found { batch, watermark: w })
}

/// What a vault holding `now` lacks of what `then` records, in words; `None` when it holds at least as much.
fn behind(now: &Watermark, then: &Watermark) -> Option<String> {
    let mut what = Vec::new();
    if now.batches < then.batches {
        what.push(format!("that batch was its export #{}, the vault knows of {} export(s)", then.batches, now.batches));
    }
    if now.audit_rows < then.audit_rows {
        what.push(format!("its audit log held {} rows then and holds {} now", then.audit_rows, now.audit_rows));
    }
    for (ws, seq) in &then.handoffs {
        let have = now.handoffs.get(ws).copied().unwrap_or(0);
        if have < *seq {
            what.push(format!("it had imported handoff file #{seq} of workstation {ws}, the vault only #{have}"));
        }
    }
    (!what.is_empty()).then(|| what.join("; "))
}

/// Refuses when a batch file of `station` in `dir` records more than the vault holds now (`now`).
pub(super) fn refuse_if_older(dir: &Path, station: &str, now: &Watermark) -> Result<(), FhirError> {
    let Ok(listing) = std::fs::read_dir(dir) else { return Ok(()) };
    let mut files: Vec<_> = listing.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    for path in files {
        let Some(found) = read_batch_file(&path, station) else { continue };
        if let Some(what) = behind(now, &found.watermark) {
            let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            return Err(FhirError::OlderThanBatch { batch: found.batch, file, what });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(batches: i64, rows: i64, handoffs: &[(&str, i64)]) -> Watermark {
        Watermark { batches, audit_rows: rows, handoffs: handoffs.iter().map(|(w, s)| (w.to_string(), *s)).collect() }
    }

    #[test]
    fn a_vault_is_behind_only_where_it_holds_less() {
        let then = mark(2, 100, &[("WS-1", 3)]);
        assert_eq!(behind(&mark(2, 100, &[("WS-1", 3)]), &then), None);
        assert_eq!(behind(&mark(3, 150, &[("WS-1", 4), ("WS-2", 1)]), &then), None);
        let b = behind(&mark(1, 40, &[]), &then).expect("behind");
        assert!(b.contains("export #2") && b.contains("100 rows") && b.contains("#3 of workstation WS-1"), "{b}");
    }

    #[test]
    fn the_watermark_is_read_back_from_the_last_line_of_a_batch_file() {
        let dir = tempfile::tempdir().expect("dir");
        let w = mark(4, 1234, &[("WS-1", 2), ("WS-9", 7)]);
        let ae = json!({ "resource": {
            "resourceType": "AuditEvent",
            "source": { "observer": { "identifier": { "system": WORKSTATION_SYSTEM, "value": "HIM-1" } } },
            "entity": [{ "what": { "identifier": { "value": "b-1" } }, "detail": details(&w) }]
        }});
        let text = format!("{{\"resourceType\":\"Bundle\",\"entry\":[\n{{\"a\":1}},\n{ae}\n]}}\n");
        let path = dir.path().join("batch.json");
        crate::durable::write(&path, text.as_bytes()).expect("write");
        assert_eq!(read_batch_file(&path, "HIM-1"), Some(Found { batch: "b-1".into(), watermark: w }));
        assert_eq!(read_batch_file(&path, "HIM-2"), None, "another station's batch is not this vault's witness");
        crate::durable::write(&path, b"not a bundle").expect("write");
        assert_eq!(read_batch_file(&path, "HIM-1"), None);
    }
}
