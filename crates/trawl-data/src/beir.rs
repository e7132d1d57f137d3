//! BEIR dataset folders: `corpus.jsonl`, `queries.jsonl` and `qrels/<split>.tsv` (each may also
//! be gzipped: `corpus.jsonl.gz`, ...).

use std::path::{Path, PathBuf};

use crate::document::{read_documents_as, DocumentFormat, DocumentReader};
use crate::error::{Error, Result};
use crate::qrels::{read_qrels, Qrels};
use crate::query::{read_queries, Query};

/// An opened BEIR folder. Opening checks the folder and its corpus; queries and qrels are
/// checked when read, so a corpus-only folder works for indexing.
#[derive(Clone, Debug)]
pub struct BeirDataset {
    dir: PathBuf,
    corpus: PathBuf,
}

impl BeirDataset {
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(Error::MissingFile {
                path: dir,
                hint: " (expected a BEIR folder holding corpus.jsonl, queries.jsonl and \
                       qrels/<split>.tsv)"
                    .to_string(),
            });
        }
        let corpus = find(&dir, "corpus.jsonl")?;
        Ok(BeirDataset { dir, corpus })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn corpus_path(&self) -> &Path {
        &self.corpus
    }

    /// Streams the corpus.
    pub fn read_corpus(&self) -> Result<DocumentReader> {
        read_documents_as(&self.corpus, DocumentFormat::Jsonl)
    }

    pub fn queries_path(&self) -> Result<PathBuf> {
        find(&self.dir, "queries.jsonl")
    }

    pub fn read_queries(&self) -> Result<Vec<Query>> {
        read_queries(self.queries_path()?)
    }

    /// The splits that have a qrels file (`qrels/<split>.tsv[.gz]`), sorted; empty when there
    /// is no `qrels/` folder.
    pub fn splits(&self) -> Result<Vec<String>> {
        let qrels_dir = self.dir.join("qrels");
        let Ok(entries) = std::fs::read_dir(&qrels_dir) else {
            return Ok(Vec::new());
        };
        let mut splits = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&qrels_dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let stem = name.strip_suffix(".gz").unwrap_or(name);
            if let Some(split) = stem.strip_suffix(".tsv") {
                splits.push(split.to_string());
            }
        }
        splits.sort();
        splits.dedup();
        Ok(splits)
    }

    /// The qrels file of `split`; the error lists the available splits.
    pub fn qrels_path(&self, split: &str) -> Result<PathBuf> {
        let qrels_dir = self.dir.join("qrels");
        let plain = qrels_dir.join(format!("{split}.tsv"));
        let gz = qrels_dir.join(format!("{split}.tsv.gz"));
        if plain.is_file() {
            return Ok(plain);
        }
        if gz.is_file() {
            return Ok(gz);
        }
        let splits = self.splits()?;
        let hint = if splits.is_empty() {
            format!(" (no qrels/<split>.tsv files in {})", self.dir.display())
        } else {
            format!(" (available splits: {})", splits.join(", "))
        };
        Err(Error::MissingFile { path: plain, hint })
    }

    pub fn read_qrels(&self, split: &str) -> Result<Qrels> {
        read_qrels(self.qrels_path(split)?)
    }
}

/// `dir/name` or `dir/name.gz`; the error lists what the folder holds.
fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Ok(plain);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let mut present: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    present.sort();
    let hint = if present.is_empty() {
        " (the folder is empty)".to_string()
    } else {
        format!(" (the folder holds: {})", present.join(", "))
    };
    Err(Error::MissingFile { path: plain, hint })
}
