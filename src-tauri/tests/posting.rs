//! The HIM desk's post and read-back never hold the shell's one lock while a request is on the network (issue 15
//! item 2): with a FHIR server that takes seconds to answer, other commands (the worklist's counts, the post's
//! progress) answer at once, and the post or read-back, once the server answers, records what it said.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use dtk::api::{EntryOptions, Workstation};
use dtk::clock::SystemClock;
use dtk::crypto::Password;
use dtk_app::commands::{charge, him, Shell};
use dtk_app::dto::HandoffExportRequest;
use support::{repo, sign_in, PASSWORD};

mod support;

/// A loopback FHIR server that waits `delay` before every answer. It refuses every transaction with an
/// OperationOutcome, or (`accept`) answers each with a transaction-response (every entry created) and every search
/// with an empty page.
fn slow_server(delay: Duration, accept: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut length = 0usize;
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                std::thread::sleep(delay);
                let (status, text) = if !accept {
                    ("400 Bad Request", r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","details":{"text":"slow and unhappy"}}]}"#.to_string())
                } else if request_line.starts_with("POST") {
                    ("200 OK", created(&body))
                } else {
                    ("200 OK", r#"{"resourceType":"Bundle","type":"searchset","total":0}"#.to_string())
                };
                let mut out = stream;
                let _ = out.write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len())
                        .as_bytes(),
                );
            });
        }
    });
    base
}

/// The transaction-response of a server that created every entry of the transaction `body`.
fn created(body: &[u8]) -> String {
    let bundle: serde_json::Value = serde_json::from_slice(body).expect("a transaction");
    let entries: Vec<serde_json::Value> = bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let ty = e["resource"]["resourceType"].as_str().unwrap_or("Basic");
            serde_json::json!({ "response": { "status": "201 Created", "location": format!("{ty}/{i}/_history/1") } })
        })
        .collect();
    serde_json::json!({ "resourceType": "Bundle", "type": "transaction-response", "entry": entries }).to_string()
}

/// An HIM station (its folder, and the shell signed in as the analyst) holding one exported batch of one dose,
/// whose site allows one FHIR server, `base`, named EHR.
fn him_with_a_batch(base: &str) -> (tempfile::TempDir, std::sync::Arc<Shell>, String) {
    // A unit workstation charts one dose and hands it off to the HIM station, which accepts and exports it.
    let support::Stations { him_dir, mut him_ws, analyst, unit_dir: dir, unit } = support::stations();
    {
        let mut ws = Workstation::open(dir.path()).expect("open unit");
        let nurse = ws.sign_in("dnurse", &Password::new(PASSWORD.into()), &SystemClock).expect("nurse");
        let dose: serde_json::Value = serde_json::from_slice(
            &std::fs::read(repo("tests/data/forms/responses/medication-administration.json")).expect("sample"),
        )
        .expect("json");
        let opts = EntryOptions {
            sign: true,
            allergy_override: Some("benefit outweighs risk, prescriber informed".into()),
            confirm_not_duplicate: true,
            reason: None,
            clinical_time: None,
        };
        ws.add_entry(&nurse, &dose, &opts, &SystemClock).expect("charted");
    }
    let stick = tempfile::tempdir().expect("stick");
    let written = charge::export_handoff(
        &unit,
        HandoffExportRequest { folder: stick.path().display().to_string(), include_unsigned: false },
    )
    .expect("handoff");
    let outcomes = him::import_files(&mut him_ws, &analyst, vec![written.path.clone()]);
    assert!(outcomes[0].imported.is_some(), "{:?}", outcomes[0].refused);
    him_ws.accept_all_matched(&analyst, &SystemClock).expect("accept");
    let batch = him_ws.export_fhir(&analyst, &stick.path().join("batch.json"), &SystemClock).expect("export").batch_id;

    std::fs::write(
        him_dir.path().join("site.json"),
        serde_json::json!({ "fhir_servers": [{ "name": "EHR", "base_url": base }] }).to_string(),
    )
    .expect("site.json");
    drop(him_ws);
    let shell = std::sync::Arc::new(Shell::open(him_dir.path()));
    sign_in(&shell, "lhim").expect("analyst signs in");
    (him_dir, shell, batch)
}

