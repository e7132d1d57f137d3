//! BM25 variants and their parameters.
//!
//! Notation: `N` documents, `df` documents containing the term, `tf` its count in the document,
//! `dl` the document length (terms after analysis), `avgdl` the mean length.
//!
//! | method    | idf                                | term-frequency part                                    |
//! |-----------|------------------------------------|--------------------------------------------------------|
//! | Lucene    | ln(1 + (N - df + .5)/(df + .5))    | tf / (tf + k1·(1 - b + b·dl/avgdl)), dl lossy (1 byte) |
//! | Robertson | ln((N - df + .5)/(df + .5)), ≥ 0   | tf / (tf + k1·(1 - b + b·dl/avgdl))                    |
//! | ATIRE     | ln(N / df)                         | tf·(k1+1) / (tf + k1·(1 - b + b·dl/avgdl))             |
//! | BM25L     | ln((N + 1)/(df + .5))              | (k1+1)(c+δ)/(k1+c+δ), c = tf/(1 - b + b·dl/avgdl)      |
//! | BM25+     | ln((N + 1)/df)                     | tf·(k1+1)/(tf + k1·(1 - b + b·dl/avgdl)) + δ           |
//!
//! Lucene follows Lucene 9's `BM25Similarity` (as Pyserini): no (k1+1) factor, `N` and `avgdl`
//! over documents with at least one term, float arithmetic in Lucene's order. The others follow
//! bm25s's definitions; for BM25L and BM25+ a term absent from a document still contributes
//! `idf·tfc(0)`, which is the same for every document and is added to each hit's score.

use serde::{Deserialize, Serialize};

use crate::smallfloat::lucene_length;
use crate::{Error, Result};

/// The BM25 variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Bm25Method {
    /// Lucene 9 / Pyserini (default).
    #[default]
    Lucene,
    /// Robertson et al. (non-negative idf).
    Robertson,
    /// ATIRE (Trotman et al.).
    Atire,
    /// BM25L (Lv & Zhai), uses `delta`.
    Bm25L,
    /// BM25+ (Lv & Zhai), uses `delta`.
    Bm25Plus,
}

impl std::str::FromStr for Bm25Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "lucene" => Bm25Method::Lucene,
            "robertson" => Bm25Method::Robertson,
            "atire" => Bm25Method::Atire,
            "bm25l" => Bm25Method::Bm25L,
            "bm25+" | "bm25plus" => Bm25Method::Bm25Plus,
            other => {
                return Err(Error::InvalidParams(format!(
                    "unknown method `{other}` (expected lucene, robertson, atire, bm25l or bm25+)"
                )))
            }
        })
    }
}

/// BM25 parameters. Defaults: Lucene, k1 = 0.9, b = 0.4, delta = 0.5 (Pyserini's BEIR runs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bm25Params {
    pub method: Bm25Method,
    pub k1: f32,
    pub b: f32,
    /// Used by BM25L and BM25+ only.
    pub delta: f32,
}

impl Default for Bm25Params {
    fn default() -> Self {
        Bm25Params {
            method: Bm25Method::Lucene,
            k1: 0.9,
            b: 0.4,
            delta: 0.5,
        }
    }
}

impl Bm25Params {
    /// Rejects values that make scores meaningless (negative k1, b outside [0, 1], ...).
    pub fn validate(&self) -> Result<()> {
        if !(self.k1.is_finite() && self.k1 >= 0.0) {
            return Err(Error::InvalidParams(format!(
                "k1 = {} must be >= 0",
                self.k1
            )));
        }
        if !(self.b.is_finite() && (0.0..=1.0).contains(&self.b)) {
            return Err(Error::InvalidParams(format!(
                "b = {} must be in [0, 1]",
                self.b
            )));
        }
        if !(self.delta.is_finite() && self.delta >= 0.0) {
            return Err(Error::InvalidParams(format!(
                "delta = {} must be >= 0",
                self.delta
            )));
        }
        Ok(())
    }
}

/// Collection statistics the scores depend on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CollectionStats {
    /// Documents, all of them (bm25s's N).
    pub num_docs: u64,
    /// Documents with at least one term (Lucene's docCount).
    pub docs_with_terms: u64,
    /// Sum of all document lengths.
    pub total_terms: u64,
}

