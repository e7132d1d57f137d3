//! `trawl embeddings stats X.npy [--pairs Q.npy,D.npy]` or `trawl embeddings stats MODEL --corpus
//! BEIR [--sample N]` (`[--json] [--out stats.json]`): the geometry of an embedding matrix
//! (trawl-report's `geometry`), either read from a `.npy` or encoded from a BEIR corpus with the
//! model, the positive pairs for alignment being each (query, relevant document) of the qrels.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use trawl_report::geometry::{embedding_stats, EmbeddingStats, STATS_FORMAT};
use trawl_vector::npy::read_npy_f32;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Mean pairwise cosine, covariance spectrum, effective rank, IsoScore, alignment, uniformity.
    Stats(StatsArgs),
}

#[derive(clap::Args)]
pub struct StatsArgs {
    /// A float32 .npy of shape [n, dim] (e.g. from `trawl encode`), or with --corpus a model
    /// (a sentence-transformers folder or a name found in ./models or the HF cache).
    input: PathBuf,
    /// A BEIR folder: encode its corpus (documents as "title text") with the model INPUT; the
    /// alignment pairs are (query, relevant document) of the --split qrels.
    #[arg(long, conflicts_with = "pairs")]
    corpus: Option<PathBuf>,
    /// With --corpus: a seeded random sample of this many documents (default: all).
    #[arg(long, requires = "corpus")]
    sample: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// With --corpus: the qrels split that gives the positive pairs.
    #[arg(long, default_value = "test")]
    split: String,
    /// With --corpus: texts per forward pass, and tokens per text (default: the model's).
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, requires = "corpus")]
    max_seq_len: Option<usize>,
    /// The name the report shows (default: the .npy, or "MODEL on CORPUS").
    #[arg(long)]
    label: Option<String>,
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
    if let Some(corpus) = &args.corpus {
        return run_corpus(&args, corpus);
    }
    let (rows, n, dim) =
        read_npy_f32(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
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
    .with_context(|| format!("{}", args.input.display()))?;
    let label = args
        .label
        .clone()
        .unwrap_or_else(|| args.input.display().to_string());
    let doc = json!({"format": STATS_FORMAT, "source": label, "stats": stats});
    emit(&args, &doc, &stats, n, dim)
}

