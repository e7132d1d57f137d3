//! Text analysis: tokenise, strip English possessives, lowercase, drop stopwords, stem.
//!
//! The default ([`AnalyzerConfig::default`]) reproduces Anserini's `DefaultEnglishAnalyzer`
//! (used by Pyserini's BEIR BM25 runs): `StandardTokenizer` → `EnglishPossessiveFilter` →
//! `LowerCaseFilter` → `StopFilter` (Lucene's 33 English stopwords) → `PorterStemFilter`.

pub mod porter;
pub mod stopwords;
pub mod tokenizer;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::hash::{FxMap, FxSet};
use crate::{Error, Result};
pub use porter::PorterStemmer;

/// Which stopwords to drop (after lowercasing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stopwords {
    /// Lucene's `EnglishAnalyzer.ENGLISH_STOP_WORDS_SET` (33 words), as Pyserini uses.
    LuceneEnglish,
    /// Keep every token.
    None,
    /// A custom list (lowercased when [`AnalyzerConfig::lowercase`] is on).
    List(Vec<String>),
}

impl Stopwords {
    /// Reads a stopword file: one word per line; blank lines and lines starting with `#` are
    /// skipped. The words are stored in the config, so an index never depends on the file again.
    pub fn from_file(path: &Path) -> Result<Stopwords> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Ok(Stopwords::List(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect(),
        ))
    }
}

/// Which stemmer to apply last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stemmer {
    /// The original Porter algorithm, exactly as Lucene's `PorterStemFilter` (Pyserini default).
    Porter,
    /// A Snowball stemmer from `rust-stemmers`, by language name ("english", "french", ...).
    Snowball(String),
    /// No stemming.
    None,
}

/// How text becomes terms. Stored in an index's metadata; queries are analysed the same way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzerConfig {
    /// Lowercase every token (Lucene `LowerCaseFilter`).
    pub lowercase: bool,
    /// Stopwords removed after lowercasing.
    pub stopwords: Stopwords,
    /// Stemmer applied last.
    pub stemmer: Stemmer,
    /// Strip a trailing `'s` (Lucene `EnglishPossessiveFilter`); on by default.
    #[serde(default = "default_true")]
    pub possessive: bool,
}

fn default_true() -> bool {
    true
}

impl Default for AnalyzerConfig {
    /// Lucene/Anserini English: possessives, lowercase, 33 stopwords, Porter.
    fn default() -> Self {
        AnalyzerConfig {
            lowercase: true,
            stopwords: Stopwords::LuceneEnglish,
            stemmer: Stemmer::Porter,
            possessive: true,
        }
    }
}

const SNOWBALL_LANGUAGES: &[(&str, rust_stemmers::Algorithm)] = {
    use rust_stemmers::Algorithm::*;
    &[
        ("arabic", Arabic),
        ("danish", Danish),
        ("dutch", Dutch),
        ("english", English),
        ("finnish", Finnish),
        ("french", French),
        ("german", German),
        ("greek", Greek),
        ("hungarian", Hungarian),
        ("italian", Italian),
        ("norwegian", Norwegian),
        ("portuguese", Portuguese),
        ("romanian", Romanian),
        ("russian", Russian),
        ("spanish", Spanish),
        ("swedish", Swedish),
        ("tamil", Tamil),
        ("turkish", Turkish),
    ]
};

enum StemmerImpl {
    Porter,
    Snowball(rust_stemmers::Stemmer),
    None,
}

/// A ready-to-use analyzer built from an [`AnalyzerConfig`]. Cheap to share between threads.
pub struct Analyzer {
    config: AnalyzerConfig,
    stopwords: FxSet<String>,
    stemmer: StemmerImpl,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("config", &self.config)
            .finish()
    }
}

/// Per-thread scratch buffers, so analysing a document allocates nothing per token, and a
/// memo of recent stems (natural text repeats words, and stemming costs more than a lookup).
#[derive(Default)]
pub struct Scratch {
    token: String,
    porter: PorterStemmer,
    /// lowercased token -> its term, or `None` for a stopword.
    memo: FxMap<Box<str>, Option<Box<str>>>,
}

/// Entries in [`Scratch`]'s memo, at most (bounds memory and keeps lookups in cache).
const MEMO_LIMIT: usize = 1 << 15;

