//! Every input the fuzzers kept (their corpora) and every input that once crashed one (fuzz/regressions/) is run
//! through its parser on every `cargo test`: none may panic, and QR payloads that parse must round-trip.

use std::path::Path;

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> =
        std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    v.sort();
    v
}

fn run(target: &str, data: &[u8]) {
    match target {
        "forms_load" => drop(dtk::forms::parse_form("fuzz.json", data)),
        "response_validate" => {
            static FORMS: std::sync::OnceLock<Vec<dtk::forms::Form>> = std::sync::OnceLock::new();
            let forms = FORMS.get_or_init(|| dtk::fuzzing::fuzzed_forms(Path::new(env!("CARGO_MANIFEST_DIR"))));
            dtk::fuzzing::response_validate(forms, data);
        }
        "census_import" => dtk::fuzzing::census_import(data),
        "site_config" => drop(dtk::site::SiteConfig::parse("site.json", data)),
        "checklist" => drop(dtk::procedures::Checklist::parse("checklist.json", data)),
        "handoff" => dtk::fuzzing::handoff(data),
        "escalation" => dtk::fuzzing::escalation(data),
        "scenario" => dtk::fuzzing::scenario(data),
        "unit_segment" => dtk::fuzzing::unit_segment(data),
        "paper_payload" => {
            if let Ok(Ok(p)) = std::str::from_utf8(data).map(dtk::paper::Payload::parse) {
                let text = p.to_text();
                if text.len() <= dtk::paper::MAX_LEN {
                    assert_eq!(dtk::paper::Payload::parse(&text).as_ref(), Ok(&p));
                }
            }
        }
        other => panic!("fuzz corpus folder '{other}' has no parser in this test; add it"),
    }
}

#[test]
fn every_kept_fuzz_input_is_handled_without_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in files(&root.join("corpus")) {
        let target = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        for f in files(&dir) {
            run(&target, &std::fs::read(&f).expect("read corpus file"));
            count += 1;
        }
    }
    for f in files(&root.join("regressions")) {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let target = name.split('-').next().unwrap_or_default().to_string();
        run(&target, &std::fs::read(&f).expect("read regression"));
        count += 1;
    }
    assert!(count > 100, "the corpora are present ({count} inputs)");
}
