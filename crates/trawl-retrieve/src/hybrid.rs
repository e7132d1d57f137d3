//! `HybridRetriever`: fuses several retrievers over the same KB (BM25 + dense, typically).

use std::sync::Arc;

use crate::fusion::{fuse, Fusion, DEFAULT_RRF_K};
use crate::retriever::{RetrievedDoc, Retriever};
use crate::{Error, Result};

/// Candidates taken from each retriever before fusion, unless configured otherwise.
pub const DEFAULT_CANDIDATE_DEPTH: usize = 100;

/// Settings of a hybrid retriever.
#[derive(Debug, Clone, PartialEq)]
pub struct HybridConfig {
    pub fusion: Fusion,
    /// One weight per component retriever (empty: all 1.0).
    pub weights: Vec<f32>,
    /// Each component contributes its top `max(k, candidate_depth)`.
    pub candidate_depth: usize,
}

impl Default for HybridConfig {
    fn default() -> Self {
        HybridConfig {
            fusion: Fusion::Rrf { k: DEFAULT_RRF_K },
            weights: Vec::new(),
            candidate_depth: DEFAULT_CANDIDATE_DEPTH,
        }
    }
}

/// Retrieves with every component (each in one batch call) and fuses the rankings per query.
pub struct HybridRetriever {
    name: String,
    components: Vec<Arc<dyn Retriever>>,
    config: HybridConfig,
}

impl HybridRetriever {
    /// Fails when there are no components or the weights do not match them.
    pub fn new(
        name: &str,
        components: Vec<Arc<dyn Retriever>>,
        config: HybridConfig,
    ) -> Result<Self> {
        if components.is_empty() {
            return Err(Error::InvalidArgument {
                field: "components",
                message: "a hybrid retriever needs at least one component retriever".into(),
            });
        }
        if !config.weights.is_empty() && config.weights.len() != components.len() {
            return Err(Error::InvalidArgument {
                field: "weights",
                message: format!(
                    "{} weights given for {} retrievers ({}); give one weight per retriever",
                    config.weights.len(),
                    components.len(),
                    components
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        if let Fusion::Rrf { k } = config.fusion {
            if !(k >= 0.0 && k.is_finite()) {
                return Err(Error::InvalidArgument {
                    field: "rrf_k",
                    message: format!("must be a finite number >= 0, got {k}"),
                });
            }
        }
        Ok(HybridRetriever {
            name: name.to_string(),
            components,
            config,
        })
    }

    pub fn config(&self) -> &HybridConfig {
        &self.config
    }
}

impl Retriever for HybridRetriever {
    fn name(&self) -> &str {
        &self.name
    }

    fn retrieve_batch(&self, queries: &[&str], k: usize) -> Result<Vec<Vec<RetrievedDoc>>> {
        let depth = k.max(self.config.candidate_depth);
        let per_component: Vec<Vec<Vec<RetrievedDoc>>> = self
            .components
            .iter()
            .map(|c| c.retrieve_batch(queries, depth))
            .collect::<Result<_>>()?;
        Ok((0..queries.len())
            .map(|q| {
                let lists: Vec<&[RetrievedDoc]> =
                    per_component.iter().map(|c| c[q].as_slice()).collect();
                fuse(&lists, &self.config.weights, self.config.fusion, k, false)
            })
            .collect())
    }

    fn document_title(&self, ordinal: u32) -> Option<String> {
        self.components
            .iter()
            .find_map(|c| c.document_title(ordinal))
    }

    fn knowledge_base(&self) -> Option<&trawl_kb::KnowledgeBase> {
        self.components.iter().find_map(|c| c.knowledge_base())
    }

    fn embed_queries(&self, texts: &[&str]) -> Option<Result<Vec<Vec<f32>>>> {
        self.components.iter().find_map(|c| c.embed_queries(texts))
    }

    fn num_docs(&self) -> usize {
        self.components
            .iter()
            .map(|c| c.num_docs())
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fusion::Normalization;
    use crate::InMemoryRetriever;

    const DOCS: &[(&str, &str, &str)] = &[
        ("a", "", "apple banana"),
        ("b", "", "banana cherry"),
        ("c", "", "cherry durian apple"),
    ];

    #[test]
    fn hybrid_of_one_retriever_keeps_its_order() {
        let mem: Arc<dyn Retriever> = Arc::new(InMemoryRetriever::new("m", DOCS));
        let alone = mem.retrieve_batch(&["apple cherry"], 3).unwrap();
        for fusion in [
            Fusion::Rrf { k: 60.0 },
            Fusion::WeightedSum(Normalization::MinMax),
            Fusion::WeightedSum(Normalization::ZScore),
        ] {
            let cfg = HybridConfig {
                fusion,
                ..Default::default()
            };
            let h = HybridRetriever::new("h", vec![mem.clone()], cfg).unwrap();
            let out = h.retrieve_batch(&["apple cherry"], 3).unwrap();
            let a: Vec<u32> = alone[0].iter().map(|d| d.ordinal).collect();
            let b: Vec<u32> = out[0].iter().map(|d| d.ordinal).collect();
            assert_eq!(a, b, "{fusion:?}");
        }
    }

    #[test]
    fn weights_must_match_components() {
        let mem: Arc<dyn Retriever> = Arc::new(InMemoryRetriever::new("m", DOCS));
        let cfg = HybridConfig {
            weights: vec![1.0, 2.0],
            ..Default::default()
        };
        let err = HybridRetriever::new("h", vec![mem], cfg).err().unwrap();
        assert!(
            err.to_string().contains("2 weights given for 1 retrievers"),
            "{err}"
        );
    }
}
