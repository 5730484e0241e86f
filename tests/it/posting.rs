//! Posting as hospitals need it (issue 15 items 2 and 3): the server chosen by name from site.json's allowlist,
//! credentials for one post, retries that honour `Retry-After`, a bounded number of transactions in flight, and a
//! post killed mid-way that resumes with only the rest. The FHIR server is the Medplum router double behind a small
//! loopback proxy written here, which plays the server's moods (busy, asking for a token, slow).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dtk::api::{Credentials, PostOptions, Secret, Workstation};
use dtk::clock::SystemClock;
use dtk::reconcile::State;
use serde_json::{json, Value};

use crate::reconcile::{chart, counts, export, fhir_server, him_posting_to, http, med_admin, workstation, Server};
use crate::support::*;

const MRN_SYSTEM: &str = "http://hospital.example.org/mrn";

/// One request the proxy saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// The path and query asked for.
    path: String,
    authorization: Option<String>,
    prefer: Option<String>,
    body: String,
}

/// What the proxy does with a request (numbered from 0).
enum Act {
    Forward,
    Answer(u16, Vec<(&'static str, String)>, String),
}

/// A loopback HTTP server in front of the Medplum double: each request is answered as `act` says, or forwarded
/// after `delay`.
struct Proxy {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    most_at_once: Arc<AtomicUsize>,
}

fn proxy(upstream: &str, delay: Duration, act: impl Fn(usize, &Seen) -> Act + Send + Sync + 'static) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let most_at_once = Arc::new(AtomicUsize::new(0));
    let (upstream, act) = (upstream.to_string(), Arc::new(act));
    let (seen2, most2) = (Arc::clone(&seen), Arc::clone(&most_at_once));
    let now = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (upstream, act, seen, most, now) =
                (upstream.clone(), Arc::clone(&act), Arc::clone(&seen2), Arc::clone(&most2), Arc::clone(&now));
            std::thread::spawn(move || {
                serve(stream, &upstream, delay, &*act, &seen, (&now, &most));
            });
        }
    });
    Proxy { base, seen, most_at_once }
}

fn serve(
    stream: TcpStream,
    upstream: &str,
    delay: Duration,
    act: &dyn Fn(usize, &Seen) -> Act,
    seen: &Mutex<Vec<Seen>>,
    (now, most): (&AtomicUsize, &AtomicUsize),
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("/").to_string());
    let (mut length, mut authorization, mut prefer) = (0usize, None, None);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        let (name, value) = h.split_once(':').unwrap_or((&h, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "authorization" => authorization = Some(value.trim().to_string()),
            "prefer" => prefer = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    // The poster first reads the server's CapabilityStatement: passed through, neither counted nor acted on, so each
    // test's script is about the transactions.
    if method == "GET" && path.ends_with("/metadata") {
        let (status, text) = match ureq::get(&format!("{upstream}{path}")).call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => (r.status(), r.into_string().unwrap_or_default()),
            Err(e) => (502, e.to_string()),
        };
        let head = "Content-Type: application/fhir+json\r\nConnection: close";
        let mut out = stream;
        let _ = out.write_all(
            format!("HTTP/1.1 {status} X\r\n{head}\r\nContent-Length: {}\r\n\r\n{text}", text.len()).as_bytes(),
        );
        return;
    }
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let request = Seen { method: method.clone(), path: path.clone(), authorization, prefer, body: body_text };
    let n = {
        let mut all = seen.lock().expect("seen");
        all.push(request.clone());
        all.len() - 1
    };
    // Counted from the request read to the answer ready, not to the connection's end: a client that has its
    // answer may send the next request before this thread has closed the last one.
    most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
    let answered = act(n, &request);
    let (status, headers, text) = match answered {
        Act::Answer(status, headers, text) => (status, headers, text),
        Act::Forward => {
            std::thread::sleep(delay);
            let req = ureq::request(&method, &format!("{upstream}{path}")).set("Content-Type", "application/fhir+json");
            let resp = if method == "GET" { req.call() } else { req.send_bytes(&body) };
            match resp {
                Ok(r) | Err(ureq::Error::Status(_, r)) => (r.status(), vec![], r.into_string().unwrap_or_default()),
                Err(e) => (502, vec![], e.to_string()),
            }
        }
    };
    now.fetch_sub(1, Ordering::SeqCst);
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/fhir+json\r\nContent-Length: {}\r\nConnection: close\r\n",
        text.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let _ = out.write_all(format!("{head}\r\n{text}").as_bytes());
}

