//! The HIM desk's post never holds the shell's one lock while a transaction is on the network (issue 15 item 2):
//! with a FHIR server that takes seconds to answer, other commands (the worklist's counts, the post's progress)
//! answer at once, and the post, once the server answers, records what it said.
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

/// A loopback FHIR server that waits `delay` and then refuses every transaction with an OperationOutcome.
fn slow_server(delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut length = 0usize;
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
                let text = r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","details":{"text":"slow and unhappy"}}]}"#;
                let mut out = stream;
                let _ = out.write_all(
                    format!(
                        "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                        text.len()
                    )
                    .as_bytes(),
                );
            });
        }
    });
    base
}

#[test]
fn a_slow_ehr_never_holds_the_shells_lock() {
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

    // The HIM desk posts to a server that takes three seconds to answer.
    let base = slow_server(Duration::from_secs(3));
    std::fs::write(
        him_dir.path().join("site.json"),
        serde_json::json!({ "fhir_servers": [{ "name": "EHR", "base_url": base }] }).to_string(),
    )
    .expect("site.json");
    let shell = std::sync::Arc::new(Shell::open(him_dir.path()));
    sign_in(&shell, "lhim").expect("analyst signs in");
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
