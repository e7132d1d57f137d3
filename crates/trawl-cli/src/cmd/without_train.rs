//! Stands in for `train` and `mine-negatives` when trawl is built without the `train` feature.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "trawl was built without training support; rebuild with `cargo build --features train`"
    )
}
