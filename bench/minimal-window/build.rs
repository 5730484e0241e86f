//! Build script: lets tauri-build read tauri.conf.json and capabilities/ and generate the window's context.
fn main() {
    tauri_build::build()
}
