//! Building a knowledge base: stream documents into the store and the BM25 builder, then write
//! the indexes and the manifest into a temporary directory that is renamed into place.

use std::path::Path;

use trawl_bm25::{AnalyzerConfig, Bm25Builder, Bm25Params};
use trawl_data::Document;
use trawl_store::AtomicDir;

use crate::corpus_hash::{metadata_json, CorpusHasher};
use crate::dense::{self, DenseEmbeddings};
use crate::doc_store::DocStoreWriter;
use crate::manifest::{
    now_unix_s, Bm25Manifest, IndexedFields, Manifest, FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE,
    TRAWL_VERSION,
};
use crate::{id_map, Error, KnowledgeBase, Result};

/// Sub-directory of the BM25 index inside a KB.
pub(crate) const BM25_DIR: &str = "bm25";

/// How to build the BM25 index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bm25Options {
    pub analyzer: AnalyzerConfig,
    pub params: Bm25Params,
    pub fields: IndexedFields,
}

/// What to build. `Default`: BM25 with Pyserini's BEIR settings (Lucene k1=0.9 b=0.4, English
/// stopwords, Porter stemming, title + text), no dense index, never overwrite.
#[derive(Debug, Clone)]
pub struct KbBuildOptions {
    /// `None`: no BM25 index.
    pub bm25: Option<Bm25Options>,
    /// Precomputed document embeddings, one row per document in input order.
    pub dense: Option<DenseEmbeddings>,
    /// Replace an existing KB at the destination (a non-KB directory is never replaced).
    pub overwrite: bool,
    /// Documents handed to the BM25 builder at a time (bounds memory while streaming).
    pub batch_size: usize,
}

impl Default for KbBuildOptions {
    fn default() -> Self {
        KbBuildOptions {
            bm25: Some(Bm25Options::default()),
            dense: None,
            overwrite: false,
            batch_size: 16_384,
        }
    }
}

/// Refuses destinations that are not ours to replace: a file, a non-empty directory without a
/// KB manifest, or an existing KB when `overwrite` is false.
pub fn check_destination(out_dir: &Path, overwrite: bool) -> Result<()> {
    match std::fs::symlink_metadata(out_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(out_dir, e)),
        Ok(m) if !m.is_dir() => {
            return Err(Error::RefuseOverwrite {
                path: out_dir.to_path_buf(),
            })
        }
        Ok(_) => {}
    }
    let mut entries = std::fs::read_dir(out_dir).map_err(|e| Error::io(out_dir, e))?;
    if entries.next().is_none() {
        return Ok(()); // an empty directory holds nothing to lose
    }
    if !out_dir.join(MANIFEST_FILE).is_file() {
        return Err(Error::RefuseOverwrite {
            path: out_dir.to_path_buf(),
        });
    }
    if !overwrite {
        return Err(Error::AlreadyExists {
            path: out_dir.to_path_buf(),
        });
    }
    Ok(())
}

/// Builds a KB at `out_dir` from `docs`; `progress` is called with the number of documents read
/// so far (every batch and at the end).
pub(crate) fn build(
    docs: impl IntoIterator<Item = trawl_data::Result<Document>>,
    out_dir: &Path,
    options: &KbBuildOptions,
    mut progress: impl FnMut(u64),
) -> Result<KnowledgeBase> {
    check_destination(out_dir, options.overwrite)?;
    let staging = AtomicDir::create(out_dir)?;
    let tmp = staging.path();

    let mut store = DocStoreWriter::create(tmp)?;
    let mut hasher = CorpusHasher::new();
    let mut bm25 = match &options.bm25 {
        Some(o) => Some((Bm25Builder::new(o.analyzer.clone(), o.params)?, o.fields)),
        None => None,
    };
    let batch_size = options.batch_size.max(1);
    let mut batch: Vec<String> = Vec::with_capacity(batch_size);
    let mut ids: Vec<Box<str>> = Vec::new();
    let mut num_empty = 0u64;

    for doc in docs {
        let doc = doc?;
        let record = ids.len() as u64 + 1;
        if doc.id.is_empty() {
            return Err(Error::EmptyId { record });
        }
        if ids.len() >= u32::MAX as usize {
            return Err(Error::TooManyDocuments {
                max: u64::from(u32::MAX),
            });
        }
        if doc.title.trim().is_empty() && doc.text.trim().is_empty() {
            num_empty += 1;
        }
        let meta = metadata_json(&doc);
        hasher.add(&doc.id, &doc.title, &doc.text, &meta);
        store.push(&doc.id, &doc.title, &doc.text, &meta)?;
        if let Some((builder, fields)) = &mut bm25 {
            batch.push(indexed_text(&doc, *fields));
            if batch.len() == batch_size {
                let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
                builder.add_documents(&refs);
                batch.clear();
            }
        }
        ids.push(doc.id.into_boxed_str());
        if (ids.len() as u64).is_multiple_of(batch_size as u64) {
            progress(ids.len() as u64);
        }
    }
    if ids.is_empty() {
        return Err(Error::EmptyCorpus);
    }
    let order = id_map::sorted_ordinals(&ids)?;
    let num_docs = ids.len();
    drop(ids);
    let mut doc_store_bytes = store.finish()?;
    doc_store_bytes += id_map::write(tmp, &order)?;
    drop(order);

    let bm25_manifest = match bm25 {
        Some((mut builder, fields)) => {
            if !batch.is_empty() {
                let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
                builder.add_documents(&refs);
            }
            drop(batch);
            let index = builder.build()?;
            let bm25_dir = tmp.join(BM25_DIR);
            std::fs::create_dir(&bm25_dir).map_err(|e| Error::io(&bm25_dir, e))?;
            index.save_files(&bm25_dir)?;
            let o = options.bm25.as_ref().expect("bm25 options present");
            Some(Bm25Manifest {
                fields,
                analyzer: o.analyzer.clone(),
                params: o.params,
                num_terms: index.num_terms() as u64,
                dir: BM25_DIR.into(),
            })
        }
        None => None,
    };
    progress(num_docs as u64);

    let dense_manifest = match &options.dense {
        Some(e) => Some(dense::write(&tmp.join(dense::DENSE_DIR), e, num_docs)?),
        None => None,
    };

    let manifest = Manifest {
        format: FORMAT_NAME.into(),
        format_version: FORMAT_VERSION,
        trawl_version: TRAWL_VERSION.into(),
        created_unix_s: now_unix_s(),
        num_docs: num_docs as u64,
        num_empty_docs: num_empty,
        corpus_hash: hasher.finish_hex(),
        doc_store_bytes,
        bm25: bm25_manifest,
        dense: dense_manifest,
        ann: Vec::new(),
    };
    staging.write_file(MANIFEST_FILE, &manifest.to_json())?;
    staging.commit()?;
    KnowledgeBase::open(out_dir)
}

/// The text the BM25 index sees for `doc`.
pub(crate) fn indexed_text(doc: &Document, fields: IndexedFields) -> String {
    match fields {
        IndexedFields::Text => doc.text.clone(),
        IndexedFields::TitleText if doc.title.is_empty() => doc.text.clone(),
        IndexedFields::TitleText => format!("{} {}", doc.title, doc.text),
    }
}
