//! Benchmark (docs/design.md "Performance budgets"): blank vital-signs forms pre-filled for 500 patients into one PDF, against Chromium's
//! headless `--print-to-pdf` of an equivalent HTML document (same header, QR code, barcode and form), in one run.
//! Run with `scripts/bench-print.sh`; the figures go into BENCHMARKS.md.
//!
//! Each side runs as its own process so that wall time and peak memory are measured the same way: wall time from
//! spawn to exit, memory as the peak resident set summed over the process tree (polled from /proc every 5 ms;
//! Chromium runs several processes).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use dtk::print::{self, Label, Stamp};

const FORM: &str = include_str!("../forms/vital-signs.json");
const GIVEN: [&str; 8] = ["Elena", "Łukasz", "Åsa", "Éloïse", "Chidi", "Siobhán", "Thanh Van", "Dragan"];
const FAMILY: [&str; 8] =
    ["Garcia", "Müller-Øster", "Lindqvist", "Dubois", "Okafor", "Fitzgerald-O'Neill", "Nguyen", "Petrović"];

fn labels(n: usize) -> Vec<Label> {
    (0..n)
        .map(|i| Label {
            name: format!("{}, {}", FAMILY[i % 8].to_uppercase(), GIVEN[(i / 8) % 8]),
            birth_date: Some(format!("19{:02}-{:02}-{:02}", 30 + i % 60, 1 + i % 12, 1 + i % 28)),
            mrn_system: "http://hospital.example.org/mrn".into(),
            mrn: format!("DEV{:05}", 10000 + i),
            location: Some(format!("5 East room {}", 501 + i % 40)),
        })
        .collect()
}

fn stamp() -> Stamp {
    Stamp {
        unit: "5 East".into(),
        printed_by: "Kim Charge (kcharge)".into(),
        printed_at: time::macros::datetime!(2026-11-21 10:42 UTC),
        episode: Some("0b6f1c3e-8a55-4c41-9f0e-2f0d7b1c9a10".into()),
        drill: false,
        workstation: Some("5f2d0c1e-3b7a-4e8c-9d61-0a4b2c7e9f13".into()),
        record: "512·3fa2c1d0".into(),
    }
}

/// The child that prints with Downtime Kit.
fn ours(n: usize, out: &Path) -> Result<()> {
    let form = dtk::forms::parse_form("vital-signs.json", FORM.as_bytes()).map_err(|_| anyhow::anyhow!("form"))?;
    let pdf = print::blank_forms(&form, &labels(n), &stamp(), &mut |_| {})?;
    std::fs::write(out, &pdf.bytes)?;
    println!("{}", pdf.pages);
    Ok(())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn qr_svg(text: &str) -> Result<String> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)?;
    let n = code.width();
    let colors = code.to_colors();
    let mut rects = String::new();
    for y in 0..n {
        for x in 0..n {
            if colors[y * n + x] == qrcode::Color::Dark {
                rects.push_str(&format!("<rect x=\"{x}\" y=\"{y}\" width=\"1\" height=\"1\"/>"));
            }
        }
    }
    Ok(format!("<svg class=\"qr\" viewBox=\"-4 -4 {} {}\">{rects}</svg>", n + 8, n + 8))
}

fn barcode_svg(data: &str) -> Result<String> {
    let modules = barcoders::sym::code128::Code128::new(format!("\u{0181}{data}"))?.encode();
    let mut rects = String::new();
    for (i, m) in modules.iter().enumerate() {
        if *m == 1 {
            rects.push_str(&format!("<rect x=\"{}\" y=\"0\" width=\"1\" height=\"20\"/>", i + 10));
        }
    }
    Ok(format!(
        "<svg class=\"bc\" viewBox=\"0 0 {} 20\" preserveAspectRatio=\"none\">{rects}</svg>",
        modules.len() + 20
    ))
}

