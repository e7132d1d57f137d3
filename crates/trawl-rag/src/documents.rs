//! Retrieved documents as they appear in a retrieval message.

use serde::Serialize;
use trawl_kb::KnowledgeBase;
use trawl_retrieve::RetrievedDoc;

use crate::Result;

/// `{"id", "title", "content", "score"}`: the content is the document's text cut after
/// `max_words` words (the text as stored, up to the end of that word).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RagDocument {
    pub id: String,
    pub title: String,
    pub content: String,
    /// The retriever's f32 score, held as the f64 with the same shortest decimal form so the
    /// JSON shows what `trawl search --json` shows (3.5103142, not 3.5103142261505127).
    pub score: f64,
}

/// The f64 written like `score` (its shortest round-trip decimal form).
pub fn json_score(score: f32) -> f64 {
    score.to_string().parse().unwrap_or(f64::from(score))
}

/// The first `max_words` whitespace-separated words of `text`, as they appear in it (inner
/// whitespace kept), without leading or trailing whitespace.
pub fn first_words(text: &str, max_words: usize) -> &str {
    let text = text.trim();
    let mut words = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        let w = !c.is_whitespace();
        if w && !in_word {
            if words == max_words {
                return text[..i].trim_end();
            }
            words += 1;
        }
        in_word = w;
    }
    text
}

/// The document of a hit, read from the KB.
pub fn rag_document(
    kb: &KnowledgeBase,
    hit: &RetrievedDoc,
    max_words: usize,
) -> Result<RagDocument> {
    let d = kb.document(hit.ordinal)?;
    Ok(RagDocument {
        id: hit.id.to_string(),
        title: d.title.to_string(),
        content: first_words(d.text, max_words).to_string(),
        score: json_score(hit.score),
    })
}

#[cfg(test)]
mod tests {
    use super::first_words;

    #[test]
    fn first_words_keeps_the_text_up_to_the_nth_word() {
        assert_eq!(first_words("  a b\n c  d ", 3), "a b\n c");
        assert_eq!(first_words("a b", 5), "a b");
        assert_eq!(first_words("a b", 0), "");
    }
}
