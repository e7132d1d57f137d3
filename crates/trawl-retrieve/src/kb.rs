//! Retrievers over a trawl knowledge base.

use std::sync::Arc;

use trawl_kb::KnowledgeBase;

use crate::retriever::{RetrievedDoc, Retriever};
use crate::{Error, Result};

/// Turns engine hits (ordinal, score) into retrieved documents with their KB ids.
#[cfg_attr(not(feature = "dense"), allow(dead_code))]
pub(crate) fn with_ids(
    kb: &KnowledgeBase,
    retriever: &str,
    hits: impl IntoIterator<Item = (u32, f32)>,
) -> Result<Vec<RetrievedDoc>> {
    hits.into_iter()
        .map(|(ordinal, score)| {
            let id = kb.id(ordinal).map_err(|e| Error::Engine {
                retriever: retriever.to_string(),
                message: e.to_string(),
            })?;
            Ok(RetrievedDoc {
                id: Arc::from(id),
                score,
                ordinal,
            })
        })
        .collect()
}

pub(crate) fn title(kb: &KnowledgeBase, ordinal: u32) -> Option<String> {
    kb.document(ordinal).ok().map(|d| d.title.to_string())
}

/// BM25 over the KB's BM25 index (parallel over the queries of a batch).
pub struct Bm25Retriever {
    kb: Arc<KnowledgeBase>,
}

impl Bm25Retriever {
    /// Fails when the KB has no BM25 index.
    pub fn new(kb: Arc<KnowledgeBase>) -> Result<Self> {
        if kb.bm25().is_none() {
            return Err(Error::MissingIndex {
                index: "BM25",
                hint: format!(
                    "{} was built without one; rebuild it with `trawl kb build DOCS --out KB --bm25`",
                    kb.dir().display()
                ),
            });
        }
        Ok(Bm25Retriever { kb })
    }
}

impl Retriever for Bm25Retriever {
    fn name(&self) -> &str {
        "bm25"
    }

    fn retrieve_batch(&self, queries: &[&str], k: usize) -> Result<Vec<Vec<RetrievedDoc>>> {
        if self.kb.bm25().is_none() {
            return Ok(vec![Vec::new(); queries.len()]);
        }
        // Through the KB: it searches added segments too and skips deleted documents.
        let hits = self
            .kb
            .search_bm25_batch_refs(queries, k)
            .map_err(|e| Error::Engine {
                retriever: "bm25".to_string(),
                message: e.to_string(),
            })?;
        Ok(hits
            .into_iter()
            .map(|hits| hits.into_iter().map(RetrievedDoc::from).collect())
            .collect())
    }

    fn document_title(&self, ordinal: u32) -> Option<String> {
        title(&self.kb, ordinal)
    }

    fn num_docs(&self) -> usize {
        // Deleted and replaced ordinals are never returned: they do not count.
        self.kb.num_live()
    }

    fn knowledge_base(&self) -> Option<&KnowledgeBase> {
        Some(&self.kb)
    }
}

/// Which retrievers to open over a KB.
#[derive(Debug, Clone, Default)]
pub struct KbRetrieverOptions {
    /// Embedding model for dense retrieval (default: the one recorded in the KB).
    pub model: Option<String>,
    /// Fusion settings of the `hybrid` retriever (BM25 first, dense second).
    pub hybrid: crate::HybridConfig,
    /// Vector index the dense retriever searches: `None` (or "exact") is the exact flat index,
    /// otherwise an approximate index of the KB by name.
    pub index: Option<String>,
    /// Knobs of that index (ef, nprobe, refine).
    pub search: trawl_kb::SearchParams,
    /// How the query encoder runs (`--quantize`); None: as the KB's documents were encoded.
    pub quantize: Option<trawl_kernels::int8::Quantize>,
}

/// The retrievers a KB supports: `bm25` when it has a BM25 index, `dense` when it has vectors
/// (and trawl has the `dense` feature), `hybrid` when both. `notes` says why one is missing.
pub struct KbRetrievers {
    pub retrievers: Vec<Arc<dyn Retriever>>,
    pub notes: Vec<String>,
}

/// Opens every retriever `kb` supports. A dense index that cannot be used is a note, unless a
/// model was asked for explicitly (then it is an error).
pub fn open_all(kb: Arc<KnowledgeBase>, opts: &KbRetrieverOptions) -> Result<KbRetrievers> {
    let mut retrievers: Vec<Arc<dyn Retriever>> = Vec::new();
    let mut notes = Vec::new();
    let bm25 = match Bm25Retriever::new(kb.clone()) {
        Ok(b) => Some(Arc::new(b) as Arc<dyn Retriever>),
        Err(e) => {
            notes.push(format!("bm25 unavailable: {e}"));
            None
        }
    };
    let dense = if kb.vectors().is_some() || opts.model.is_some() {
        match crate::dense::open_dense_with(kb.clone(), opts) {
            Ok(d) => Some(d),
            Err(e) if opts.model.is_some() => return Err(e),
            Err(e) => {
                notes.push(format!("dense unavailable: {e}"));
                None
            }
        }
    } else {
        notes.push("dense unavailable: the knowledge base has no vectors".to_string());
        None
    };
    retrievers.extend(bm25.clone());
    retrievers.extend(dense.clone());
    if let (Some(b), Some(d)) = (bm25, dense) {
        retrievers.push(Arc::new(crate::HybridRetriever::new(
            "hybrid",
            vec![b, d],
            opts.hybrid.clone(),
        )?));
    }
    if retrievers.is_empty() {
        return Err(Error::MissingIndex {
            index: "BM25 or dense",
            hint: notes.join("; "),
        });
    }
    Ok(KbRetrievers { retrievers, notes })
}

/// Opens one retriever by name (`bm25`, `dense` or `hybrid`), e.g. for `trawl search --retriever`.
pub fn open_named(
    kb: Arc<KnowledgeBase>,
    name: &str,
    opts: &KbRetrieverOptions,
) -> Result<Arc<dyn Retriever>> {
    match name {
        "bm25" => Ok(Arc::new(Bm25Retriever::new(kb)?)),
        "dense" => crate::dense::open_dense_with(kb, opts),
        "hybrid" => {
            let b: Arc<dyn Retriever> = Arc::new(Bm25Retriever::new(kb.clone())?);
            let d = crate::dense::open_dense_with(kb, opts)?;
            Ok(Arc::new(crate::HybridRetriever::new(
                "hybrid",
                vec![b, d],
                opts.hybrid.clone(),
            )?))
        }
        other => Err(Error::InvalidArgument {
            field: "retriever",
            message: format!("`{other}` is not a retriever: use bm25, dense or hybrid"),
        }),
    }
}
