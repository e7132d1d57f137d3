//! Dense retrieval: queries encoded by a sentence-embedding model (cargo feature `dense`),
//! searched in the KB's exact vector index or one of its approximate indexes (by name, with its
//! ef / nprobe / refine knobs). Without the feature, opening one is a named error.

use std::sync::Arc;

use trawl_kb::KnowledgeBase;

use crate::retriever::Retriever;
#[cfg(not(feature = "dense"))]
use crate::Error;
use crate::Result;

/// Opens the dense retriever of `kb` with `model` (a folder or a hub id in the local cache;
/// default: the model recorded in the KB manifest).
pub fn open_dense(kb: Arc<KnowledgeBase>, model: Option<&str>) -> Result<Arc<dyn Retriever>> {
    let opts = crate::KbRetrieverOptions {
        model: model.map(str::to_string),
        ..Default::default()
    };
    open_dense_with(kb, &opts)
}

/// [`open_dense`] with the model, the vector index and its knobs from `opts`.
pub fn open_dense_with(
    kb: Arc<KnowledgeBase>,
    opts: &crate::KbRetrieverOptions,
) -> Result<Arc<dyn Retriever>> {
    #[cfg(feature = "dense")]
    {
        Ok(Arc::new(imp::DenseRetriever::open(kb, opts)?))
    }
    #[cfg(not(feature = "dense"))]
    {
        let _ = (kb, opts);
        Err(Error::DenseNotBuilt)
    }
}

#[cfg(feature = "dense")]
pub use imp::DenseRetriever;

#[cfg(feature = "dense")]
mod imp {
    use std::sync::Arc;

    use trawl_embed::{EncoderOptions, SentenceEncoder};
    use trawl_kb::KnowledgeBase;

    use crate::kb::{title, with_ids};
    use crate::retriever::{RetrievedDoc, Retriever};
    use crate::{Error, Result};

    /// Encodes every query of a batch in one encoder call, then searches the flat index.
    pub struct DenseRetriever {
        kb: Arc<KnowledgeBase>,
        encoder: SentenceEncoder,
        index: Option<String>,
        search: trawl_kb::SearchParams,
    }

    fn engine(e: impl std::fmt::Display) -> Error {
        Error::Engine {
            retriever: "dense".to_string(),
            message: e.to_string(),
        }
    }

    impl DenseRetriever {
        pub fn open(kb: Arc<KnowledgeBase>, opts: &crate::KbRetrieverOptions) -> Result<Self> {
            let model = opts.model.as_deref();
            // An unknown index name fails here, before the model is loaded.
            if kb.vectors().is_some() {
                kb.vector_index(opts.index.as_deref())
                    .map_err(|e| Error::InvalidArgument {
                        field: "index",
                        message: e.to_string(),
                    })?;
            }
            let Some(index) = kb.vectors() else {
                return Err(Error::MissingIndex {
                    index: "dense",
                    hint: format!(
                        "{} has no vectors; rebuild it with `trawl kb build DOCS --out KB --dense MODEL`",
                        kb.dir().display()
                    ),
                });
            };
            let model = match (model, kb.dense_model()) {
                (Some(m), _) => m.to_string(),
                (None, Some(m)) => m.to_string(),
                (None, None) => {
                    return Err(Error::InvalidArgument {
                        field: "model",
                        message: "the KB does not record its embedding model: pass --model".into(),
                    })
                }
            };
            let quantize = match opts.quantize {
                Some(q) => q,
                None => kb
                    .dense_quantize()
                    .map(str::parse)
                    .transpose()
                    .map_err(|e: String| Error::InvalidArgument {
                        field: "quantize",
                        message: format!("{}: {e}", kb.dir().display()),
                    })?
                    .unwrap_or_default(),
            };
            let encoder_opts = EncoderOptions {
                quantize,
                ..Default::default()
            };
            let encoder = SentenceEncoder::load(&model, &encoder_opts).map_err(engine)?;
            if encoder.dim() != index.dim() {
                return Err(Error::InvalidArgument {
                    field: "model",
                    message: format!(
                        "model `{model}` makes {}-dimensional vectors but the KB index holds {}-dimensional ones (built with {})",
                        encoder.dim(),
                        index.dim(),
                        kb.dense_model().unwrap_or("an unknown model")
                    ),
                });
            }
            Ok(DenseRetriever {
                kb,
                encoder,
                index: opts.index.clone(),
                search: opts.search,
            })
        }
    }

    impl Retriever for DenseRetriever {
        fn name(&self) -> &str {
            "dense"
        }

        fn retrieve_batch(&self, queries: &[&str], k: usize) -> Result<Vec<Vec<RetrievedDoc>>> {
            if queries.is_empty() {
                return Ok(Vec::new());
            }
            let vectors = self.encoder.encode_queries(queries).map_err(engine)?;
            let flat: Vec<f32> = vectors.concat();
            let hits = self
                .kb
                .search_index(self.index.as_deref(), &flat, queries.len(), k, &self.search)
                .map_err(engine)?;
            hits.into_iter()
                .map(|h| with_ids(&self.kb, "dense", h.into_iter().map(|h| (h.doc, h.score))))
                .collect()
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

        fn embed_queries(&self, texts: &[&str]) -> Option<Result<Vec<Vec<f32>>>> {
            Some(
                self.encoder
                    .encode_queries(texts)
                    .map(|e| e.to_vecs())
                    .map_err(engine),
            )
        }
    }
}
