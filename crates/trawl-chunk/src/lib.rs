//! Cutting documents into passages for retrieval and RAG.
//!
//! A document's text is first split into *pieces* at the chosen boundary (sentences, words or
//! tokens); pieces are packed greedily into chunks of at most `size` words or tokens, and the
//! next chunk starts `overlap` words or tokens before the previous one ended (whole pieces
//! only, and always at least one piece later than the previous chunk's start). A piece larger
//! than `size` (a long sentence) is cut at the next finer boundary (words, then tokens when a
//! tokenizer is given); a single word larger than `size` tokens without a tokenizer stays whole.
//!
//! Every chunk is an exact slice of the text, the whitespace after a piece belonging to it: the
//! first chunk starts at character 0, the last ends at the text's end, and each chunk starts
//! after the previous one's start and no later than its end, so chunks cover every character in
//! order. Offsets are given in bytes and in characters (Unicode scalar values, as Python's `str`
//! indexes).
//!
//! Chunk ids are `<parent id>#<n>` with `n` counted from 0: the same document and settings give
//! the same ids on every run. [`parent_id`] undoes it; [`collapse_max`] is MaxP (a parent scores
//! its best chunk's score).
//!
//! ```
//! use trawl_chunk::{Boundary, ChunkSettings, Chunker, Measure};
//! let chunker = Chunker::new(ChunkSettings { by: Boundary::Word, measure: Measure::Words, size: 3, overlap: 1 }, None)?;
//! let chunks = chunker.split("one two three four five");
//! let texts: Vec<&str> = chunks.iter().map(|c| c.text).collect();
//! assert_eq!(texts, ["one two three ", "three four five"]);
//! assert_eq!((chunks[1].char_start, chunks[1].char_end), (8, 23));
//! # Ok::<(), trawl_chunk::Error>(())
//! ```

mod collapse;
pub mod error;
#[cfg(feature = "tokenizers")]
mod hf;
mod pieces;

use std::ops::Range;

use serde::{Deserialize, Serialize};
use trawl_data::Document;

pub use collapse::{chunk_id, collapse_max, parent_id};
pub use error::{Error, Result};
#[cfg(feature = "tokenizers")]
pub use hf::HfTokenizer;

/// Where chunks may be cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Boundary {
    /// Between sentences (Unicode sentence boundaries, UAX #29); long sentences between words.
    Sentence,
    /// Between words (runs of non-whitespace).
    Word,
    /// Between tokens of the tokenizer (may cut inside a word).
    Token,
}

/// What the chunk size counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    Words,
    Tokens,
}

/// How to cut: at `by` boundaries, at most `size` `measure` per chunk, `overlap` of them repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkSettings {
    pub by: Boundary,
    pub measure: Measure,
    pub size: usize,
    pub overlap: usize,
}

impl ChunkSettings {
    /// Checks the settings on their own (size > 0, overlap < size, token boundaries count tokens).
    pub fn validate(&self) -> Result<()> {
        let unit = match self.measure {
            Measure::Words => "words",
            Measure::Tokens => "tokens",
        };
        if self.size == 0 {
            return Err(Error::Settings(format!(
                "the chunk size is 0 {unit}; give a size of at least 1 (e.g. --max-words 200)"
            )));
        }
        if self.overlap >= self.size {
            return Err(Error::Settings(format!(
                "the overlap ({} {unit}) must be smaller than the chunk size ({} {unit})",
                self.overlap, self.size
            )));
        }
        if self.by == Boundary::Token && self.measure == Measure::Words {
            return Err(Error::Settings(
                "cutting between tokens needs a size in tokens (--max-tokens N --tokenizer MODEL)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A tokenizer that says where each token of a text starts (byte offsets into the text).
pub trait Tokenize: Send + Sync {
    fn token_starts(&self, text: &str) -> Result<Vec<usize>>;
}

/// One chunk of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Position among the text's chunks, from 0.
    pub number: usize,
    pub bytes: Range<usize>,
    pub char_start: usize,
    pub char_end: usize,
    pub text: &'a str,
}

/// Cuts texts with fixed settings (and a tokenizer when sizes or boundaries are in tokens).
pub struct Chunker {
    settings: ChunkSettings,
    tokenizer: Option<Box<dyn Tokenize>>,
}

/// Metadata keys a chunk document adds to its parent's metadata.
pub const PARENT_ID_KEY: &str = "parent_id";
pub const CHUNK_KEY: &str = "chunk";
pub const CHAR_START_KEY: &str = "char_start";
pub const CHAR_END_KEY: &str = "char_end";

impl Chunker {
    /// Fails on invalid settings, or when they count or cut tokens and no tokenizer is given.
    pub fn new(settings: ChunkSettings, tokenizer: Option<Box<dyn Tokenize>>) -> Result<Self> {
        settings.validate()?;
        let needs_tokens = settings.measure == Measure::Tokens || settings.by == Boundary::Token;
        if needs_tokens && tokenizer.is_none() {
            return Err(Error::Settings(
                "a size or boundary in tokens needs a tokenizer (--tokenizer MODEL)".into(),
            ));
        }
        Ok(Chunker {
            settings,
            tokenizer,
        })
    }

    pub fn settings(&self) -> &ChunkSettings {
        &self.settings
    }

    /// The chunks of `text`, in order; none for a text that is empty or only whitespace.
    pub fn split<'a>(&self, text: &'a str) -> Vec<Chunk<'a>> {
        self.try_split(text).unwrap_or_default()
    }

    /// [`Chunker::split`], with the tokenizer's errors.
    pub fn try_split<'a>(&self, text: &'a str) -> Result<Vec<Chunk<'a>>> {
        let tokens = match &self.tokenizer {
            Some(t) if self.uses_tokens() => {
                let mut starts = t.token_starts(text)?;
                starts.sort_unstable();
                starts.dedup();
                starts.retain(|&s| s < text.len() && text.is_char_boundary(s));
                Some(starts)
            }
            _ => None,
        };
        let pieces = pieces::pieces(text, &self.settings, tokens.as_deref());
        Ok(pieces::pack(text, &pieces, &self.settings))
    }

    fn uses_tokens(&self) -> bool {
        self.settings.measure == Measure::Tokens || self.settings.by == Boundary::Token
    }

    /// The chunk documents of `doc`: ids `<id>#<n>`, the parent's title, the chunk's text, the
    /// parent's metadata plus `parent_id`, `chunk`, `char_start` and `char_end`.
    pub fn chunk_document(&self, doc: &Document) -> Result<Vec<Document>> {
        let chunks = self.try_split(&doc.text)?;
        if chunks.is_empty() {
            return Err(Error::EmptyDocument { id: doc.id.clone() });
        }
        Ok(chunks
            .into_iter()
            .map(|c| {
                let mut metadata = doc.metadata.clone();
                metadata.insert(PARENT_ID_KEY.into(), doc.id.clone().into());
                metadata.insert(CHUNK_KEY.into(), c.number.into());
                metadata.insert(CHAR_START_KEY.into(), c.char_start.into());
                metadata.insert(CHAR_END_KEY.into(), c.char_end.into());
                Document {
                    id: chunk_id(&doc.id, c.number),
                    title: doc.title.clone(),
                    text: c.text.to_string(),
                    metadata,
                }
            })
            .collect())
    }
}
