//! `manifest.json`: what a knowledge base holds and how it was built.
//!
//! It is written last, inside the temporary build directory, so a directory without one is never
//! a finished KB. Opening checks `format` (a foreign directory is refused) and `format_version`
//! (a KB from another format version is refused with "rebuild it") before anything else.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// File name of the manifest inside a KB directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The value of the `format` field: marks a directory as a trawl KB.
pub const FORMAT_NAME: &str = "trawl-kb";
/// The on-disk format this build writes and reads. Bump on any incompatible change.
pub const FORMAT_VERSION: u32 = 2;
/// The trawl version recorded in new manifests.
pub const TRAWL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Which document fields the BM25 index covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IndexedFields {
    /// `title + " " + text` (Pyserini's BEIR "flat" runs). The default.
    #[default]
    TitleText,
    /// The text only.
    Text,
}

/// The BM25 index and the settings it was built with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bm25Manifest {
    pub fields: IndexedFields,
    pub analyzer: trawl_bm25::AnalyzerConfig,
    pub params: trawl_bm25::Bm25Params,
    /// Distinct terms in the index.
    pub num_terms: u64,
    /// Sub-directory holding the index.
    pub dir: String,
}

/// Storage type of the dense vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DenseDtype {
    #[default]
    F32,
    F16,
}

/// Similarity of the dense index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DenseMetric {
    /// Dot product (models whose embeddings are already normalised).
    #[default]
    InnerProduct,
    Cosine,
}

/// The dense (vector) index and the model that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseManifest {
    /// Name or path of the embedding model (queries must be encoded with the same one).
    pub model: String,
    pub dim: usize,
    pub dtype: DenseDtype,
    pub metric: DenseMetric,
    /// Sub-directory holding the index.
    pub dir: String,
}

/// The manifest of a knowledge base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub trawl_version: String,
    /// Creation time, seconds since the Unix epoch.
    pub created_unix_s: u64,
    pub num_docs: u64,
    /// Documents whose title and text were both empty (kept, so ordinals match the input; they
    /// never match a BM25 query).
    pub num_empty_docs: u64,
    /// [`crate::CorpusHasher`] over every document, in order (16 hex digits).
    pub corpus_hash: String,
    /// Bytes on disk of the document store.
    pub doc_store_bytes: u64,
    pub bm25: Option<Bm25Manifest>,
    pub dense: Option<DenseManifest>,
    /// Approximate indexes over the dense vectors (see [`crate::ann`]); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ann: Vec<crate::ann::AnnManifest>,
}

impl Manifest {
    /// Reads and checks the manifest of the KB at `dir`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        if !dir.is_dir() {
            return Err(Error::NotAKnowledgeBase {
                path: dir.to_path_buf(),
                reason: "no such directory".into(),
            });
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotAKnowledgeBase {
                    path: dir.to_path_buf(),
                    reason: format!("it has no {MANIFEST_FILE} (a foreign directory, or a build that never finished)"),
                })
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let bad = |message: String| Error::BadManifest {
            path: path.clone(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT_NAME) {
            return Err(Error::NotAKnowledgeBase {
                path: dir.to_path_buf(),
                reason: format!("{MANIFEST_FILE} does not say \"format\": \"{FORMAT_NAME}\""),
            });
        }
        let version = value.get("format_version").and_then(|v| v.as_u64());
        let Some(version) = version else {
            return Err(bad("no numeric format_version".into()));
        };
        if version != u64::from(FORMAT_VERSION) {
            return Err(Error::FormatVersion {
                path: dir.to_path_buf(),
                found: u32::try_from(version).unwrap_or(u32::MAX),
                expected: FORMAT_VERSION,
                trawl: TRAWL_VERSION,
            });
        }
        serde_json::from_value(value).map_err(|e| bad(e.to_string()))
    }

    /// Pretty JSON, as written to disk.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_unix_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