/// An HIM station holding one exported batch of `n` medication administrations for the census patient DEV2001,
/// and the Medplum double that knows the patient.
struct Batch {
    _files: tempfile::TempDir,
    him_tv: TestVault,
    batch_id: String,
    entries: Vec<String>,
    server: Server,
}

fn batch_of(n: usize) -> Batch {
    let files = tempfile::tempdir().expect("dir");
    let him_tv = TestVault::new();
    let (mut him_ws, him) = him_tv.sign_in(HIM);
    let key = him_ws.handoff_keygen(&him, &SystemClock).expect("keygen");
    let mut a = workstation(&key.public_key, "T5A-", false);
    let entries: Vec<String> =
        (0..n).map(|i| chart(&mut a, &med_admin(&format!("2026-11-21T{:02}:15:00-05:00", 6 + i)), true)).collect();
    let file = export(&mut a, files.path(), "a1.dtkh");
    him_ws.import_handoff_file(&him, &file, &SystemClock).expect("import");
    assert_eq!(him_ws.accept_all_matched(&him, &SystemClock).expect("accept"), n);
    let batch_id = him_ws.export_fhir(&him, &files.path().join("batch.json"), &SystemClock).expect("export").batch_id;
    let server = fhir_server();
    http(
        "POST",
        &format!("{}/Patient", server.base),
        Some(&json!({ "resourceType": "Patient", "identifier": [{ "system": MRN_SYSTEM, "value": "DEV2001" }] })),
    );
    Batch { _files: files, him_tv, batch_id, entries, server }
}

fn states(ws: &Workstation, him: &dtk::api::Session, ids: &[String]) -> Vec<State> {
    let page = ws.worklist(him, &dtk::api::WorklistQuery { limit: 1000, ..Default::default() }).expect("worklist");
    ids.iter().map(|id| page.items.iter().find(|i| &i.entry_id == id).expect("on the worklist").state).collect()
}

