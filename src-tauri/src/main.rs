//! `downtime-kit`: the desktop app's entry point; everything lives in the `dtk_app` library so tests can reach it.
// Without this a Windows release build would open a console window next to the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

/// The allocator, as the `dtk` command line's (the core's Cargo.toml says why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    dtk_app::run()
}