fn emit(
    args: &StatsArgs,
    doc: &serde_json::Value,
    stats: &EmbeddingStats,
    n: usize,
    dim: usize,
) -> anyhow::Result<ExitCode> {
    if let Some(out) = &args.out {
        trawl_store::write_file_atomic(out, format!("{doc:#}\n").as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    if args.json {
        println!("{doc:#}");
    } else {
        println!(
            "{}: {n} vectors x {dim}",
            doc["source"].as_str().unwrap_or("")
        );
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

/// A seeded sample of `k` of `0..n` (partial Fisher-Yates on splitmix64), in corpus order.
fn sample_indices(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let k = k.min(n);
    for i in 0..k {
        let j = i + (next() % (n - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut chosen = idx[..k].to_vec();
    chosen.sort_unstable();
    chosen
}

/// The corpus side: documents (sample or all) plus every relevant document of the split, the
/// positive pairs' queries, and which rows are the sample (read by the encoder: `dense` only).
#[cfg_attr(not(feature = "dense"), allow(dead_code))]
struct CorpusPlan {
    doc_texts: Vec<String>,
    /// Rows of `doc_texts` that are the sample (the statistics' vectors).
    sample_rows: Vec<usize>,
    query_texts: Vec<String>,
    /// (query row, document row) of each positive pair.
    pairs: Vec<(usize, usize)>,
    corpus_size: usize,
}

fn plan_corpus(args: &StatsArgs, corpus: &Path) -> anyhow::Result<CorpusPlan> {
    let ds = trawl_data::beir::BeirDataset::open(corpus)?;
    let mut ids = Vec::new();
    let mut texts = Vec::new();
    for d in ds.read_corpus()? {
        let d = d?;
        texts.push(format!("{} {}", d.title, d.text).trim().to_string());
        ids.push(d.id);
    }
    if texts.len() < 2 {
        anyhow::bail!(
            "{}: the corpus has {} document(s); embedding statistics need at least 2",
            ds.corpus_path().display(),
            texts.len()
        );
    }
    let corpus_size = texts.len();
    let sample = match args.sample {
        Some(k) if k < 2 => anyhow::bail!("--sample must be at least 2, got {k}"),
        Some(k) => sample_indices(corpus_size, k, args.seed),
        None => (0..corpus_size).collect(),
    };
    let qrels = ds.read_qrels(&args.split)?;
    let queries: HashMap<String, String> = ds
        .read_queries()?
        .into_iter()
        .map(|q| (q.id, q.text))
        .collect();
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    // Rows: the sample first, then relevant documents outside it.
    let mut row_of: HashMap<usize, usize> =
        sample.iter().enumerate().map(|(r, &i)| (i, r)).collect();
    let mut doc_rows: Vec<usize> = sample.clone();
    let (mut query_texts, mut pairs) = (Vec::new(), Vec::new());
    for qid in qrels.sorted_query_ids() {
        let Some(text) = queries.get(qid) else {
            continue;
        };
        let mut rel: Vec<(&String, &i32)> = qrels.get(qid).into_iter().flatten().collect();
        rel.sort();
        let q_row = query_texts.len();
        let mut any = false;
        for (doc, &grade) in rel {
            let Some(&i) = index.get(doc.as_str()) else {
                continue;
            };
            if grade <= 0 {
                continue;
            }
            let r = *row_of.entry(i).or_insert_with(|| {
                doc_rows.push(i);
                doc_rows.len() - 1
            });
            pairs.push((q_row, r));
            any = true;
        }
        if any {
            query_texts.push(text.clone());
        }
    }
    Ok(CorpusPlan {
        doc_texts: doc_rows.iter().map(|&i| texts[i].clone()).collect(),
        sample_rows: (0..sample.len()).collect(),
        query_texts,
        pairs,
        corpus_size,
    })
}

#[cfg(feature = "dense")]
fn run_corpus(args: &StatsArgs, corpus: &Path) -> anyhow::Result<ExitCode> {
    use trawl_embed::{EncoderOptions, SentenceEncoder};
    let model = args.input.to_string_lossy().to_string();
    if args.input.extension().is_some_and(|e| e == "npy") {
        anyhow::bail!("--corpus encodes with a model: give a model folder or name, not {model}");
    }
    let plan = plan_corpus(args, corpus)?;
    let opts = EncoderOptions {
        batch_size: args.batch_size,
        max_seq_len: args.max_seq_len,
        ..Default::default()
    };
    let encoder = SentenceEncoder::load(&model, &opts)?;
    let refs: Vec<&str> = plan.doc_texts.iter().map(String::as_str).collect();
    eprintln!(
        "encoding {} documents and {} queries with {}",
        refs.len(),
        plan.query_texts.len(),
        encoder.model_name()
    );
    let docs = encoder.encode_documents(&refs)?;
    let qrefs: Vec<&str> = plan.query_texts.iter().map(String::as_str).collect();
    let dim = docs.dim;
    let queries = if qrefs.is_empty() {
        Vec::new()
    } else {
        encoder.encode_queries(&qrefs)?.data
    };
    let row = |data: &[f32], r: usize| data[r * dim..(r + 1) * dim].to_vec();
    let sample: Vec<f32> = plan
        .sample_rows
        .iter()
        .flat_map(|&r| row(&docs.data, r))
        .collect();
    let (pq, pd): (Vec<f32>, Vec<f32>) = (
        plan.pairs
            .iter()
            .flat_map(|&(q, _)| row(&queries, q))
            .collect(),
        plan.pairs
            .iter()
            .flat_map(|&(_, d)| row(&docs.data, d))
            .collect(),
    );
    if plan.pairs.is_empty() {
        eprintln!(
            "note: no positive pairs in the {} qrels of {} match its queries and corpus: no alignment",
            args.split,
            corpus.display()
        );
    }
    let pairs = (!plan.pairs.is_empty()).then_some((pq.as_slice(), pd.as_slice()));
    let stats = embedding_stats(&sample, dim, pairs)?;
    let name = |p: &Path| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().to_string(),
        )
    };
    let label = args
        .label
        .clone()
        .unwrap_or_else(|| format!("{} on {}", name(args.input.as_path()), name(corpus)));
    let doc = json!({
        "format": STATS_FORMAT, "source": label, "model": model, "corpus": corpus,
        "split": args.split, "corpus_size": plan.corpus_size, "sample": args.sample,
        "seed": args.seed, "positive_pairs": plan.pairs.len(), "stats": stats,
    });
    emit(args, &doc, &stats, plan.sample_rows.len(), dim)
}

#[cfg(not(feature = "dense"))]
fn run_corpus(args: &StatsArgs, corpus: &Path) -> anyhow::Result<ExitCode> {
    let _ = (plan_corpus(args, corpus)?, sample_indices);
    anyhow::bail!("`--corpus` encodes with a model: rebuild trawl with the `dense` feature")
}

#[cfg(test)]
mod tests {
    use super::sample_indices;

    #[test]
    fn samples_are_seeded_distinct_and_in_range() {
        let a = sample_indices(100, 10, 7);
        assert_eq!(a, sample_indices(100, 10, 7));
        assert_ne!(a, sample_indices(100, 10, 8));
        let mut d = a.clone();
        d.dedup();
        assert_eq!(d.len(), 10);
        assert!(a.iter().all(|&i| i < 100));
        assert_eq!(sample_indices(5, 10, 1), vec![0, 1, 2, 3, 4]);
    }
}
