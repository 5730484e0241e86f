//! The start-up benchmark's baseline (`scripts/bench-start.sh`, issue 19 item 3): the smallest Tauri 2 window, with
//! the same Tauri version, features, window size and build profile as the app, and a page that reports its first
//! paint exactly as the app's sign-in screen does. The app's time over this one's is what Downtime Kit adds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// Called by the page two animation frames after it loaded: prints the wall-clock time of the paint, in milliseconds
/// since the epoch, as the app's `startup_painted` does, and exits.
#[tauri::command]
fn painted() {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    println!("first-paint-epoch-ms {ms}");
    std::process::exit(0);
}

fn main() {
    let result =
        tauri::Builder::default().invoke_handler(tauri::generate_handler![painted]).run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("the minimal window could not start: {e}");
        std::process::exit(1);
    }
}
