//! Wikipedia into passages, the DPR recipe: each article's text, markup removed
//! ([`clean_wikitext`]), is cut into consecutive passages of 100 words (the last one of an
//! article may be shorter); each passage keeps the article's title. Output is JSONL,
//! `{"id": "1", "title": .., "text": ..}` with ids counting from 1 as in DPR's `psgs_w100.tsv`,
//! which `trawl kb build` reads as it is.

mod dump;
mod markup;

use std::io::Write;
use std::path::Path;

use serde::Serialize;

pub use dump::{Article, ArticleReader, PageCounts};
pub use markup::clean_wikitext;

use crate::error::{Error, Result};

/// Options of [`prepare`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Words per passage (DPR: 100).
    pub words_per_passage: usize,
    /// Stop after this many passages.
    pub num_passages: Option<u64>,
    /// Leave out passages with fewer words (an article's short last passage, stubs).
    pub min_words: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            words_per_passage: 100,
            num_passages: None,
            min_words: 1,
        }
    }
}

/// What [`prepare`] read and wrote.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub pages: PageCounts,
    pub articles: u64,
    pub passages: u64,
    /// Passages left out for having fewer than `min_words` words.
    pub short_passages: u64,
    /// Bytes of the input file read (compressed bytes for `.bz2`).
    pub bytes_read: u64,
}

/// The passages of one article's plain text: consecutive runs of `words` words.
pub fn split_passages(text: &str, words: usize) -> Vec<String> {
    let all: Vec<&str> = text.split_whitespace().collect();
    all.chunks(words.max(1)).map(|c| c.join(" ")).collect()
}

#[derive(Serialize)]
struct PassageLine<'a> {
    id: &'a str,
    title: &'a str,
    text: &'a str,
}

/// Reads the dump at `input` and writes its passages as JSONL to `out`. `progress` is called
/// after each article with the summary so far.
pub fn prepare(
    input: &Path,
    mut out: impl Write,
    options: &Options,
    mut progress: impl FnMut(&Summary),
) -> Result<Summary> {
    if options.words_per_passage == 0 {
        return Err(Error::Input(
            "words per passage must be at least 1 (DPR uses 100)".to_string(),
        ));
    }
    let mut reader = ArticleReader::open(input)?;
    let mut summary = Summary::default();
    let mut id = String::new();
    let write_err = |e: std::io::Error| Error::Write {
        path: "passages output".into(),
        source: e,
    };
    'articles: while let Some(article) = reader.next() {
        let article = article?;
        summary.articles += 1;
        let title = article.title.trim();
        for passage in split_passages(&clean_wikitext(&article.text), options.words_per_passage) {
            if options.num_passages.is_some_and(|n| summary.passages >= n) {
                break 'articles;
            }
            if passage.split(' ').count() < options.min_words {
                summary.short_passages += 1;
                continue;
            }
            summary.passages += 1;
            id.clear();
            id.push_str(&summary.passages.to_string());
            serde_json::to_writer(
                &mut out,
                &PassageLine {
                    id: &id,
                    title,
                    text: &passage,
                },
            )
            .map_err(|e| write_err(e.into()))?;
            out.write_all(b"\n").map_err(write_err)?;
        }
        summary.pages = reader.counts();
        summary.bytes_read = reader.bytes_read();
        progress(&summary);
    }
    summary.pages = reader.counts();
    summary.bytes_read = reader.bytes_read();
    out.flush().map_err(write_err)?;
    Ok(summary)
}
