//! A fast 64-bit content hash of a corpus (ids, titles, texts and metadata, in order).
//!
//! It identifies a corpus so that a cached knowledge base is reused only for the same input. It
//! is not cryptographic: it guards against accidents (an edited corpus), not against adversaries.
//! Each field is length-prefixed, so moving bytes between fields changes the hash.

use trawl_data::Document;

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Streaming hasher over documents in corpus order.
#[derive(Debug, Clone)]
pub struct CorpusHasher {
    state: u64,
}

impl Default for CorpusHasher {
    fn default() -> Self {
        CorpusHasher {
            state: 0xcbf2_9ce4_8422_2325,
        }
    }
}

impl CorpusHasher {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn mix(&mut self, word: u64) {
        self.state = (self.state.rotate_left(23) ^ word).wrapping_mul(K);
    }

    fn field(&mut self, bytes: &[u8]) {
        self.mix(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w));
        }
    }

    /// Adds one document: id, title, text and its metadata serialised as JSON.
    pub fn add(&mut self, id: &str, title: &str, text: &str, metadata_json: &[u8]) {
        self.field(id.as_bytes());
        self.field(title.as_bytes());
        self.field(text.as_bytes());
        self.field(metadata_json);
    }

    /// Adds a [`Document`].
    pub fn add_document(&mut self, doc: &Document) {
        let meta = metadata_json(doc);
        self.add(&doc.id, &doc.title, &doc.text, &meta);
    }

    /// The hash, finalised (murmur3's fmix64), as 16 lowercase hex digits.
    pub fn finish_hex(&self) -> String {
        let mut h = self.state;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^= h >> 33;
        format!("{h:016x}")
    }
}

/// Metadata as compact JSON bytes; empty (not `{}`) when there is none.
pub(crate) fn metadata_json(doc: &Document) -> Vec<u8> {
    if doc.metadata.is_empty() {
        Vec::new()
    } else {
        // Serialising a Map of Values cannot fail.
        serde_json::to_vec(&doc.metadata).unwrap_or_default()
    }
}

/// The hash of a whole corpus given as documents.
pub fn hash_documents<'a>(docs: impl IntoIterator<Item = &'a Document>) -> String {
    let mut h = CorpusHasher::new();
    for d in docs {
        h.add_document(d);
    }
    h.finish_hex()
}

/// The same 64-bit hash over a file's bytes (read in 1 MiB pieces, each length-prefixed), for
/// inputs that are not document collections: training data, qrels. 16 hex digits.
pub fn hash_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = CorpusHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match f.read(&mut buf[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        h.field(&buf[..filled]);
        if filled < buf.len() {
            return Ok(h.finish_hex());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, title: &str, text: &str) -> Document {
        Document {
            id: id.into(),
            title: title.into(),
            text: text.into(),
            metadata: Default::default(),
        }
    }

    #[test]
    fn same_corpus_same_hash_and_any_change_differs() {
        let a = [doc("1", "t", "hello world"), doc("2", "", "x")];
        let base = hash_documents(&a);
        assert_eq!(base, hash_documents(&a.clone()));
        assert_eq!(base.len(), 16);
        let moved = [doc("1", "th", "ello world"), doc("2", "", "x")];
        let edited = [doc("1", "t", "hello world"), doc("2", "", "y")];
        let reordered = [doc("2", "", "x"), doc("1", "t", "hello world")];
        for other in [&moved[..], &edited[..], &reordered[..]] {
            assert_ne!(base, hash_documents(other));
        }
    }
}
