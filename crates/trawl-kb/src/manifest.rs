//! `manifest.json`: what a knowledge base holds and how it was built.
//!
//! It is written last, inside the temporary build directory, once every index it declares is
//! written, so a directory without one is never a finished KB. It lists every file of the KB
//! (`files`: what `--force` may delete, and what opening checks is present), carries a
//! `generation` id that changes with every build or replacement (a server compares it to notice
//! a swapped KB), and a `checksum` over its own canonical content.
//!
//! Opening reads it with a size cap (1 MiB; FIFOs and devices are refused before reading),
//! checks `format` (a foreign directory is refused), `format_version` (a KB from another format
//! version is refused with "rebuild it"), the checksum, and that every index directory it names
//! lies inside the KB folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// File name of the manifest inside a KB directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The value of the `format` field: marks a directory as a trawl KB.
pub const FORMAT_NAME: &str = "trawl-kb";
/// The on-disk format this build writes and reads. Bump on any incompatible change.
pub const FORMAT_VERSION: u32 = 3;
/// The format of a KB holding added segments or deletions (`trawl kb add` / `kb delete`): a
/// trawl that reads only [`FORMAT_VERSION`] refuses it instead of ignoring the updates;
/// `trawl kb compact` writes [`FORMAT_VERSION`] again.
pub const FORMAT_VERSION_SEGMENTED: u32 = 4;
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
    /// Squared Euclidean distance (imported FAISS L2 indexes); scores are negated distances.
    L2,
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
    /// How the model ran when it encoded the documents (`int8` for `--quantize int8`); absent
    /// for f32. Queries are encoded the same way unless asked otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantize: Option<String>,
}

/// How a chunked KB's documents were cut from their parents (`trawl kb build --chunk`): each
/// document is a passage `<parent id>#<n>`; searches can collapse passages to their parents and
/// evaluation against document-level qrels does so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkManifest {
    /// Where chunks were cut: `sentence`, `word` or `token`.
    pub by: String,
    /// What `size` and `overlap` count: `words` or `tokens`.
    pub measure: String,
    pub size: usize,
    pub overlap: usize,
    /// The tokenizer that counted tokens (a model folder or file), when tokens were counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<String>,
    /// Number of parent documents.
    pub num_parents: u64,
    /// [`crate::CorpusHasher`] over the parent documents (so a cache can tell the source changed).
    pub parents_hash: String,
}

/// A segment added by `trawl kb add`: documents after the base ones (and after earlier
/// segments), with their own document store and BM25 index in `dir`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentManifest {
    /// Sub-directory, `segments/<n>`.
    pub dir: String,
    /// Documents in the segment (deleted ones included).
    pub num_docs: u64,
}

/// One generation in a KB's history: what changed and the content it left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRecord {
    pub generation: String,
    pub created_unix_s: u64,
    /// `build`, `add`, `delete` or `compact`, with counts.
    pub change: String,
    pub num_live: u64,
    /// [`Manifest::content_hash`] of that generation.
    pub content_hash: String,
}

/// Generations kept in [`Manifest::history`] (the oldest are dropped first).
pub const HISTORY_LIMIT: usize = 1000;

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
    /// Present when the documents are chunks of longer parents; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<ChunkManifest>,
    /// Segments added after the base documents, in order (`trawl kb add`); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<SegmentManifest>,
    /// Deleted (or replaced) documents, marked in `deleted.bin`; their ordinals stay.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_deleted: u64,
    /// Hash of the live documents and the settings (see [`Manifest::compute_content_hash`]):
    /// equal for two KBs that search alike, however they were built or updated.
    #[serde(default)]
    pub content_hash: String,
    /// The generations this KB went through, oldest first (at most [`HISTORY_LIMIT`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<GenerationRecord>,
    /// Changes with every build or replacement of the KB (see [`crate::KnowledgeBase::generation`]).
    pub generation: String,
    /// Every file of the KB (relative, `/`-separated, sorted; `manifest.json` included): the
    /// files trawl wrote, and the only ones a rebuild with `--force` removes.
    pub files: Vec<String>,
    /// `crc32:` and 8 hex digits over the canonical manifest without this field
    /// ([`checksum_of`]); set when written.
    #[serde(default)]
    pub checksum: String,
}

/// The checksum of a manifest's JSON value: CRC-32 of its compact serialisation with the
/// `checksum` field removed. It catches damage, not deliberate edits.
pub fn checksum_of(value: &serde_json::Value) -> String {
    let mut v = value.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("checksum");
    }
    let bytes = serde_json::to_vec(&v).unwrap_or_default();
    format!("crc32:{:08x}", crc32fast::hash(&bytes))
}

