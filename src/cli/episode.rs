//! `dtk episode`: declaring and ending a downtime (or drill) episode, and the charge nurse's procedure during it:
//! severity, checklist ticks, status updates, incident roles, the decision log, the timeline, the drill report and
//! the review of any episode.

use std::path::PathBuf;

use clap::Subcommand;
use dtk::api::Workstation;
use dtk::clock::{Clock, SystemClock};
use dtk::procedures::{IncidentRole, Severity};

use super::{failed, output, print_json, sign_in, Failure};

#[derive(Subcommand)]
pub enum EpisodeCmd {
    /// Declare a downtime episode for the unit.
    Start {
        #[arg(long)]
        reason: Option<String>,
        /// P1 (no access to information needed for care, no workaround) … P4 (minor).
        #[arg(long, value_parser = parse_severity)]
        severity: Option<Severity>,
        /// Affected systems and workflows, comma separated (EHR, lab results, pharmacy, ADT…).
        #[arg(long, value_delimiter = ',')]
        affected: Vec<String>,
        /// The clinical impact in plain words.
        #[arg(long)]
        impact: Option<String>,
        /// Minutes until the first status update is due.
        #[arg(long, value_name = "MINUTES")]
        next_update: Option<i64>,
        /// How many minutes ago the outage began (the start of the site's "time to declare" target).
        #[arg(long, value_name = "MINUTES")]
        began_minutes_ago: Option<i64>,
        /// A practice episode: marked DRILL everywhere, never exported.
        #[arg(long)]
        drill: bool,
        /// With --drill: start from a tabletop scenario file (its declaration, and injects at set minutes), or one
        /// offered by name (`dtk episode scenarios`).
        #[arg(long, value_name = "FILE", requires = "drill", conflicts_with_all = ["reason", "severity", "affected", "impact", "began_minutes_ago"])]
        scenario: Option<PathBuf>,
    },
    /// End the open episode.
    End,
    /// The open episode: severity, checklist, overdue steps, next update.
    Status,
    /// Change the severity of the open episode.
    Severity {
        #[arg(value_parser = parse_severity)]
        level: Severity,
        #[arg(long)]
        note: Option<String>,
    },
    /// Tick a checklist step as done (or take a tick back with --undo REASON).
    Tick {
        step: String,
        #[arg(long)]
        note: Option<String>,
        #[arg(long, value_name = "REASON")]
        undo: Option<String>,
    },
    /// Record a decision of the unit with the open episode, with who and when ("switched to paper MAR for ICU").
    /// Never edited or deleted: a correction is a new decision.
    Decision {
        /// The decision in words (one line, at most 500 characters; words after the first are joined).
        #[arg(required = true, num_args = 1.., value_name = "TEXT")]
        text: Vec<String>,
    },
    /// Name the incident commander or the clinical liaison of the open episode (a new name replaces the old one;
    /// both stay in the timeline).
    Role {
        /// `commander` or `liaison`.
        #[arg(value_parser = parse_role)]
        role: IncidentRole,
        /// Who holds it (words after the first are joined).
        #[arg(required = true, num_args = 1.., value_name = "NAME")]
        name: Vec<String>,
    },
    /// Draft a status update for leaders (--draft), or keep one (--text FILE) and set the next update time;
    /// --out FILE also prints the newest kept update as a PDF.
    Update {
        #[arg(long, conflicts_with_all = ["text", "out"])]
        draft: bool,
        #[arg(long, value_name = "FILE")]
        text: Option<PathBuf>,
        #[arg(long, value_name = "MINUTES")]
        next_update: Option<i64>,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// The episode's entries still unsigned on this workstation (author, form, age): drafts never leave it, so have
    /// them signed before `dtk handoff export` (charge nurse/admin).
    Unsigned {
        /// The episode (default: the newest one, as the export takes).
        #[arg(long, value_name = "ID")]
        episode: Option<String>,
    },
    /// The episode's timeline and metrics (after-action review).
    Timeline {
        #[arg(long, value_name = "ID")]
        episode: Option<String>,
    },
    /// The drill report (PDF) of a practice episode: timeline, checklist, entries per user, what was missed.
    DrillReport {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The drill episode (default: the newest one).
        #[arg(long, value_name = "ID")]
        episode: Option<String>,
    },
    /// The review of an episode, real or drill: write the clinical impact and the follow-up actions (kept with the
    /// episode, a new version each time; what is not given is kept from the last version) and print the review
    /// (PDF): timeline, response targets, decisions, checklist with times, entries per hour, what was missed.
    /// With neither, shows the review as kept.
    Review {
        /// Write the review PDF to FILE.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The episode (default: the newest one of this workstation, open or ended).
        #[arg(long, value_name = "ID")]
        episode: Option<String>,
        /// The clinical impact in plain words (name no patient; entries by id).
        #[arg(long, value_name = "TEXT")]
        impact: Option<String>,
        /// A follow-up action, one line ("Restock paper MAR packs - unit educator, by Friday"); repeat for more.
        #[arg(long = "follow-up", value_name = "ACTION")]
        follow_ups: Vec<String>,
    },
    /// The escalation ladder and contacts (escalation_file in site.json): who to call now with their phones and
    /// the next escalation due; --out FILE writes the one-page contact sheet (PDF).
    Contacts {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Record that a contact of the escalation ladder was called (by its id in the file), or with --acknowledged
    /// that they acknowledged (the ladder stops at their level).
    Called {
        contact: String,
        #[arg(long)]
        acknowledged: bool,
    },
    /// The tabletop scenarios a drill can start from (built in, and the site's scenario_dir).
    Scenarios,
    /// The open drill's scenario: every inject (arrived or when it will), each expectation and the score so far.
    Injects,
    /// Mark an inject of the open drill seen (its number in `dtk episode injects`).
    Ack { number: u32 },
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| "expected P1, P2, P3 or P4".to_string())
}

fn parse_role(s: &str) -> Result<IncidentRole, String> {
    IncidentRole::parse(s).ok_or_else(|| "expected commander or liaison".to_string())
}

/// "3 h 05 min", "12 min": how long an entry has waited for its signature.
fn age(minutes: i64) -> String {
    if minutes < 60 {
        format!("{minutes} min")
    } else {
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    }
}

pub fn run(ws: &mut Workstation, cmd: EpisodeCmd, json: bool) -> Result<(), Failure> {
    let clock = SystemClock;
    let session = sign_in(ws)?;
    match cmd {
        EpisodeCmd::Start { scenario: Some(path), next_update, .. } => {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            // A bare name that is no file here is one of the scenarios offered (`dtk episode scenarios`).
            let offered = !path.exists() && path.components().count() == 1;
            let ep = if offered {
                ws.start_listed_scenario(&session, &name, next_update, &clock)?
            } else {
                let bytes =
                    std::fs::read(&path).map_err(|e| failed(format!("{}: cannot be read: {e}", path.display())))?;
                let label = path.display().to_string();
                ws.start_scenario_drill(&session, &name, &label, &bytes, next_update, &clock)?
            };
            output(json, &ep, || {
                format!("DRILL episode {} started at {} for {} from scenario {name}.", ep.id, ep.started_at, ep.unit)
            });
        }
        EpisodeCmd::Start { reason, severity, affected, impact, next_update, began_minutes_ago, drill, .. } => {
            let kind = if drill { dtk::episodes::Kind::Drill } else { dtk::episodes::Kind::Real };
            let next_update_due = next_update.map(|m| dtk::clock::stamp(clock.now() + time::Duration::minutes(m)));
            let began_at = began_minutes_ago.map(|m| dtk::clock::stamp(clock.now() - time::Duration::minutes(m)));
            let declaration =
                dtk::episodes::Declaration { reason, severity, affected, impact, next_update_due, began_at };
            let ep = ws.start_episode(&session, kind, declaration, &clock)?;
            output(json, &ep, || {
                format!(
                    "{} episode {} started at {} for {}.",
                    if drill { "DRILL" } else { "Downtime" },
                    ep.id,
                    ep.started_at,
                    ep.unit
                )
            });
        }
        EpisodeCmd::End => {
            let ep = ws.end_episode(&session, &clock)?;
            output(json, &ep, || format!("Episode {} ended at {}.", ep.id, ep.ended_at.clone().unwrap_or_default()));
        }
        EpisodeCmd::Status => match ws.episode_status(&session, &clock)? {
            None => output(json, &serde_json::Value::Null, || "No downtime episode is open.".into()),
            Some(st) => output(json, &st, || {
                let drill_scenario = ws.drill_scenario(&session, &clock).ok().flatten();
                let mut t = format!(
                    "{}{} episode since {} ({}); severity {}; next update due {}{}.\n",
                    if st.drill { "DRILL - " } else { "" },
                    if st.drill { "practice" } else { "downtime" },
                    st.episode.started_at,
                    st.episode.unit,
                    st.severity.map(|s| format!("{} ({})", s.code(), s.meaning())).unwrap_or_else(|| "not set".into()),
                    st.next_update_due.clone().unwrap_or_else(|| "not set".into()),
                    if st.update_overdue { " - OVERDUE" } else { "" }
                );
                for c in &st.targets {
                    let mut result = c.result();
                    if c.done_at.is_none() && !c.missed {
                        result.push_str(&format!(", due {}", c.due_at.clone().unwrap_or_default()));
                    }
                    t.push_str(&format!(
                        "target: {} within {} min ({}): {}{}\n",
                        c.label,
                        c.target_minutes,
                        c.severity.code(),
                        result,
                        c.minutes.map(|m| format!(", took {m} min")).unwrap_or_default()
                    ));
                }
                t.push_str(&format!("{}.\n", st.roles.summary(true)));
                for s in &st.steps {
                    let mark = match (&s.done_at, s.overdue, s.applies) {
                        (Some(_), _, _) => "[x]",
                        (None, _, false) => "[-]",
                        (None, true, true) => "[!]",
                        (None, false, true) => "[ ]",
                    };
                    let by = s
                        .done_by
                        .as_ref()
                        .map(|b| format!(" (done by {b} at {})", s.done_at.clone().unwrap_or_default()))
                        .or_else(|| {
                            (!s.applies)
                                .then(|| format!(" (not for this outage: {})", s.step.applies_to().unwrap_or_default()))
                        })
                        .unwrap_or_default();
                    t.push_str(&format!(
                        "{mark} {:<26} {:<7} {}{}\n",
                        s.step.id,
                        s.step.role.as_str(),
                        s.step.text,
                        by
                    ));
                }
                if !st.decisions.is_empty() {
                    t.push_str("Decisions (newest first):\n");
                    for d in &st.decisions {
                        t.push_str(&format!("  {} {}: {}\n", d.at, d.by, d.text));
                    }
                }
                if let Some(s) = &drill_scenario {
                    t.push_str(&super::scenario::due_injects(s));
                }
                t
            }),
        },
        EpisodeCmd::Scenarios => {
            let (list, problems) = ws.scenarios();
            for p in &problems {
                eprintln!("not offered: {p}");
            }
            output(json, &list, || super::scenario::choices(&list));
        }
        EpisodeCmd::Injects => {
            let s = ws.drill_scenario(&session, &clock)?.ok_or_else(|| {
                failed("the open episode is not a drill started from a scenario (dtk episode start --drill --scenario FILE)")
            })?;
            output(json, &s, || super::scenario::all_injects(&s));
        }
        EpisodeCmd::Ack { number } => {
            let r = ws.acknowledge_inject(&session, number, &clock)?;
            output(json, &r, || format!("Inject {number} marked seen at {} by {}.", r.at, r.actor));
        }
        EpisodeCmd::Decision { text } => {
            let r = ws.record_decision(&session, &text.join(" "), &clock)?;
            let kept = match &r.event {
                dtk::procedures::Event::Decision { text } => text.as_str(),
                _ => "",
            };
            output(json, &r, || format!("Decision recorded at {} by {}: {kept}", r.at, r.actor));
        }
        EpisodeCmd::Role { role, name } => {
            let r = ws.assign_role(&session, role, &name.join(" "), &clock)?;
            let named = match &r.event {
                dtk::procedures::Event::Role { name, .. } => name.as_str(),
                _ => "",
            };
            output(json, &r, || format!("{} is now {named} (recorded at {} by {}).", role.title(), r.at, r.actor));
        }
        EpisodeCmd::Severity { level, note } => {
            let r = ws.change_severity(&session, level, note, &clock)?;
            output(json, &r, || format!("Severity is now {} ({}).", level.code(), level.meaning()));
        }
        EpisodeCmd::Tick { step, note, undo } => {
            let r = match undo {
                Some(reason) => ws.untick_step(&session, &step, &reason, &clock)?,
                None => ws.tick_step(&session, &step, note, &clock)?,
            };
            output(json, &r, || format!("Step {step} recorded at {} by {}.", r.at, r.actor));
        }
        EpisodeCmd::Update { draft, text, next_update, out } => {
            if let Some(path) = &text {
                let body = std::fs::read_to_string(path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
                let r = ws.save_status_update(&session, &body, next_update, &clock)?;
                output(json, &r, || format!("Status update kept with the episode at {}.", r.at));
            }
            if let Some(out) = &out {
                let pdf = ws.print_status_update(&session, &clock)?;
                dtk::api::save_pdf(out, &pdf.bytes)?;
                output(json, &serde_json::json!({ "out": out, "pages": pdf.pages }), || {
                    format!("Status update written to {} ({} pages).", out.display(), pdf.pages)
                });
            }
            if draft || (text.is_none() && out.is_none()) {
                let d = ws.draft_status_update(&session, &clock)?;
                output(json, &d, || d.clone());
            }
        }
        EpisodeCmd::Unsigned { episode } => {
            let u = ws.unsigned_entries(&session, episode.as_deref(), &clock)?;
            output(json, &u, || {
                if u.entries.is_empty() {
                    return "Every entry of the episode is signed.".into();
                }
                let mut t = format!(
                    "{} entries of the episode are unsigned ({}); they stay on this workstation until signed:\n",
                    u.total(),
                    u.by_author.iter().map(|c| format!("{} {}", c.author, c.count)).collect::<Vec<_>>().join(", ")
                );
                for e in &u.entries {
                    t.push_str(&format!(
                        "{}  {:<16} {:<32} unsigned for {}\n",
                        e.id,
                        e.author,
                        e.form_title,
                        age(e.age_minutes)
                    ));
                }
                t
            });
        }
        EpisodeCmd::Timeline { episode } => {
            let t = ws.episode_timeline(&session, episode.as_deref(), &clock)?;
            print_json(&serde_json::to_value(&t).unwrap_or_default());
        }
        EpisodeCmd::DrillReport { out, episode } => {
            let pdf = ws.drill_report(&session, episode.as_deref(), &clock)?;
            dtk::api::save_pdf(&out, &pdf.bytes)?;
            let scored = ws.scenario_score(&session, episode.as_deref(), &clock)?;
            let mut written = serde_json::json!({ "out": out, "pages": pdf.pages });
            if let Some(s) = &scored {
                written["scenario"] = serde_json::to_value(s).unwrap_or_default();
            }
            output(json, &written, || {
                let mut t = format!("Drill report written to {} ({} pages).", out.display(), pdf.pages);
                if let Some(s) = &scored {
                    t.push_str(&format!("\nScenario \"{}\": {}.", s.title, s.summary()));
                }
                t
            });
        }
        EpisodeCmd::Contacts { out } => super::contacts::show(ws, &session, out.as_deref(), json)?,
        EpisodeCmd::Called { contact, acknowledged } => {
            let r = ws.record_contact(&session, &contact, acknowledged, &clock)?;
            let name = match &r.event {
                dtk::procedures::Event::ContactCalled { name, .. }
                | dtk::procedures::Event::ContactAcknowledged { name, .. } => name.as_str(),
                _ => "",
            };
            let what = if acknowledged { "acknowledged" } else { "called" };
            output(json, &r, || format!("{name} {what}: recorded at {} by {}.", r.at, r.actor));
        }
        EpisodeCmd::Review { out, episode, impact, follow_ups } => {
            review(ws, &session, &clock, json, ReviewArgs { out, episode, impact, follow_ups })?
        }
    }
    Ok(())
}

struct ReviewArgs {
    out: Option<PathBuf>,
    episode: Option<String>,
    impact: Option<String>,
    follow_ups: Vec<String>,
}

/// `dtk episode review`: writes a new version of the review when asked (what is not given is carried over from the
/// last version), then prints it to `--out`, or shows it.
fn review(
    ws: &mut Workstation,
    session: &dtk::api::Session,
    clock: &SystemClock,
    json: bool,
    a: ReviewArgs,
) -> Result<(), Failure> {
    let mut episode = a.episode.clone();
    if a.impact.is_some() || !a.follow_ups.is_empty() {
        let previous = ws
            .episode_reviews(session)?
            .into_iter()
            .find(|r| a.episode.as_deref().is_none_or(|id| r.episode.id == id))
            .and_then(|r| r.review);
        let impact = a.impact.or_else(|| previous.as_ref().map(|p| p.review.impact.clone())).unwrap_or_default();
        let follow_ups = if a.follow_ups.is_empty() {
            previous.map(|p| p.review.follow_ups).unwrap_or_default()
        } else {
            a.follow_ups
        };
        let kept = ws.write_review(session, a.episode.as_deref(), &impact, &follow_ups, clock)?;
        let version = kept.review.as_ref().map_or(0, |r| r.versions);
        if a.out.is_none() {
            output(json, &kept, || format!("Review of episode {} kept (version {version}).", kept.episode.id));
            return Ok(());
        }
        eprintln!("Review of episode {} kept (version {version}).", kept.episode.id);
        episode = Some(kept.episode.id);
    }
    match a.out {
        Some(out) => {
            let pdf = ws.review_report(session, episode.as_deref(), clock)?;
            dtk::api::save_pdf(&out, &pdf.bytes)?;
            output(json, &serde_json::json!({ "out": out, "pages": pdf.pages }), || {
                format!("Review written to {} ({} pages).", out.display(), pdf.pages)
            });
        }
        None => {
            let reviews = ws.episode_reviews(session)?;
            let Some(r) = reviews.into_iter().find(|r| episode.as_deref().is_none_or(|id| r.episode.id == id)) else {
                return Err(failed(match episode {
                    Some(id) => format!("no episode {id} on this workstation"),
                    None => "there is no episode on this workstation to review".into(),
                }));
            };
            output(json, &r, || match &r.review {
                None => format!(
                    "Episode {}: no review written yet (dtk episode review --impact TEXT --follow-up ACTION).",
                    r.episode.id
                ),
                Some(w) => {
                    let mut t = format!(
                        "Review of episode {} (version {}, {} at {}):\nClinical impact: {}\n",
                        r.episode.id,
                        w.versions,
                        w.by,
                        w.at,
                        if w.review.impact.is_empty() { "-" } else { &w.review.impact }
                    );
                    for (i, f) in w.review.follow_ups.iter().enumerate() {
                        t.push_str(&format!("Follow-up {}: {f}\n", i + 1));
                    }
                    t
                }
            });
        }
    }
    Ok(())
}
