//! Knowledge bases for trawl: a directory holding a document store and the indexes built over
//! it, described by a versioned manifest.
//!
//! Layout of a KB directory:
//!
//! | file            | what                                                               |
//! |-----------------|--------------------------------------------------------------------|
//! | `manifest.json` | format + version, trawl version, settings, doc count, corpus hash  |
//! | `ids.dat`       | document ids in ordinal order, compact (checksummed)               |
//! | `ids.idx`       | offsets into `ids.dat` (checksummed)                               |
//! | `docs.dat`      | title, text, metadata JSON of every document (checksummed)         |
//! | `docs.idx`      | offsets into `docs.dat` (checksummed)                              |
//! | `ids.ord`       | ordinals sorted by id, for `ordinal_of` (checksummed)              |
//! | `bm25/`         | the `trawl_bm25::Bm25Index`                                        |
//! | `dense/`        | the `trawl_vector::FlatIndex` (optional)                           |
//! | `ann/<name>/`   | approximate indexes over the dense vectors (HNSW, IVF, IVF-PQ)     |
//! | `segments/<n>/` | documents added by `kb add`: store, id map, `bm25/`, `dense/`      |
//! | `deleted.bin`   | tombstones of deleted and replaced documents (checksummed)         |
//!
//! Beside it: `.<name>.lock` while a writer works, `.<name>.tmp-<pid>` while it builds.
//!
//! A build writes everything into a hidden temporary sibling and swaps it into place
//! (`trawl_store::AtomicDir`: `renameat2(RENAME_EXCHANGE)` on Linux), the manifest last, under
//! the destination's write lock (`trawl_store::DirLock`): an interrupted build never leaves a
//! directory that opens, a replace never leaves the destination missing, and two writers never
//! race. Opening recovers leftovers of killed writers, checks the manifest (size cap, checksum,
//! paths confined to the folder), maps the files and verifies their checksums ([`OpenOptions`]).
//!
//! Quickstart:
//! ```
//! use trawl_data::Document;
//! use trawl_kb::{KbBuildOptions, KnowledgeBase};
//! # let tmp = tempfile::tempdir().unwrap();
//! let dir = tmp.path().join("kb");
//! let docs = vec![
//!     Document { id: "d1".into(), title: "Cats".into(), text: "Cats purr and sleep.".into(), ..Default::default() },
//!     Document { id: "d2".into(), title: "Dogs".into(), text: "Dogs bark at cats.".into(), ..Default::default() },
//! ];
//! let kb = KnowledgeBase::build(docs.into_iter().map(Ok), &dir, &KbBuildOptions::default(), |_| {})?;
//! let hits = kb.search_bm25("purring cat", 10)?;
//! assert_eq!(hits[0].id, "d1");
//!
//! let reopened = KnowledgeBase::open(&dir)?;
//! assert_eq!(reopened.search_bm25("purring cat", 10)?, hits);
//! assert_eq!(reopened.ordinal_of("d2"), Some(1));
//! assert_eq!(reopened.document(1)?.title, "Dogs");
//! # Ok::<(), trawl_kb::Error>(())
//! ```

pub mod ann;
mod build;
mod corpus_hash;
mod deleted;
mod dense;
mod doc_store;
mod error;
pub mod faiss_import;
mod id_map;
mod kb;
pub mod manifest;
pub mod plan;
mod update;

pub use ann::{AnnManifest, AnnParams, VectorStorage};
pub use build::{check_destination, check_doc_id, Bm25Options, KbBuildOptions, StagedKb};
pub use corpus_hash::{hash_documents, hash_file, CorpusHasher};
pub use dense::DenseEmbeddings;
pub use doc_store::DocumentRef;
pub use error::{Error, Result};
pub use faiss_import::{import_faiss, FaissImportOptions, FaissImportReport};
pub use kb::{KbHit, KbHitRef, KnowledgeBase, OpenOptions};
pub use manifest::{
    ChunkManifest, DenseDtype, DenseMetric, GenerationRecord, IndexedFields, Manifest,
    SegmentManifest,
};
pub use trawl_store::Verify;
pub use trawl_vector::{SearchParams, VectorIndex};
pub use update::{EncodeDocuments, UpdateOptions, UpdateReport};