/// Issue 15 item 2: the EHR's address came from the web page or the command line as typed text. Now a post names
/// a server of site.json's allowlist; a URL or an unknown name is refused with the configured names, and nothing
/// is sent.
#[test]
fn fail_a_post_to_a_url_or_an_unknown_name_names_the_configured_servers() {
    let tv = TestVault::new();
    let site = json!({ "fhir_servers": [{ "name": "EHR", "base_url": "https://ehr.example.org/fhir" },
                                        { "name": "EHR test", "base_url": "http://127.0.0.1:9/fhir" }] });
    std::fs::write(tv.path().join("site.json"), site.to_string()).expect("site.json");
    for given in ["https://ehr.example.org/fhir", "Other"] {
        let out = tv.dtk(Some(HIM), &["export", "fhir", "--batch", "b1", "--post", given]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(r#"choose one of the FHIR servers in site.json: "EHR", "EHR test""#),
            "{given}: {}",
            stderr(&out)
        );
    }
    let token = tv.dtk(Some(HIM), &["export", "fhir", "--batch", "b1", "--token-file", "-"]);
    assert_eq!(token.status.code(), Some(2), "a token goes with --post: {}", stderr(&token));
    let bad = TestVault::new();
    std::fs::write(
        bad.path().join("site.json"),
        json!({ "fhir_servers": [{ "name": "EHR", "base_url": "http://ehr.example.org/fhir" }] }).to_string(),
    )
    .expect("site.json");
    let out = bad.dtk(Some(HIM), &["reconcile", "summary"]);
    assert!(stderr(&out).contains("fhir_servers[0].base_url: use https"), "{}", stderr(&out));
}

/// Issue 15 item 2: a busy server (503, 429) failed the post at once. Now each transaction is tried again after
/// the wait the server asks for (`Retry-After` in seconds or as an HTTP-date), a bounded number of times.
#[test]
fn a_busy_server_is_tried_again_after_the_wait_it_asks_for() {
    let b = batch_of(2);
    let date = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let http_date = date.format(&format).expect("date");
    let p = proxy(&b.server.base, Duration::ZERO, move |n, _| match n {
        0 => Act::Answer(503, vec![("Retry-After", "1".into())], "{}".into()),
        1 => Act::Answer(429, vec![("Retry-After", http_date.clone())], "{}".into()),
        _ => Act::Forward,
    });
    let (mut ws, him) = him_posting_to(&b.him_tv, &p.base, json!({}));
    let started = Instant::now();
    let r = ws.post_fhir(&him, &b.batch_id, "EHR", Credentials::None, &SystemClock).expect("posted after the waits");
    assert_eq!((r.posted.len(), r.failed.len()), (2, 0), "{:?}", r.failed);
    assert!(started.elapsed() >= Duration::from_secs(1), "waited as asked: {:?}", started.elapsed());
    assert_eq!(p.seen.lock().expect("seen").len(), 3, "503, 429, then the answer");
    assert_eq!(counts(&b.server)["QuestionnaireResponse"], 2);

    // A server that stays unavailable fails the post naming it, after a bounded number of tries; nothing is
    // marked posted or refused, so posting again later sends it all.
    let c = batch_of(1);
    let down =
        proxy(&c.server.base, Duration::ZERO, |_, _| Act::Answer(503, vec![("Retry-After", "0".into())], "{}".into()));
    let (mut ws, him) = him_posting_to(&c.him_tv, &down.base, json!({}));
    let e = ws.post_fhir(&him, &c.batch_id, "EHR", Credentials::None, &SystemClock).expect_err("unavailable");
    assert!(
        e.message.contains(r#"the FHIR server "EHR" is busy or unavailable (HTTP 503 after 5 tries)"#),
        "{}",
        e.message
    );
    assert_eq!(states(&ws, &him, &c.entries), [State::Exported]);
}

/// Issue 15 item 2: the poster sent no credentials. A server that asks for a token (401) now fails the post with a
/// clear error naming the server, and nothing is marked posted; the analyst's bearer token, read from standard
/// input for this post only, is sent, never printed and never stored.
#[test]
fn a_server_that_asks_for_a_token_gets_the_one_given_for_this_post_only() {
    let b = batch_of(3);
    const TOKEN: &str = "eyJhbGciOi.token-for-this-post-only.x1";
    let p = proxy(&b.server.base, Duration::ZERO, |_, seen| {
        if seen.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")) {
            Act::Forward
        } else {
            Act::Answer(401, vec![("WWW-Authenticate", "Bearer".into())], "{}".into())
        }
    });
    let (mut ws, him) = him_posting_to(&b.him_tv, &p.base, json!({}));
    let e = ws.post_fhir(&him, &b.batch_id, "EHR", Credentials::None, &SystemClock).expect_err("401");
    assert!(e.message.contains(r#"the FHIR server "EHR" answered HTTP 401: it asks for credentials"#), "{}", e.message);
    let wrong = Credentials::Bearer(Secret::new("expired".into()));
    let e = ws.post_fhir(&him, &b.batch_id, "EHR", wrong, &SystemClock).expect_err("401");
    assert!(e.message.contains("it refused the credentials given"), "{}", e.message);
    assert_eq!(states(&ws, &him, &b.entries), [State::Exported; 3], "nothing marked posted or refused");
    assert_eq!(counts(&b.server)["QuestionnaireResponse"], 0, "nothing reached the server");

    let out = dtk_him_with_stdin(
        &b.him_tv,
        &["export", "fhir", "--batch", &b.batch_id, "--post", "EHR", "--token-file", "-"],
        TOKEN,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("3 entries posted now, 0 refused"), "{}", stdout(&out));
    assert!(stderr(&out).contains("sent 3, accepted 3, refused 0, remaining 0"), "{}", stderr(&out));
    assert!(!stdout(&out).contains(TOKEN) && !stderr(&out).contains(TOKEN), "the token is never printed");
    let vault = std::fs::read(b.him_tv.db()).expect("vault");
    assert!(!vault.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()), "the token is never stored");
    assert_eq!(states(&ws, &him, &b.entries), [State::Posted; 3]);
    assert!(p.seen.lock().expect("seen").iter().all(|s| s.method == "POST"));

    // The read-back goes through the same client for the same server: without the token the server refuses it
    // (and it says so), with it every entry is found.
    let refused = dtk_him_with_stdin(&b.him_tv, &["export", "verify", "--batch", &b.batch_id], "");
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains(r#"the FHIR server "EHR" answered HTTP 401"#), "{}", stderr(&refused));
    let verify = ["export", "verify", "--batch", &b.batch_id, "--token-file", "-"];
    let out = dtk_him_with_stdin(&b.him_tv, &verify, TOKEN);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("verified in the EHR: 3 of 3 entries"), "{}", stdout(&out));
    assert!(!stdout(&out).contains(TOKEN) && !stderr(&out).contains(TOKEN), "the token is never printed");
    let gets = p.seen.lock().expect("seen").iter().filter(|s| s.method == "GET").count();
    assert!(gets >= 2, "the read-back searched through the proxy ({gets} GETs)");
}

/// Runs `dtk ARGS` on an HIM station signed in as HIM, with `input` (a token and a line end, or nothing) on its
/// standard input.
fn dtk_him_with_stdin(tv: &TestVault, args: &[&str], input: &str) -> std::process::Output {
    let mut child = dtk_cmd()
        .env("DTK_VAULT", tv.path())
        .env("DTK_USER", HIM.0)
        .env("DTK_PASSWORD", HIM.1)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dtk");
    if !input.is_empty() {
        child.stdin.take().expect("stdin").write_all(format!("{input}\n").as_bytes()).expect("token");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("dtk ends")
}

/// Issue 15 item 3: posting was one transaction at a time. Now at most `in_flight` transactions are on the network
/// at once (never more), and every answer is recorded.
#[test]
fn transactions_go_a_bounded_number_at_once() {
    let b = batch_of(6);
    let p = proxy(&b.server.base, Duration::from_millis(400), |_, _| Act::Forward);
    let (mut ws, him) = him_posting_to(&b.him_tv, &p.base, json!({}));
    let options = PostOptions { per_transaction: 1, in_flight: 3 };
    let mut heard = Vec::new();
    let r = ws
        .post_fhir_with(&him, &b.batch_id, "EHR", Credentials::None, options, &mut |p| heard.push(p), &SystemClock)
        .expect("post");
    assert_eq!((r.posted.len(), r.transactions), (6, 6));
    assert_eq!(p.most_at_once.load(Ordering::SeqCst), 3, "three in flight, never more");
    let last = heard.last().expect("progress");
    assert_eq!((last.sent, last.accepted, last.refused, last.remaining), (6, 6, 0, 0));
    assert!(heard.iter().any(|p| p.sent == 3 && p.accepted == 0), "three sent before the first answer: {heard:?}");
    assert_eq!(counts(&b.server)["QuestionnaireResponse"], 6);
}

/// Issue 15 items 4 and 6: the read-back searched an OR list of identifiers per request (`identifier=a,b,…`), which
/// helios-hfs answered by reading every index row of the type: about 10 entries/s against 90,000 resources, hours for
/// a hospital's batch. Each identifier is now searched alone (answered from the server's index), a bounded number at
/// once. And a transaction asks for a minimal answer (`Prefer: return=minimal`), so the server does not echo every
/// resource back to a client that would hold it in memory.
#[test]
fn the_read_back_searches_each_identifier_alone_a_few_at_once_and_posts_ask_for_minimal_answers() {
    let b = batch_of(6);
    let p = proxy(&b.server.base, Duration::from_millis(150), |_, _| Act::Forward);
    let (mut ws, him) = him_posting_to(&b.him_tv, &p.base, json!({}));
    let options = PostOptions { per_transaction: 6, in_flight: 1 };
    let r = ws
        .post_fhir_with(&him, &b.batch_id, "EHR", Credentials::None, options, &mut |_| (), &SystemClock)
        .expect("post");
    assert_eq!(r.posted.len(), 6);
    let prefer: Vec<Option<String>> = {
        let seen = p.seen.lock().expect("seen");
        seen.iter().filter(|s| s.method == "POST").map(|s| s.prefer.clone()).collect()
    };
    assert_eq!(prefer, [Some("return=minimal".to_string())], "one transaction, asking for a minimal answer");

    p.most_at_once.store(0, Ordering::SeqCst);
    let read = ws.verify_in_ehr(&him, &b.batch_id, Credentials::None, &SystemClock).expect("verify");
    assert!(read.all_present() && read.verified == 6, "{:?}", read.problems);
    let searches: Vec<String> = {
        let seen = p.seen.lock().expect("seen");
        seen.iter().filter(|s| s.method == "GET").map(|s| s.path.clone()).collect()
    };
    let by_identifier: Vec<&String> = searches.iter().filter(|s| s.contains("?identifier=")).collect();
    assert!(by_identifier.len() >= 12, "the QuestionnaireResponse and MedicationAdministration of 6 entries");
    for s in &by_identifier {
        let value = s.split("identifier=").nth(1).and_then(|v| v.split('&').next()).unwrap_or("");
        assert!(!value.contains(',') && !value.contains("%2C"), "one identifier per search: {s}");
    }
    assert_eq!(p.most_at_once.load(Ordering::SeqCst), dtk::fhir::READS_IN_FLIGHT, "a few at once, never more");
}

/// Issue 15 item 3: an interrupted post continues where it stopped. The `dtk` client is killed once the first
/// transaction is recorded; the second run posts only the rest, and the server holds each resource once.
#[test]
fn a_post_killed_mid_way_resumes_with_only_the_rest() {
    let b = batch_of(5);
    let p = proxy(&b.server.base, Duration::from_millis(700), |_, _| Act::Forward);
    let (ws, him) = him_posting_to(&b.him_tv, &p.base, json!({}));
    let mut child = dtk_cmd()
        .env("DTK_VAULT", b.him_tv.path())
        .env("DTK_USER", HIM.0)
        .env("DTK_PASSWORD", HIM.1)
        .args(["export", "fhir", "--batch", &b.batch_id, "--post", "EHR", "--per-transaction", "1", "--in-flight", "1"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("dtk");
    let mut progress = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    while !line.contains("accepted 1,") {
        line.clear();
        assert!(progress.read_line(&mut line).expect("progress") > 0, "dtk ended before posting one");
    }
    child.kill().expect("kill");
    let _ = child.wait();
    let posted = states(&ws, &him, &b.entries).iter().filter(|s| **s == State::Posted).count();
    assert!((1..5).contains(&posted), "killed mid-post: {posted} of 5 recorded");

    let again = b.him_tv.dtk(Some(HIM), &["--json", "export", "fhir", "--batch", &b.batch_id, "--post", "EHR"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let r: Value = serde_json::from_str(&stdout(&again)).expect("json");
    assert_eq!(r["already_posted"], posted, "{r}");
    assert_eq!(r["posted"].as_array().map(Vec::len), Some(5 - posted), "only the rest is sent: {r}");
    assert_eq!(states(&ws, &him, &b.entries), [State::Posted; 5]);
    let held = counts(&b.server);
    for t in ["QuestionnaireResponse", "MedicationAdministration", "Provenance"] {
        assert_eq!(held[t], 5, "{t}: each held once: {held}");
    }
}

/// A test CA and a server certificate for 127.0.0.1 signed by it, made with the openssl command line.
fn test_ca(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>, Vec<u8>) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Test Hospital CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    ]
    .concat());
    run(&[&["req"][..], &ec, &["-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1"]].concat());
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    let read = |n: &str| std::fs::read(dir.join(n)).expect("pem");
    (dir.join("ca.pem"), read("srv.pem"), read("srv.key"))
}

/// A loopback HTTPS server presenting `cert` that answers every request with an empty JSON object.
fn tls_server(cert: &[u8], key: &[u8]) -> String {
    use rustls_pki_types::pem::PemObject;
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(cert).collect::<Result<Vec<_>, _>>().expect("cert");
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("https://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Ok(conn) = rustls::ServerConnection::new(Arc::clone(&config)) else { continue };
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut reader = BufReader::new(&mut tls);
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) && line != "\r\n" {
                line.clear();
            }
            let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    base
}

/// Issue 15 item 2: the poster trusted only the bundled web roots, so a hospital's internal CA failed. Now the
/// system's store plus the site's `fhir_ca_bundle` are trusted: a server whose certificate a test CA signed is
/// refused without the bundle (at once, naming what to do) and accepted with it.
#[test]
fn a_hospital_ca_is_trusted_through_the_site_bundle() {
    let dir = tempfile::tempdir().expect("dir");
    let (ca, cert, key) = test_ca(dir.path());
    let base = tls_server(&cert, &key);
    let site = |bundle: Option<&std::path::Path>| {
        let mut v = json!({ "fhir_servers": [{ "name": "EHR", "base_url": base }] });
        if let Some(b) = bundle {
            v["fhir_ca_bundle"] = json!(b);
        }
        dtk::site::SiteConfig::parse("site.json", v.to_string().as_bytes()).expect("site")
    };
    let started = Instant::now();
    let without = dtk::fhir::http::Client::for_server(&site(None), "EHR", Credentials::None).expect("client");
    let e = without.get("metadata").err().expect("an unknown CA is refused").to_string();
    assert!(e.contains("EHR: TLS failed") && e.contains("fhir_ca_bundle"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5), "a certificate refusal is not retried");
    let with = dtk::fhir::http::Client::for_server(&site(Some(&ca)), "EHR", Credentials::None).expect("client");
    let answer = with.get("metadata").expect("the hospital CA is trusted");
    assert_eq!((answer.status, answer.body.as_slice()), (200, &b"{}"[..]));
    let missing =
        dtk::fhir::http::Client::for_server(&site(Some(&dir.path().join("none.pem"))), "EHR", Credentials::None);
    assert!(missing.err().expect("missing bundle").to_string().contains("none.pem: cannot be read"));
}

fn form_value(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            let bytes = v.replace('+', " ").into_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' && i + 2 < bytes.len() {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                    out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        })
    })
}

/// What a SMART token endpoint checks of a client assertion (RFC 7523 §3, SMART Backend Services): the form, the
/// ES384 signature under the registered key, and the claims. `Err` says what is wrong.
fn check_assertion(body: &str, jwk: &Value, client_id: &str, token_url: &str) -> Result<(), String> {
    use data_encoding::BASE64URL_NOPAD as B64;
    if form_value(body, "grant_type").as_deref() != Some("client_credentials") {
        return Err("grant_type".into());
    }
    if form_value(body, "client_assertion_type").as_deref()
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return Err("client_assertion_type".into());
    }
    if form_value(body, "scope").as_deref() != Some("system/*.write") {
        return Err("scope".into());
    }
    let jwt = form_value(body, "client_assertion").ok_or("no assertion")?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, sig] = parts[..] else { return Err("not a JWS".into()) };
    let header: Value =
        serde_json::from_slice(&B64.decode(h.as_bytes()).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    // The key is the one registered for the client id, whatever `kid` the assertion names: a key the EHR never
    // registered must fail on its signature.
    if header["alg"] != "ES384" || header["typ"] != "JWT" {
        return Err(format!("header {header}"));
    }
    let mut point = vec![4u8];
    for k in ["x", "y"] {
        point.extend(B64.decode(jwk[k].as_str().unwrap_or("").as_bytes()).map_err(|e| e.to_string())?);
    }
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P384_SHA384_FIXED, point);
    let signature = B64.decode(sig.as_bytes()).map_err(|e| e.to_string())?;
    key.verify(format!("{h}.{c}").as_bytes(), &signature).map_err(|_| "bad signature".to_string())?;
    let claims: Value =
        serde_json::from_slice(&B64.decode(c.as_bytes()).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if claims["iss"] != client_id || claims["sub"] != client_id || claims["aud"] != token_url {
        return Err(format!("claims {claims}"));
    }
    if exp <= now || exp > now + 300 || claims["jti"].as_str().is_none_or(str::is_empty) {
        return Err(format!("exp or jti {claims}"));
    }
    Ok(())
}

/// Issue 15 item 2: SMART Backend Services. The station's key is created in the vault (its public JWK set printed
/// for the EHR's registration), each post asks the server's token endpoint for an access token with an ES384 client
/// assertion, which the endpoint here verifies; an assertion signed by a key the EHR did not register is refused,
/// the post fails naming the server, and nothing is marked posted.
#[test]
fn smart_backend_services_gets_a_token_with_the_vaults_key() {
    let b = batch_of(2);
    let nurse = b.him_tv.dtk(Some(NURSE), &["export", "smart-key", "--create"]);
    assert!(!nurse.status.success(), "a nurse cannot make the station's key");
    let made = b.him_tv.dtk(Some(HIM), &["--json", "export", "smart-key", "--create"]);
    assert!(made.status.success(), "{}", stderr(&made));
    let jwks: Value = serde_json::from_str(&stdout(&made)).expect("jwks");
    let jwk = jwks["keys"][0].clone();
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str(), jwk["alg"].as_str()),
        (Some("EC"), Some("P-384"), Some("ES384"))
    );
    assert!(jwk.get("d").is_none(), "no private part");
    let shown = b.him_tv.dtk(Some(ADMIN), &["--json", "export", "smart-key"]);
    assert_eq!(serde_json::from_str::<Value>(&stdout(&shown)).expect("jwks"), jwks, "{}", stderr(&shown));
    let again = b.him_tv.dtk(Some(HIM), &["export", "smart-key", "--create"]);
    assert!(stderr(&again).contains("already has a SMART key"), "{}", stderr(&again));

    let registered = Arc::new(jwk);
    let token_url = Arc::new(Mutex::new(String::new()));
    let (reg, url) = (Arc::clone(&registered), Arc::clone(&token_url));
    let endpoint = proxy("http://127.0.0.1:9", Duration::ZERO, move |_, seen| {
        let url = url.lock().expect("url").clone();
        match check_assertion(&seen.body, &reg, "dtk-him-1", &url) {
            Ok(()) => Act::Answer(
                200,
                vec![],
                json!({ "access_token": "tok-1", "token_type": "bearer", "expires_in": 300 }).to_string(),
            ),
            Err(why) => {
                Act::Answer(401, vec![], json!({ "error": "invalid_client", "error_description": why }).to_string())
            }
        }
    });
    *token_url.lock().expect("url") = format!("{}/token", endpoint.base);
    let fhir = |server: &Server| {
        proxy(&server.base, Duration::ZERO, |_, seen| {
            if seen.authorization.as_deref() == Some("Bearer tok-1") {
                Act::Forward
            } else {
                Act::Answer(401, vec![], "{}".into())
            }
        })
    };
    let p = fhir(&b.server);
    let smart = json!({ "fhir_servers": [{ "name": "EHR", "base_url": p.base,
        "token_url": format!("{}/token", endpoint.base), "client_id": "dtk-him-1", "scope": "system/*.write" }] });
    std::fs::write(b.him_tv.path().join("site.json"), smart.to_string()).expect("site");
    let (mut ws2, him2) = b.him_tv.sign_in(HIM);
    let options = PostOptions { per_transaction: 1, in_flight: 1 };
    let r = ws2
        .post_fhir_with(&him2, &b.batch_id, "EHR", Credentials::None, options, &mut |_| (), &SystemClock)
        .expect("posted with a SMART token");
    assert_eq!((r.posted.len(), r.transactions), (2, 2));
    assert_eq!(endpoint.seen.lock().expect("seen").len(), 1, "one token for both transactions");

    // Another station whose key the EHR never registered is refused at the token endpoint.
    let c = batch_of(1);
    assert!(c.him_tv.dtk(Some(HIM), &["export", "smart-key", "--create"]).status.success());
    let q = fhir(&c.server);
    let mut other = smart.clone();
    other["fhir_servers"][0]["base_url"] = json!(q.base);
    std::fs::write(c.him_tv.path().join("site.json"), other.to_string()).expect("site");
    let (mut ws, him) = c.him_tv.sign_in(HIM);
    let e = ws.post_fhir(&him, &c.batch_id, "EHR", Credentials::None, &SystemClock).expect_err("refused");
    assert!(e.message.contains(r#"the token endpoint of the FHIR server "EHR" gave no access token (HTTP 401 invalid_client: bad signature)"#), "{}", e.message);
    assert_eq!(states(&ws, &him, &c.entries), [State::Exported]);
    assert!(q.seen.lock().expect("seen").is_empty(), "nothing was sent to the FHIR server");
}
