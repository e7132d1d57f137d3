//! Stopword sets.

/// Lucene's `EnglishAnalyzer.ENGLISH_STOP_WORDS_SET` (the 33 words Pyserini/Anserini use).
pub const LUCENE_ENGLISH: [&str; 33] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];