/// Precomputed scoring for one index: `posting_score(term idf, tf, doc)`.
pub(crate) struct Scorer {
    params: Bm25Params,
    n: f64,
    avgdl: f32,
    /// Lucene: 1 / (k1 (1 - b + b·len/avgdl)) for each of the 256 encoded lengths.
    lucene_cache: [f32; 256],
}

impl Scorer {
    pub fn new(params: Bm25Params, stats: CollectionStats) -> Scorer {
        let (n, avgdl) = match params.method {
            Bm25Method::Lucene => {
                let n = stats.docs_with_terms.max(1) as f64;
                (n, (stats.total_terms as f64 / n) as f32)
            }
            _ => {
                let n = stats.num_docs.max(1) as f64;
                (n, (stats.total_terms as f64 / n) as f32)
            }
        };
        let avgdl = if avgdl > 0.0 { avgdl } else { 1.0 };
        let mut lucene_cache = [0f32; 256];
        for (i, c) in lucene_cache.iter_mut().enumerate() {
            let len = crate::smallfloat::byte4_to_int(i as u8) as f32;
            *c = 1.0 / (params.k1 * ((1.0 - params.b) + params.b * len / avgdl));
        }
        Scorer {
            params,
            n,
            avgdl,
            lucene_cache,
        }
    }

    pub fn avgdl(&self) -> f32 {
        self.avgdl
    }

    pub fn method(&self) -> Bm25Method {
        self.params.method
    }

    /// Lucene's 1 / (k1 (1 - b + b·len/avgdl)) for each of the 256 encoded lengths.
    #[inline]
    pub fn lucene_cache(&self) -> &[f32; 256] {
        &self.lucene_cache
    }

    /// idf of a term with document frequency `df`.
    pub fn idf(&self, df: u64) -> f32 {
        let n = self.n;
        let df = df as f64;
        let v = match self.params.method {
            Bm25Method::Lucene => (1.0 + (n - df + 0.5) / (df + 0.5)).ln(),
            Bm25Method::Robertson => ((n - df + 0.5) / (df + 0.5)).max(1.0).ln(),
            Bm25Method::Atire => (n / df).ln(),
            Bm25Method::Bm25L => ((n + 1.0) / (df + 0.5)).ln(),
            Bm25Method::Bm25Plus => ((n + 1.0) / df).ln(),
        };
        v as f32
    }

    /// The term-frequency part for `tf` in a document of length `dl`.
    fn tfc(&self, tf: f32, dl: u32) -> f32 {
        let Bm25Params { k1, b, delta, .. } = self.params;
        let norm = 1.0 - b + b * dl as f32 / self.avgdl;
        match self.params.method {
            Bm25Method::Lucene => unreachable!("Lucene scores through its norm cache"),
            Bm25Method::Robertson => tf / (k1 * norm + tf),
            Bm25Method::Atire => tf * (k1 + 1.0) / (tf + k1 * norm),
            Bm25Method::Bm25L => {
                let c = tf / norm;
                (k1 + 1.0) * (c + delta) / (k1 + c + delta)
            }
            Bm25Method::Bm25Plus => (k1 + 1.0) * tf / (k1 * norm + tf) + delta,
        }
    }

    /// Score contributed by one posting, minus [`Scorer::absent_score`].
    pub fn posting_score(&self, idf: f32, tf: u32, dl: u32) -> f32 {
        match self.params.method {
            Bm25Method::Lucene => self.lucene_score(idf, tf, crate::smallfloat::int_to_byte4(dl)),
            _ => idf * self.tfc(tf as f32, dl) - self.absent_score(idf),
        }
    }

    /// Lucene's score from the one-byte length norm (the same value as
    /// [`Scorer::posting_score`] for a document whose length encodes to `norm`).
    #[inline]
    pub fn lucene_score(&self, idf: f32, tf: u32, norm: u8) -> f32 {
        // Lucene 9 BM25Scorer.score: weight - weight / (1 + freq * normInverse).
        let norm_inverse = self.lucene_cache[norm as usize];
        idf - idf / (1.0 + tf as f32 * norm_inverse)
    }

    /// Score of a term absent from a document (non-zero only for BM25L and BM25+).
    pub fn absent_score(&self, idf: f32) -> f32 {
        match self.params.method {
            Bm25Method::Bm25L | Bm25Method::Bm25Plus => idf * self.tfc(0.0, 1),
            _ => 0.0,
        }
    }
}

/// The document length Lucene's scoring sees (exposed for tests and diagnostics).
pub fn lucene_doc_length(len: u32) -> u32 {
    lucene_length(len)
}
