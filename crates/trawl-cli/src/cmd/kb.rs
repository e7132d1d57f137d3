//! Not built yet: see the open issues.

use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Build a knowledge base from documents.
    Build {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        rest: Vec<String>,
    },
}

pub fn run(_command: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("this command is not built yet")
}