/// The equivalent HTML: the same header, codes and questions, boxes for the answers, one patient per page.
fn html(n: usize) -> Result<String> {
    let form = dtk::forms::parse_form("vital-signs.json", FORM.as_bytes()).map_err(|_| anyhow::anyhow!("form"))?;
    let mut body = String::new();
    let s = stamp();
    for l in labels(n) {
        let payload = dtk::paper::Payload {
            form: form.canonical(),
            mrn_system: Some(l.mrn_system.clone()),
            mrn: Some(l.mrn.clone()),
            episode: s.episode.clone(),
            ..Default::default()
        };
        body.push_str(
            "<section class=\"page\"><div class=\"band\">EHR DOWNTIME · 5 East <span>Page 1 of 1</span></div>",
        );
        body.push_str(&format!("<h1>{}</h1><div class=\"head\"><div class=\"label\"><b>{}</b><br>DOB {} MRN {}<br>Location {}<br>{}</div>{}</div>",
            esc(&form.title), esc(&l.name), l.birth_date.clone().unwrap_or_default(), esc(&l.mrn),
            esc(l.location.as_deref().unwrap_or("")), barcode_svg(&l.mrn)?, qr_svg(&payload.to_text())?));
        for item in form.all_items() {
            let text = esc(item.text.as_deref().unwrap_or(&item.link_id));
            match item.kind {
                dtk::forms::ItemType::Group => body.push_str(&format!("<h2>{text}</h2>")),
                dtk::forms::ItemType::Display => body.push_str(&format!("<p class=\"note\">{text}</p>")),
                dtk::forms::ItemType::Choice | dtk::forms::ItemType::Boolean => {
                    body.push_str(&format!("<p class=\"q\">{text}</p><p>"));
                    for o in &item.answer_options {
                        body.push_str(&format!("<span class=\"tick\"></span> {} ", esc(&o.value.as_text())));
                    }
                    body.push_str("</p>");
                }
                _ => body.push_str(&format!("<p class=\"q\">{text}</p><div class=\"box\"></div>")),
            }
        }
        body.push_str("<div class=\"sign\">Signature ________ Printed name ________ Date and time ________</div>");
        body.push_str(&format!(
            "<div class=\"foot\">5 East · printed by {} · 2026-11-21 10:42 UTC</div></section>",
            esc(&s.printed_by)
        ));
    }
    Ok(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><style>@page {{ size: A4; margin: 12mm }} \
         body {{ font-family: 'DejaVu Sans', sans-serif; font-size: 10pt }} .page {{ page-break-after: always }} \
         .band {{ background: #000; color: #fff; font-weight: bold; padding: 1mm }} .band span {{ float: right }} \
         .head {{ display: flex; justify-content: space-between }} .label {{ border: 0.5mm solid #000; width: 140mm; padding: 2mm }} \
         .qr {{ width: 34mm; height: 34mm }} .bc {{ width: 50mm; height: 8mm }} h2 {{ background: #ddd; font-size: 11pt }} \
         .q {{ font-weight: bold; margin: 2mm 0 1mm }} .box {{ border: 0.3mm solid #000; width: 40mm; height: 9mm }} \
         .tick {{ display: inline-block; width: 4.6mm; height: 4.6mm; border: 0.3mm solid #000 }} .foot {{ font-size: 8pt }} \
         </style></head><body>{body}</body></html>"
    ))
}

/// Sum of VmRSS (kB) over a process and its descendants.
fn tree_rss(root: u32) -> u64 {
    let mut total = 0;
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            total += status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
        }
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
            stack.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
    }
    total
}

/// Waits for a child, returning (wall time, peak summed RSS in kB).
fn measure(mut child: Child, started: Instant) -> Result<(Duration, u64)> {
    let mut peak = 0;
    loop {
        peak = peak.max(tree_rss(child.id()));
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("the child failed: {status}");
            }
            return Ok((started.elapsed(), peak));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let n = args.get(2).and_then(|n| n.parse().ok()).context("count")?;
        return ours(n, Path::new(args.get(3).context("out")?));
    }
    let n: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(500);
    let dir = tempfile::tempdir()?;
    let ours_pdf = dir.path().join("ours.pdf");
    let me = std::env::current_exe()?;
    let started = Instant::now();
    let child = Command::new(&me).arg("--child").arg(n.to_string()).arg(&ours_pdf).stdout(Stdio::null()).spawn()?;
    let (our_time, our_rss) = measure(child, started)?;

    let html_path: PathBuf = dir.path().join("forms.html");
    std::fs::write(&html_path, html(n)?)?;
    let chrome_pdf = dir.path().join("chromium.pdf");
    let profile = dir.path().join("profile");
    let started = Instant::now();
    let child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", chrome_pdf.display()))
        .arg(format!("file://{}", html_path.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("chromium (Debian package chromium) must be installed")?;
    let (chrome_time, chrome_rss) = measure(child, started)?;
    let pages = |p: &Path| -> String {
        Command::new("pdfinfo")
            .arg(p)
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|t| t.lines().find_map(|l| l.strip_prefix("Pages:").map(|v| v.trim().to_string())))
            .unwrap_or_else(|| "?".into())
    };
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len() / 1024).unwrap_or(0);
    println!("print {n} patient-prefilled vital-signs forms into one PDF");
    println!("{:<22} {:>10} {:>14} {:>8} {:>10}", "", "wall ms", "peak RSS MiB", "pages", "size KiB");
    println!(
        "{:<22} {:>10} {:>14.1} {:>8} {:>10}",
        "Downtime Kit",
        our_time.as_millis(),
        our_rss as f64 / 1024.0,
        pages(&ours_pdf),
        size(&ours_pdf)
    );
    println!(
        "{:<22} {:>10} {:>14.1} {:>8} {:>10}",
        "Chromium print-to-pdf",
        chrome_time.as_millis(),
        chrome_rss as f64 / 1024.0,
        pages(&chrome_pdf),
        size(&chrome_pdf)
    );
    println!(
        "ratio: {:.1}x faster, {:.1}x less memory (goal: >= 20x faster, <= 1/5 of the memory)",
        chrome_time.as_secs_f64() / our_time.as_secs_f64().max(1e-9),
        chrome_rss as f64 / (our_rss as f64).max(1.0)
    );
    Ok(())
}
