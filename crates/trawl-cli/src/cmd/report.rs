//! `trawl report results/ [more results] [train_log.jsonl] [ann.json] --out report.html`: one
//! self-contained HTML page (trawl-report builds it); notes about damaged or missing inputs are
//! shown in the page and repeated on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Results folders of `trawl bench` (or their results.json), train_log.jsonl files of
    /// `trawl train`, ANN benchmark JSON of `bench/ann.py --json`.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The HTML file to write (replaced atomically).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let report = trawl_report::report::build(&args.inputs)?;
    trawl_store::write_file_atomic(&args.out, report.html.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    for n in &report.notes {
        eprintln!("note: {n}");
    }
    println!(
        "wrote {} ({:.1} KiB)",
        args.out.display(),
        report.html.len() as f64 / 1024.0
    );
    Ok(ExitCode::SUCCESS)
}
