//! `trawl kb index KB --type hnsw|sq8|ivf|ivfpq [...]`: adds an approximate vector index to a KB from
//! the vectors it already stores (no re-encoding); `--index NAME` on `search` selects it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use trawl_kb::{AnnParams, KnowledgeBase, VectorStorage};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexType {
    Hnsw,
    /// A flat scan of 8-bit scalar-quantised vectors (FAISS IndexScalarQuantizer QT_8bit).
    Sq8,
    Ivf,
    Ivfpq,
}

/// `--storage`: how an HNSW index stores its vectors.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageArg {
    F32,
    F16,
    Sq8,
}

impl From<StorageArg> for VectorStorage {
    fn from(s: StorageArg) -> VectorStorage {
        match s {
            StorageArg::F32 => VectorStorage::F32,
            StorageArg::F16 => VectorStorage::F16,
            StorageArg::Sq8 => VectorStorage::Sq8,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// The knowledge base directory (built with --dense).
    pub kb: PathBuf,
    /// Index type.
    #[arg(long = "type", value_enum)]
    pub kind: IndexType,
    #[command(flatten)]
    pub knobs: AnnBuildArgs,
}

/// How an approximate index is built: shared by `kb index` and `kb build --index`.
#[derive(clap::Args, Debug, Clone)]
pub struct AnnBuildArgs {
    /// Name that `--index` selects (default: the type). An index of that name is replaced.
    #[arg(long)]
    pub name: Option<String>,
    /// HNSW: links per node (default 16). IVF-PQ: sub-quantisers (must divide the dimension).
    #[arg(long)]
    pub m: Option<usize>,
    /// HNSW: candidate list size while building.
    #[arg(long, default_value_t = 200)]
    pub ef_construction: usize,
    /// HNSW: default candidate list size at search (`--ef` overrides per search).
    #[arg(long, default_value_t = 64)]
    pub ef_search: usize,
    /// HNSW: how the graph stores its vectors: f32, f16 (half the memory) or sq8 (8-bit
    /// per-dimension scalar quantisation, a quarter). `--refine R` restores exact scores.
    #[arg(long, value_enum, default_value = "f32")]
    pub storage: StorageArg,
    /// IVF / IVF-PQ: number of lists (about sqrt(documents) is usual).
    #[arg(long)]
    pub nlist: Option<usize>,
    /// IVF / IVF-PQ: default lists probed per query (`--nprobe` overrides per search).
    #[arg(long, default_value_t = 8)]
    pub nprobe: usize,
    /// IVF / IVF-PQ: train on a seeded sample of this many vectors (default: all, at most 256
    /// per centroid).
    #[arg(long)]
    pub train_size: Option<usize>,
    /// Seed: the same seed rebuilds the same bytes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// IVF-PQ: keep the full vectors so searches can re-score exactly (`--refine R`).
    #[arg(long)]
    pub refine_vectors: bool,
}

impl AnnBuildArgs {
    /// The index `kind` over `n` documents with these knobs, and the name it is added under.
    pub fn params(&self, kind: IndexType, n: usize) -> anyhow::Result<(String, AnnParams)> {
        let default_nlist = ((n as f64).sqrt() as usize).clamp(1, 65_536);
        let params = match kind {
            IndexType::Hnsw => AnnParams::Hnsw {
                m: self.m.unwrap_or(16),
                ef_construction: self.ef_construction,
                ef_search: self.ef_search,
                seed: self.seed,
                storage: self.storage.into(),
            },
            IndexType::Sq8 => AnnParams::Sq8,
            IndexType::Ivf => AnnParams::Ivf {
                nlist: self.nlist.unwrap_or(default_nlist),
                nprobe: self.nprobe,
                train_size: self.train_size,
                seed: self.seed,
            },
            IndexType::Ivfpq => {
                let Some(m) = self.m else {
                    bail!("an ivfpq index needs --m M (sub-quantisers; a divisor of the vector dimension, e.g. 48 for 384)");
                };
                AnnParams::IvfPq {
                    nlist: self.nlist.unwrap_or(default_nlist),
                    m,
                    nprobe: self.nprobe,
                    train_size: self.train_size,
                    seed: self.seed,
                    refine_vectors: self.refine_vectors,
                }
            }
        };
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| params.kind().to_string());
        Ok((name, params))
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut kb = KnowledgeBase::open(&args.kb)
        .with_context(|| format!("opening knowledge base {}", args.kb.display()))?;
    let n = kb.num_docs();
    let (name, params) = args.knobs.params(args.kind, n)?;
    let t = Instant::now();
    kb.add_ann(&name, params)
        .with_context(|| format!("adding index `{name}` to {}", args.kb.display()))?;
    let peak = super::kb_plan::peak_rss()
        .map(|b| format!(", peak memory {b} bytes ({})", super::kb::human_bytes(b)))
        .unwrap_or_default();
    eprintln!(
        "added {} index `{name}` over {n} vectors in {:.1}s{peak}; search it with `trawl search {} --index {name}`",
        params.kind(),
        t.elapsed().as_secs_f64(),
        args.kb.display()
    );
    Ok(ExitCode::SUCCESS)
}
