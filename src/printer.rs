//! Handing a saved PDF to the operating system: the system viewer (`xdg-open`, `open`, `start`) and, where CUPS is
//! installed, the default printer through `lp`. The print centre of the app uses these; the web side never names a
//! program, and only a file that is really a PDF is handed over.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why a PDF could not be opened or printed. Messages name no patient (file names carry none).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrinterError {
    /// The path is not a saved PDF (missing, a folder, or not starting with `%PDF-`).
    #[error("{0} is not a saved PDF")]
    NotPdf(String),
    /// CUPS (`lp`) is not installed on this workstation.
    #[error("this workstation has no printing system (CUPS `lp` was not found); save the PDF and print it from another computer, or open it and use the viewer's print dialog")]
    NoCups,
    /// No program to open files with was found.
    #[error("no program to open PDFs was found on this workstation ({0})")]
    NoViewer(&'static str),
    /// The program ran and failed; its own words follow.
    #[error("{program} failed: {detail}")]
    Failed { program: &'static str, detail: String },
}

/// Whether printing to a printer is possible here, and to which one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PrinterStatus {
    /// `lp` was found.
    pub cups: bool,
    /// The default destination `lpstat -d` names, if any.
    pub default_printer: Option<String>,
}

/// Finds `program` in the folders of a `PATH`-style list.
pub fn find_program(program: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

fn system_path() -> std::ffi::OsString {
    std::env::var_os("PATH").unwrap_or_default()
}

/// Checks that `file` is a PDF we could have written: a regular file that starts with `%PDF-`.
pub fn check_pdf(file: &Path) -> Result<(), PrinterError> {
    use std::io::Read;
    let name = || file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "the file".into());
    let mut head = [0u8; 5];
    let ok = file.is_file()
        && std::fs::File::open(file).and_then(|mut f| f.read_exact(&mut head)).is_ok()
        && &head == b"%PDF-";
    if ok {
        Ok(())
    } else {
        Err(PrinterError::NotPdf(name()))
    }
}

/// Whether CUPS is here (`lp` on `path`) and its default printer (`lpstat -d`; none when it says so).
pub fn status_on(path: &OsStr) -> PrinterStatus {
    let Some(_lp) = find_program("lp", path) else { return PrinterStatus { cups: false, default_printer: None } };
    let default_printer = find_program("lpstat", path)
        .and_then(|lpstat| Command::new(lpstat).arg("-d").stdin(Stdio::null()).output().ok())
        .filter(|out| out.status.success())
        .and_then(|out| {
            // "system default destination: ward-5e" (or "no system default destination").
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.split_once("destination:").map(|(_, name)| name.trim().to_string()).filter(|n| !n.is_empty())
        });
    PrinterStatus { cups: true, default_printer }
}

/// [`status_on`] the system `PATH`.
pub fn status() -> PrinterStatus {
    status_on(&system_path())
}

/// Whether CUPS has the queue `name` enabled (`lpstat -p NAME`: "printer NAME is idle.  enabled since …" or
/// "printer NAME disabled since …"), found on `path`; `None` when `lpstat` is missing or does not say. CUPS knows
/// its queue, not whether a network printer answers: a disabled queue is what it reports after failed jobs.
pub fn enabled_on(name: &str, path: &OsStr) -> Option<bool> {
    let lpstat = find_program("lpstat", path)?;
    let out = Command::new(lpstat).arg("-p").arg(name).stdin(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return None;
    }
    if text.contains("disabled") {
        Some(false)
    } else if text.contains("enabled") || text.contains("is idle") || text.contains("now printing") {
        Some(true)
    } else {
        None
    }
}

/// [`enabled_on`] the system `PATH`.
pub fn enabled(name: &str) -> Option<bool> {
    enabled_on(name, &system_path())
}

/// Sends a saved PDF to the default printer with `lp` (found on `path`); returns what `lp` said (the job id).
pub fn print_on(file: &Path, path: &OsStr) -> Result<String, PrinterError> {
    check_pdf(file)?;
    let lp = find_program("lp", path).ok_or(PrinterError::NoCups)?;
    let out = Command::new(lp)
        .arg("--")
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| PrinterError::Failed { program: "lp", detail: e.to_string() })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(PrinterError::Failed { program: "lp", detail: String::from_utf8_lossy(&out.stderr).trim().to_string() })
    }
}

/// [`print_on`] the system `PATH`.
pub fn print(file: &Path) -> Result<String, PrinterError> {
    print_on(file, &system_path())
}

/// The program that opens a file in the system viewer on this platform, and its arguments before the file.
fn viewer() -> (&'static str, &'static [&'static str]) {
    if cfg!(target_os = "windows") {
        // `start` is built into cmd; the empty title keeps a quoted path from being taken as the title.
        ("cmd", &["/C", "start", ""])
    } else if cfg!(target_os = "macos") {
        ("open", &[])
    } else {
        ("xdg-open", &[])
    }
}

/// Opens a saved PDF in the system viewer (found on `path`), without waiting for the viewer to close.
pub fn open_on(file: &Path, path: &OsStr) -> Result<(), PrinterError> {
    check_pdf(file)?;
    let (program, args) = viewer();
    let exe = find_program(program, path)
        .or_else(|| find_program(&format!("{program}.exe"), path))
        .ok_or(PrinterError::NoViewer(program))?;
    let mut child = Command::new(exe)
        .args(args)
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| PrinterError::Failed { program, detail: e.to_string() })?;
    // The viewer may run for hours; reap the launcher in the background so it leaves no zombie process.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// [`open_on`] the system `PATH`.
pub fn open(file: &Path) -> Result<(), PrinterError> {
    open_on(file, &system_path())
}
