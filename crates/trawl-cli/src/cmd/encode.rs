//! `trawl encode MODEL INPUT --out X.npy`: embeds documents or queries into a NumPy array
//! (`[n, dim]`, float32 or float16) plus `X.ids.txt` with one id per row.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Model: a sentence-transformers folder, or a hub id found in ./models or the local
    /// Hugging Face cache (get all-MiniLM-L6-v2 with scripts/get-model.sh).
    pub model: String,
    /// Documents (JSONL/TSV, .gz allowed), queries with --queries (JSONL/TSV/parquet), or a
    /// BEIR dataset folder.
    pub input: PathBuf,
    /// Output .npy file; ids go to the same name with .ids.txt.
    #[arg(long)]
    pub out: PathBuf,
    /// Encode queries (the model's query prefix) instead of documents.
    #[arg(long)]
    pub queries: bool,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Tokens per text (with [CLS]/[SEP]); default: the model's max_seq_length.
    #[arg(long)]
    pub max_seq_len: Option<usize>,
    /// Store float16 instead of float32 (half the size).
    #[arg(long)]
    pub f16: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub quantize: super::QuantizeArg,
}

/// `X.npy` -> `X.ids.txt` (any other name gets `.ids.txt` appended).
pub fn ids_path(out: &Path) -> PathBuf {
    match out.extension() {
        Some(e) if e == "npy" => out.with_extension("ids.txt"),
        _ => {
            let mut s = out.as_os_str().to_os_string();
            s.push(".ids.txt");
            PathBuf::from(s)
        }
    }
}

/// (ids, texts) of the input: BEIR documents are "title text" (stripped), as BEIR's
/// sentence-transformers wrapper embeds them.
fn read_input(input: &Path, queries: bool) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    if queries {
        let qs = if input.is_dir() {
            trawl_data::beir::BeirDataset::open(input)?.read_queries()?
        } else {
            super::serve::load_queries(input)?
        };
        return Ok(qs.into_iter().map(|q| (q.id, q.text)).unzip());
    }
    let docs: Box<dyn Iterator<Item = trawl_data::error::Result<trawl_data::document::Document>>> =
        if input.is_dir() {
            Box::new(trawl_data::beir::BeirDataset::open(input)?.read_corpus()?)
        } else {
            Box::new(trawl_data::document::read_documents(input)?)
        };
    let mut ids = Vec::new();
    let mut texts = Vec::new();
    for d in docs {
        let d = d?;
        texts.push(if d.title.is_empty() {
            d.text.trim().to_string()
        } else {
            format!("{} {}", d.title, d.text).trim().to_string()
        });
        ids.push(d.id);
    }
    Ok((ids, texts))
}

#[cfg(feature = "dense")]
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use trawl_embed::{EncoderOptions, SentenceEncoder};
    use trawl_vector::{npy, Precision};

    let started = std::time::Instant::now();
    trawl_store::refuse_output_containing(&args.out, &[args.input.as_path()])?;
    let (ids, texts) = read_input(&args.input, args.queries)?;
    let opts = EncoderOptions {
        batch_size: args.batch_size,
        max_seq_len: args.max_seq_len,
        quantize: args.quantize.get(),
        ..Default::default()
    };
    let encoder = SentenceEncoder::load(&args.model, &opts)?;
    let bar = ProgressBar::with_draw_target(Some(texts.len() as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "encoding {bar:30} {human_pos}/{human_len} texts ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let encode_started = std::time::Instant::now();
    let progress = |done: usize, _total: usize| bar.set_position(done as u64);
    let emb = if args.queries {
        encoder.encode_queries_with_progress(&refs, &progress)?
    } else {
        encoder.encode_documents_with_progress(&refs, &progress)?
    };
    let encode_secs = encode_started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let precision = if args.f16 {
        Precision::F16
    } else {
        Precision::F32
    };
    npy::write_npy(&args.out, &emb.data, emb.n, emb.dim, precision)?;
    let ids_out = ids_path(&args.out);
    let mut listing = ids.join("\n");
    listing.push('\n');
    trawl_store::write_file_atomic(&ids_out, listing.as_bytes())
        .with_context(|| format!("writing {}", ids_out.display()))?;
    let secs = started.elapsed().as_secs_f64();
    if args.json {
        let summary = serde_json::json!({
            "model": encoder.model_name(), "n": emb.n, "dim": emb.dim,
            "quantize": encoder.quantize().as_str(),
            "dtype": if args.f16 { "float16" } else { "float32" },
            "out": args.out, "ids": ids_out, "seconds": secs, "encode_seconds": encode_secs,
        });
        println!("{summary}");
    } else {
        eprintln!(
            "encoded {} {} with {} into {} ([{}, {}] {}) and {} in {secs:.1}s",
            emb.n,
            if args.queries { "queries" } else { "documents" },
            encoder.model_name(),
            args.out.display(),
            emb.n,
            emb.dim,
            if args.f16 { "float16" } else { "float32" },
            ids_out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "dense"))]
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let _ = (ids_path(&args.out), read_input);
    anyhow::bail!(
        "`trawl encode` needs sentence-embedding support: rebuild trawl with the `dense` feature"
    )
}
