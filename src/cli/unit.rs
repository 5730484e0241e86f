//! `dtk unit key|sync|status`: the unit share (issue 20). `key` prints this workstation's public key for the other
//! workstations' `unit_peers`; `sync` publishes what is new here and reads the peers' new segments, printing what came
//! in (counts per peer, never patient data); `status` shows each peer and how fresh it is, or that the share is
//! unreachable (no sign-in).

use clap::Subcommand;
use dtk::api::Workstation;
use dtk::clock::SystemClock;

use super::{failed, output, sign_in, Failure};

#[derive(Subcommand)]
pub enum UnitCmd {
    /// Print this workstation's unit key (64 hex digits on a line of its own) for the other workstations'
    /// unit_peers in site.json.
    Key,
    /// One sync now: publish this workstation's new entries to the unit share, then read every peer's new segments.
    /// Prints what came in per peer; exit 1 when the share is unreachable or publishing failed (charting goes on).
    Sync,
    /// Each peer and how fresh it is ("WS 1a2b3c4d: 10:42"), or that the unit share is unreachable. No sign-in.
    Status,
}

pub fn run(ws: &mut Workstation, cmd: UnitCmd, json: bool) -> Result<(), Failure> {
    match cmd {
        UnitCmd::Key => {
            let session = sign_in(ws)?;
            let key = ws.unit_key(&session, &SystemClock)?;
            output(json, &key, || key.public_key.clone());
            Ok(())
        }
        UnitCmd::Sync => sync(ws, json),
        UnitCmd::Status => {
            let status = ws.unit_status(&SystemClock)?;
            output(json, &status, || {
                let Some(share) = &status.share else {
                    return "no unit share is configured (unit_share_dir in site.json): this workstation charts alone"
                        .into();
                };
                let mut lines =
                    vec![status.message.clone().unwrap_or_else(|| format!("unit share: {}", share.display()))];
                lines.extend(status.peers.iter().map(|p| p.line.clone()));
                lines.extend(status.not_heard_from.iter().map(|k| format!("key {k}: nothing received yet")));
                if let Some(n) = status.last_published {
                    lines.push(format!("this workstation: {n} segment(s) published"));
                }
                lines.join("\n")
            });
            Ok(())
        }
    }
}

fn sync(ws: &mut Workstation, json: bool) -> Result<(), Failure> {
    let session = sign_in(ws)?;
    let done = ws.unit_sync(&session, &SystemClock)?;
    output(json, &done, || {
        let mut lines = Vec::new();
        match &done.published {
            Some(p) => lines.push(format!("published segment {}: {}", p.sequence, p.counts.words())),
            None if done.publish_problem.is_none() => lines.push("nothing new to publish".into()),
            None => {}
        }
        for r in &done.received {
            lines.push(format!("from WS {}: {} segment(s), {}", r.label, r.segments, r.counts.words()));
        }
        if done.received.is_empty() && done.reachable {
            lines.push("nothing new from the unit's other workstations".into());
        }
        lines.extend(done.problems.iter().map(|p| format!("refused or waiting: {p}")));
        lines.join("\n")
    });
    match &done.publish_problem {
        Some(p) => Err(failed(p.clone())),
        None => Ok(()),
    }
}
