//! The review of an episode through the shell (issue 21 item 6): `episode_reviews` lists every episode of the
//! workstation newest first with its review, `save_review` keeps a new version, and the review prints as a PDF from
//! the print centre (`PrintJob::Review`), in the shape the UI's generated types name.
//!
//! Every step of `tests/contract/review.json` (what is kept, what is refused and in which words) runs here through
//! the real commands; `ui/src/lib/backend/review-contract.test.ts` runs the same steps against the in-memory backend
//! the screens are tested with, so the double cannot drift from the core unnoticed.
use dtk::auth::Role;
use dtk_app::commands::{charge, review, Shell};
use dtk_app::dto::{CommandError, EpisodeReview, PrintJob, PrintRequest, ReviewRequest};
use serde::Deserialize;
use tauri::ipc::Channel;

mod support;
use support::contract::{Refusal, Text};

fn shell_with_ended_episode() -> (tempfile::TempDir, Shell, String) {
    let census =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/demo/census-demo.json")).expect("census");
    let vault = support::vault("5 East", &[("kcharge", Role::Charge), ("dnurse", Role::Nurse)], &census);
    let shell = Shell::open(vault.path());
    support::sign_in(&shell, "kcharge").expect("charge nurse");
    support::declare_episode(&shell, "Review contract");
    let ended = charge::end_episode(&shell).expect("ended");
    (vault, shell, ended.id)
}

#[test]
fn the_charge_desk_writes_and_prints_the_review_of_an_ended_episode() {
    let (vault, shell, id) = shell_with_ended_episode();
    let listed = review::episode_reviews(&shell).expect("reviews");
    let wire = serde_json::to_value(&listed).expect("json");
    assert_eq!(wire[0]["episode"]["id"], id.as_str(), "{wire}");
    assert_eq!(wire[0]["review"], serde_json::Value::Null);
    assert!(wire[0]["episode"]["endedAt"].is_string());

    let request = ReviewRequest {
        episode_id: id.clone(),
        impact: "Two doses late; no harm.".into(),
        follow_ups: vec!["Restock paper MAR packs - educator".into()],
    };
    let kept = serde_json::to_value(review::save_review(&shell, request).expect("kept")).expect("json");
    assert_eq!(kept["review"]["impact"], "Two doses late; no harm.");
    assert_eq!(kept["review"]["followUps"][0], "Restock paper MAR packs - educator");
    assert_eq!((kept["review"]["by"].as_str(), kept["review"]["versions"].as_u64()), (Some("kcharge"), Some(1)));

    let folder = vault.path().join("pdfs");
    std::fs::create_dir_all(&folder).expect("folder");
    let request = PrintRequest { job: PrintJob::Review { episode: id }, folder: folder.display().to_string() };
    let saved = charge::print_document(&shell, request, Channel::new(|_| Ok(()))).expect("printed");
    assert_eq!(saved.len(), 1);
    assert!(saved[0].path.contains("episode-review"), "{}", saved[0].path);
    let out = std::process::Command::new("pdftotext").args([&saved[0].path, "-"]).output().expect("pdftotext");
    let text = String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("Downtime review") && text.contains("Two doses late; no harm."), "{text}");
}

const CONTRACT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/contract/review.json");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Contract {
    #[allow(dead_code)]
    about: Vec<String>,
    steps: Vec<Step>,
    then: Then,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Step {
    #[serde(rename = "as")]
    who: Option<String>,
    episode: Option<String>,
    impact: Text,
    follow_ups: Vec<Text>,
    kept: Option<Kept>,
    refused: Option<Refusal>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Kept {
    impact: Text,
    follow_ups: Vec<Text>,
    versions: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Then {
    impact: String,
    follow_ups: Vec<String>,
    versions: u32,
    by: String,
}

fn texts(list: &[Text]) -> Vec<String> {
    list.iter().map(Text::text).collect()
}

/// Runs one step as its user and checks what it kept or how it was refused; `n` names the step in failures.
fn run(shell: &Shell, episode: &str, n: &str, step: &Step) {
    support::sign_in(shell, step.who.as_deref().unwrap_or("kcharge")).expect("signed in");
    let request = ReviewRequest {
        episode_id: step.episode.clone().unwrap_or_else(|| episode.to_string()),
        impact: step.impact.text(),
        follow_ups: texts(&step.follow_ups),
    };
    let typed: Vec<String> = std::iter::once(request.impact.clone()).chain(request.follow_ups.clone()).collect();
    let outcome: Result<EpisodeReview, CommandError> = review::save_review(shell, request);
    match (outcome, &step.kept, &step.refused) {
        (Ok(r), Some(kept), None) => {
            let r = r.review.unwrap_or_else(|| panic!("{n}: kept, yet no review"));
            assert_eq!(r.impact, kept.impact.text(), "{n}: the impact as stored");
            assert_eq!(r.follow_ups, texts(&kept.follow_ups), "{n}: the actions as stored");
            assert_eq!(r.versions, kept.versions, "{n}: the version");
        }
        (Err(e), None, Some(refused)) => refused.check(n, &e, &typed, 8),
        (Ok(_), _, _) => panic!("{n}: kept, but the contract refuses it"),
        (Err(e), _, _) => panic!("{n}: refused with {:?} ({}), but the contract keeps it", e.code, e.message),
    }
}

#[test]
fn the_review_contract_holds_for_the_real_commands() {
    let text = std::fs::read_to_string(CONTRACT).expect("tests/contract/review.json is readable");
    let contract: Contract = serde_json::from_str(&text).expect("tests/contract/review.json matches its shape");
    let (_vault, shell, id) = shell_with_ended_episode();
    for (i, step) in contract.steps.iter().enumerate() {
        run(&shell, &id, &format!("steps[{i}]"), step);
    }
    support::sign_in(&shell, "kcharge").expect("charge nurse");
    let listed = review::episode_reviews(&shell).expect("reviews");
    let r = listed[0].review.as_ref().expect("the review");
    assert_eq!(r.impact, contract.then.impact);
    assert_eq!(r.follow_ups, contract.then.follow_ups);
    assert_eq!((r.versions, r.by.as_str()), (contract.then.versions, contract.then.by.as_str()));
}
