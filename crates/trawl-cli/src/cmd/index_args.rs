//! `--index NAME --ef N --nprobe N --refine R`: which vector index a dense search uses and its
//! knobs; shared by `search`, `serve`, `check` and `beir`.

#[derive(clap::Args, Debug, Clone, Default)]
pub struct IndexArgs {
    /// Vector index for dense search: `exact` (default) or the name of an approximate index
    /// (`trawl kb index`, `trawl kb import-faiss`).
    #[arg(long)]
    pub index: Option<String>,
    /// HNSW: candidate list size (higher: better recall, slower).
    #[arg(long)]
    pub ef: Option<usize>,
    /// IVF: lists probed per query.
    #[arg(long)]
    pub nprobe: Option<usize>,
    /// IVF-PQ: re-score the first R candidates exactly (needs an index built with --refine-vectors).
    #[arg(long)]
    pub refine: Option<usize>,
}

impl IndexArgs {
    pub fn params(&self) -> trawl_kb::SearchParams {
        trawl_kb::SearchParams {
            ef: self.ef,
            nprobe: self.nprobe,
            refine: self.refine,
        }
    }
}
