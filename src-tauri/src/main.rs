// Keep a console window away from the desktop app on Windows release builds.
#![cfg_attr(
    all(not(debug_assertions), target_os = "windows"),
    windows_subsystem = "windows"
)]

use std::process::ExitCode;

use passbridge::cli::{self, Next};

fn main() -> ExitCode {
    match cli::main() {
        Next::Exit(code) => code,
        #[cfg(feature = "desktop")]
        Next::OpenWindow(args) => passbridge::desktop::run(args.background),
    }
}