/// A new generation id: creation time in nanoseconds, process id and 64 random bits, so two
/// builds never share one.
pub(crate) fn new_generation() -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    format!("{nanos:x}-{:x}-{:016x}", std::process::id(), h.finish())
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
        let bytes = match trawl_store::read_regular_capped(&path, MANIFEST_LIMIT) {
            Ok(b) => b,
            Err(trawl_store::Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Err(Error::NotAKnowledgeBase {
                    path: dir.to_path_buf(),
                    reason: format!("it has no {MANIFEST_FILE} (a foreign directory, or a build that never finished)"),
                })
            }
            Err(e) => return Err(e.into()),
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
        if version != u64::from(FORMAT_VERSION) && version != u64::from(FORMAT_VERSION_SEGMENTED) {
            return Err(Error::FormatVersion {
                path: dir.to_path_buf(),
                found: u32::try_from(version).unwrap_or(u32::MAX),
                expected: FORMAT_VERSION,
                trawl: TRAWL_VERSION,
            });
        }
        let stored = value.get("checksum").and_then(|c| c.as_str()).unwrap_or("");
        let computed = checksum_of(&value);
        if stored != computed {
            return Err(bad(format!(
                "checksum mismatch (recorded {stored:?}, content gives {computed:?}): the file was damaged or edited"
            )));
        }
        let mut manifest: Manifest =
            serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        if manifest.content_hash.is_empty() {
            // Built before content hashes were recorded.
            manifest.content_hash = manifest.compute_content_hash();
        }
        manifest.check_paths(dir)?;
        Ok(manifest)
    }

    /// Every path the manifest names stays inside `dir` (no `..`, no absolute path, no link).
    fn check_paths(&self, dir: &Path) -> Result<()> {
        if let Some(b) = &self.bm25 {
            trawl_store::confined_join(dir, &b.dir)?;
        }
        if let Some(d) = &self.dense {
            trawl_store::confined_join(dir, &d.dir)?;
        }
        for a in &self.ann {
            trawl_store::confined_join(dir, &a.dir)?;
        }
        for seg in &self.segments {
            trawl_store::confined_join(dir, &seg.dir)?;
        }
        for f in &self.files {
            trawl_store::confined_join(dir, f.trim_end_matches('/'))?;
        }
        Ok(())
    }

    /// The directory of the BM25 index, inside `dir` (checked when the manifest was read).
    pub fn bm25_dir(&self, dir: &Path) -> Option<Result<PathBuf>> {
        self.bm25
            .as_ref()
            .map(|b| trawl_store::confined_join(dir, &b.dir).map_err(Error::from))
    }

    /// The directory of the dense index, inside `dir`.
    pub fn dense_dir(&self, dir: &Path) -> Option<Result<PathBuf>> {
        self.dense
            .as_ref()
            .map(|d| trawl_store::confined_join(dir, &d.dir).map_err(Error::from))
    }

    /// Documents that searches can return.
    pub fn num_live(&self) -> u64 {
        self.num_docs.saturating_sub(self.num_deleted)
    }

    /// The content hash: [`crate::CorpusHasher`] over `corpus_hash` (the live documents in
    /// ordinal order) and every setting that changes what a search returns (BM25 fields,
    /// analyzer and parameters; the dense model and metric; chunking). Not the generation, the
    /// time or the trawl version: a KB updated in place and one rebuilt from the same live
    /// documents share it.
    pub fn compute_content_hash(&self) -> String {
        let mut h = crate::CorpusHasher::new();
        let settings = serde_json::json!({
            "bm25": self.bm25.as_ref().map(|b| serde_json::json!({
                "fields": b.fields, "analyzer": b.analyzer, "params": b.params,
            })),
            "dense": self.dense.as_ref().map(|d| {
                let mut v = serde_json::json!({
                    "model": d.model, "dim": d.dim, "dtype": d.dtype, "metric": d.metric,
                });
                // Only when set, so f32 KBs keep the hashes they had.
                if let Some(q) = &d.quantize {
                    v["quantize"] = q.clone().into();
                }
                v
            }),
            "chunks": self.chunks,
        });
        let settings = serde_json::to_vec(&settings).unwrap_or_default();
        h.add(&self.corpus_hash, "", "", &settings);
        h.finish_hex()
    }

    /// Sets the format version, the content hash and a new generation, and records it in the
    /// history as `change`.
    pub(crate) fn advance(&mut self, change: String) {
        self.format_version = if self.segments.is_empty() && self.num_deleted == 0 {
            FORMAT_VERSION
        } else {
            FORMAT_VERSION_SEGMENTED
        };
        self.generation = new_generation();
        self.created_unix_s = now_unix_s();
        self.content_hash = self.compute_content_hash();
        self.history.push(GenerationRecord {
            generation: self.generation.clone(),
            created_unix_s: self.created_unix_s,
            change,
            num_live: self.num_live(),
            content_hash: self.content_hash.clone(),
        });
        let extra = self.history.len().saturating_sub(HISTORY_LIMIT);
        self.history.drain(..extra);
    }

    /// Pretty JSON with its checksum, as written to disk.
    pub fn to_json(&self) -> Vec<u8> {
        // Through text, so f32 settings keep their short form (0.9, not 0.8999999761581421):
        // the value checksummed is the one a reader parses.
        let mut value: serde_json::Value = serde_json::to_vec(self)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let sum = checksum_of(&value);
        if let Some(map) = value.as_object_mut() {
            map.insert("checksum".into(), serde_json::Value::String(sum));
        }
        let mut v = serde_json::to_vec_pretty(&value).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// Lists the files of the KB being written in `dir` (plus the manifest itself) and writes
    /// the manifest there: the last file of a build, once every declared index is written.
    pub(crate) fn write_into(&mut self, dir: &Path) -> Result<()> {
        // Settings may have changed since the generation was started (chunks, vectors).
        self.content_hash = self.compute_content_hash();
        let (generation, hash, live) = (&self.generation, &self.content_hash, self.num_live());
        if let Some(last) = self
            .history
            .last_mut()
            .filter(|r| &r.generation == generation)
        {
            last.content_hash = hash.clone();
            last.num_live = live;
        }
        let mut files: Vec<String> = trawl_store::list_files(dir)?
            .into_iter()
            .filter(|f| f != MANIFEST_FILE)
            .collect();
        files.push(MANIFEST_FILE.into());
        files.sort();
        self.files = files;
        let path = dir.join(MANIFEST_FILE);
        std::fs::write(&path, self.to_json()).map_err(|e| Error::io(path, e))
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Size cap of `manifest.json`.
pub const MANIFEST_LIMIT: u64 = trawl_store::SMALL_FILE_LIMIT;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_unix_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