#[test]
fn a_slow_ehr_never_holds_the_shells_lock() {
    // The HIM desk posts to a server that takes three seconds to answer.
    let (_him_dir, shell, batch) = him_with_a_batch(&slow_server(Duration::from_secs(3), false));
    assert_eq!(him::him_fhir_servers(&shell).expect("servers"), vec!["EHR".to_string()]);
    let posting = {
        let shell = std::sync::Arc::clone(&shell);
        std::thread::spawn(move || him::him_post_fhir(&shell, batch, "EHR".into(), None))
    };
    let started = Instant::now();
    while !him::him_post_progress(&shell).expect("progress").running
        || him::him_post_progress(&shell).expect("p").sent == 0
    {
        // The post first reads the server's CapabilityStatement (three seconds here too), then sends.
        assert!(started.elapsed() < Duration::from_secs(10), "the post started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The transaction is on the network now: other commands take the lock and answer at once.
    let asked = Instant::now();
    let summary = him::him_summary(&shell).expect("summary while the post waits");
    assert!(asked.elapsed() < Duration::from_secs(1), "the summary waited {:?} for the lock", asked.elapsed());
    assert_eq!(summary.exported, 1);
    let progress = him::him_post_progress(&shell).expect("progress");
    assert_eq!((progress.running, progress.sent, progress.remaining), (true, 1, 1));
    let second = him::him_post_fhir(&shell, "other".into(), "EHR".into(), None).expect_err("one post at a time");
    assert!(second.message.contains("already running"), "{}", second.message);

    let report = posting.join().expect("post thread").expect("the post ends");
    assert_eq!((report.server.as_str(), report.posted.len(), report.failed.len()), ("EHR", 0, 1));
    assert!(report.failed[0].text.contains("slow and unhappy"), "{:?}", report.failed);
    let done = him::him_post_progress(&shell).expect("progress");
    assert_eq!((done.running, done.refused, done.remaining), (false, 1, 0));
}

/// "Verify in the EHR" (issue 15 items 2 and 4): the read-back's searches wait on the server without the shell's
/// lock, and what it found is recorded once the server answers.
#[test]
fn a_slow_read_back_never_holds_the_shells_lock() {
    let (_him_dir, shell, batch) = him_with_a_batch(&slow_server(Duration::from_secs(2), true));
    let report = him::him_post_fhir(&shell, batch.clone(), "EHR".into(), None).expect("posted");
    assert_eq!(report.posted.len(), 1, "{:?}", report.failed);
    let reading = {
        let (shell, batch) = (std::sync::Arc::clone(&shell), batch.clone());
        std::thread::spawn(move || him::him_verify_fhir(&shell, batch, None))
    };
    // The read-back first asks for the server's CapabilityStatement (two seconds), then searches (two seconds each).
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..3 {
        let asked = Instant::now();
        let summary = him::him_summary(&shell).expect("summary while the read-back waits");
        assert!(asked.elapsed() < Duration::from_secs(1), "the summary waited {:?} for the lock", asked.elapsed());
        assert_eq!(summary.posted, 1);
        assert!(!reading.is_finished(), "the read-back is still waiting on the server");
        std::thread::sleep(Duration::from_millis(700));
    }
    let r = reading.join().expect("read-back thread").expect("the read-back ends");
    // The server holds nothing it can find: the entry is missing, and said so.
    assert!(r.server.starts_with("http://127.0.0.1:"), "{}", r.server);
    assert_eq!((r.entries, r.verified, r.all_present), (1, 0, false));
    assert!(!r.problems.is_empty() && r.problems.iter().all(|p| p.state == "missing"), "{:?}", r.problems);
}
