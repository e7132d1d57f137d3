//! `trawl embeddings stats X.npy [--pairs Q.npy,D.npy] [--json] [--out stats.json]`: the
//! geometry of an embedding matrix (trawl-report's `geometry`). Encode a corpus first with
//! `trawl encode MODEL DATA --out X.npy`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use trawl_report::geometry::{embedding_stats, STATS_FORMAT};
use trawl_vector::npy::read_npy_f32;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Mean pairwise cosine, covariance spectrum, effective rank, IsoScore, alignment, uniformity.
    Stats(StatsArgs),
}

#[derive(clap::Args)]
pub struct StatsArgs {
    /// A float32 .npy of shape [n, dim] (e.g. from `trawl encode`).
    npy: PathBuf,
    /// Positive pairs for alignment: two .npy files with the same shape, row i of the first
    /// paired with row i of the second (e.g. queries and their relevant documents).
    #[arg(long, value_delimiter = ',', num_args = 2)]
    pairs: Vec<PathBuf>,
    /// Print JSON instead of a summary.
    #[arg(long)]
    json: bool,
    /// Also write the JSON here (an input of `trawl report`).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Stats(args) = command;
    let (rows, n, dim) =
        read_npy_f32(&args.npy).with_context(|| format!("reading {}", args.npy.display()))?;
    let pairs = match args.pairs.as_slice() {
        [] => None,
        [a, b] => {
            let (a, _, da) = read_npy_f32(a).with_context(|| format!("reading {}", a.display()))?;
            let (b, _, db) = read_npy_f32(b).with_context(|| format!("reading {}", b.display()))?;
            if da != dim || db != dim {
                anyhow::bail!("--pairs: dimensions {da} and {db} differ from the matrix's {dim}");
            }
            Some((a, b))
        }
        _ => anyhow::bail!("--pairs takes two .npy files: QUERIES.npy,DOCS.npy"),
    };
    let stats = embedding_stats(
        &rows,
        dim,
        pairs.as_ref().map(|(a, b)| (a.as_slice(), b.as_slice())),
    )
    .with_context(|| format!("{}", args.npy.display()))?;
    let doc =
        json!({"format": STATS_FORMAT, "source": args.npy.display().to_string(), "stats": stats});
    if let Some(out) = &args.out {
        trawl_store::write_file_atomic(out, format!("{doc:#}\n").as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    if args.json {
        println!("{doc:#}");
    } else {
        println!("{}: {n} vectors x {dim}", args.npy.display());
        println!("  mean pairwise cosine  {:.4}", stats.mean_pairwise_cosine);
        println!(
            "  effective rank        {:.2} of {dim}",
            stats.effective_rank
        );
        println!("  IsoScore              {:.4}", stats.isoscore);
        println!("  uniformity            {:.4}", stats.uniformity);
        if let Some(a) = stats.alignment {
            println!("  alignment             {a:.4}");
        }
        let top: Vec<String> = stats
            .covariance_eigenvalues
            .iter()
            .take(5)
            .map(|l| format!("{l:.4}"))
            .collect();
        println!("  top eigenvalues       {}", top.join(" "));
    }
    Ok(ExitCode::SUCCESS)
}
