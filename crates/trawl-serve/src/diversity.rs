//! `"diversity": {"method": "embedding", "threshold": 0.5, "combine": "darling"}` on `/reward`:
//! each item's rewrites are grouped into equivalence classes by the cosine of their embeddings
//! with the KB's model, and their per-rewrite rewards combined with diversity
//! (trawl-retrieve's [`trawl_retrieve::diversity`]).

use std::sync::Arc;

use serde::Deserialize;
use trawl_retrieve::{Combine, Diversity, Retriever};

use crate::error::ApiError;
use crate::state::Served;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiversityRequest {
    /// `embedding` (cosine of the KB model's embeddings).
    pub method: String,
    /// Rewrites with a cosine at least this are equivalent (default 0.5).
    pub threshold: Option<f64>,
    /// `darling` (default: quality x share of other rewrites in another class), `classes`
    /// (quality x distinct classes / rewrites) or `additive` (quality + that share).
    pub combine: Option<String>,
}

/// A checked request: the embedding retriever, the threshold and the combination.
pub(crate) struct DiversitySpec {
    embedder: Arc<dyn Retriever>,
    threshold: f64,
    combine: Combine,
}

impl DiversitySpec {
    pub(crate) fn parse(req: DiversityRequest, served: &Served) -> Result<Self, ApiError> {
        if req.method != "embedding" {
            return Err(ApiError::bad_request(
                "diversity.method",
                format!(
                    "diversity method `{}` is not supported: use \"embedding\"",
                    req.method
                ),
            ));
        }
        let threshold = req.threshold.unwrap_or(0.5);
        if !(-1.0..=1.0).contains(&threshold) {
            return Err(ApiError::bad_request(
                "diversity.threshold",
                format!("the threshold is a cosine between -1 and 1, got {threshold}"),
            ));
        }
        let combine = match req.combine.as_deref() {
            Some(c) => c.parse().map_err(ApiError::from)?,
            None => Combine::Darling,
        };
        let embedder = ["dense", "hybrid"]
            .iter()
            .find_map(|n| served.retriever(Some(n)).ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "diversity",
                    "embedding diversity needs the KB's embedding model: serve a KB built with --dense MODEL",
                )
            })?;
        Ok(DiversitySpec {
            embedder,
            threshold,
            combine,
        })
    }

    /// The diversity of one item's rewrites, given their per-rewrite rewards.
    pub(crate) fn score(
        &self,
        rewrites: &[String],
        quality: &[f64],
    ) -> Result<Diversity, ApiError> {
        let texts: Vec<&str> = rewrites.iter().map(String::as_str).collect();
        let vectors = match self.embedder.embed_queries(&texts) {
            Some(v) => v?,
            None => {
                return Err(ApiError::bad_request(
                    "diversity",
                    format!("the {} retriever cannot embed texts", self.embedder.name()),
                ))
            }
        };
        let classes = trawl_retrieve::equivalence_classes(&vectors, self.threshold);
        Ok(trawl_retrieve::combine_diversity(
            quality,
            &classes,
            self.combine,
        ))
    }
}
