//! `passbridge info`: the version and how this binary was built.

use std::process::ExitCode;

use passbridge_core::about;

use super::{fail, print_json};

/// `passbridge info`.
#[derive(Debug, clap::Args)]
pub(super) struct InfoArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub(super) json: bool,
}

pub(super) fn run(args: &InfoArgs) -> ExitCode {
    let info = about::app_info(cfg!(feature = "desktop"));
    if args.json {
        return match print_json(&info) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&format!("could not encode build info: {error}")),
        };
    }
    let flavour = if info.desktop { "desktop" } else { "headless" };
    println!(
        "{} {} ({flavour} build, {})",
        info.name, info.version, info.os
    );
    ExitCode::SUCCESS
}