impl Analyzer {
    /// Validates `config` (e.g. the Snowball language name).
    pub fn new(config: &AnalyzerConfig) -> Result<Analyzer> {
        let stopwords = match &config.stopwords {
            Stopwords::LuceneEnglish => stopwords::LUCENE_ENGLISH
                .iter()
                .map(|s| s.to_string())
                .collect(),
            Stopwords::None => FxSet::default(),
            Stopwords::List(words) => words
                .iter()
                .map(|w| {
                    if config.lowercase {
                        lowercase(w)
                    } else {
                        w.clone()
                    }
                })
                .collect(),
        };
        let stemmer = match &config.stemmer {
            Stemmer::Porter => StemmerImpl::Porter,
            Stemmer::None => StemmerImpl::None,
            Stemmer::Snowball(lang) => {
                let wanted = lang.to_ascii_lowercase();
                let algo = SNOWBALL_LANGUAGES
                    .iter()
                    .find(|(name, _)| *name == wanted)
                    .map(|(_, a)| *a)
                    .ok_or_else(|| Error::UnknownLanguage {
                        language: lang.clone(),
                        known: SNOWBALL_LANGUAGES
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?;
                StemmerImpl::Snowball(rust_stemmers::Stemmer::create(algo))
            }
        };
        Ok(Analyzer {
            config: config.clone(),
            stopwords,
            stemmer,
        })
    }

    /// The configuration this analyzer was built from.
    pub fn config(&self) -> &AnalyzerConfig {
        &self.config
    }

    /// The terms of `text`, in order (repeats kept).
    pub fn analyze(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut scratch = Scratch::default();
        self.analyze_with(text, &mut scratch, |t| out.push(t.to_owned()));
        out
    }

    /// Calls `emit` with each term of `text`, reusing `scratch` (the allocation-free path).
    pub fn analyze_with(&self, text: &str, scratch: &mut Scratch, mut emit: impl FnMut(&str)) {
        let Scratch {
            token,
            porter,
            memo,
        } = scratch;
        tokenizer::tokenize(text, |raw| {
            let mut word = raw;
            if self.config.possessive {
                word = strip_possessive(word);
            }
            token.clear();
            if self.config.lowercase {
                lowercase_into(word, token);
            } else {
                token.push_str(word);
            }
            if token.is_empty() {
                return;
            }
            if let StemmerImpl::None = self.stemmer {
                if !self.stopwords.contains(token.as_str()) {
                    emit(token);
                }
                return;
            }
            if let Some(term) = memo.get(token.as_str()) {
                if let Some(term) = term {
                    emit(term);
                }
                return;
            }
            let term: Option<Box<str>> = if self.stopwords.contains(token.as_str()) {
                None
            } else {
                Some(match &self.stemmer {
                    StemmerImpl::Porter => porter.stem(token).into_boxed_str(),
                    StemmerImpl::Snowball(s) => s.stem(token).into(),
                    StemmerImpl::None => unreachable!("handled above"),
                })
            };
            if let Some(t) = &term {
                emit(t);
            }
            // Frequent words show up early (Zipf), so a full memo simply stops growing: it stays
            // small enough to live in cache.
            if memo.len() < MEMO_LIMIT {
                memo.insert(token.as_str().into(), term);
            }
        });
    }
}

/// Lucene `EnglishPossessiveFilter`: drops a trailing `'s`, `’s` or `＇s` (or `S`).
fn strip_possessive(word: &str) -> &str {
    let Some(rest) = word.strip_suffix(['s', 'S']) else {
        return word;
    };
    rest.strip_suffix(['\'', '\u{2019}', '\u{FF07}'])
        .unwrap_or(word)
}

/// Lowercases like Java's `Character.toLowerCase(int)`: one char in, one char out.
fn lowercase_into(word: &str, out: &mut String) {
    if word.is_ascii() {
        let start = out.len();
        out.push_str(word);
        out[start..].make_ascii_lowercase();
    } else {
        out.extend(word.chars().map(|c| c.to_lowercase().next().unwrap_or(c)));
    }
}

fn lowercase(word: &str) -> String {
    let mut s = String::with_capacity(word.len());
    lowercase_into(word, &mut s);
    s
}
