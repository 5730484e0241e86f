//! The repository itself: nothing made while looking at the app (a screenshot, a rendered PDF page, a printed PDF)
//! is committed at its root, where a stray `-.png` once landed.

use std::path::Path;
use std::process::Command;

/// What a render or a print is saved as.
const RENDER_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "webp", "ppm", "pgm", "pdf", "svg"];

fn is_render(name: &str) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| RENDER_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn git(args: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("git").args(args).current_dir(root).output().expect("git runs (the tests run in a clone)");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("git prints UTF-8 paths")
}

/// Files at the root that are committed, or untracked and not ignored (so `git add -A` would commit them).
fn committable_root_files() -> Vec<String> {
    let listed = git(&["ls-files", "--cached", "--others", "--exclude-standard", "-z"]);
    listed.split('\0').filter(|p| !p.is_empty() && !p.contains('/')).map(str::to_string).collect()
}

#[test]
fn no_image_or_pdf_would_be_committed_at_the_root() {
    let stray: Vec<String> = committable_root_files().into_iter().filter(|f| is_render(f)).collect();
    assert!(stray.is_empty(), "images or PDFs at the repository root would be committed: {stray:?}");
}

#[test]
fn gitignore_keeps_renders_out_of_the_root_but_not_out_of_the_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // (An upper-case extension is not ignored, but the test above still catches it.)
    for name in ["-.png", "page-1.ppm", "entry.pdf", "shot.jpg", "form.svg"] {
        let ignored = Command::new("git")
            .args(["check-ignore", "--quiet", "--no-index", "--", name])
            .current_dir(root)
            .status()
            .expect("git runs");
        assert!(ignored.success(), "{name} at the root is not ignored");
        assert!(is_render(name), "{name} is recognised as a render");
    }
    // The app's icons live below the root and stay tracked.
    let icons = git(&["ls-files", "src-tauri/icons"]);
    assert!(icons.lines().any(|l| l.ends_with(".png")), "the app icons are still tracked");
}
