//! Chunking: coverage of every character, stable ids, sizes and overlaps, bad settings.

use proptest::prelude::*;
use trawl_chunk::{Boundary, ChunkSettings, Chunker, Error, Measure, Tokenize};
use trawl_data::Document;

fn words(by: Boundary, size: usize, overlap: usize) -> Chunker {
    Chunker::new(
        ChunkSettings {
            by,
            measure: Measure::Words,
            size,
            overlap,
        },
        None,
    )
    .unwrap()
}

/// A stand-in tokenizer: every run of up to 3 non-space characters is a token.
struct Trigrams;
impl Tokenize for Trigrams {
    fn token_starts(&self, text: &str) -> trawl_chunk::Result<Vec<usize>> {
        let mut out = Vec::new();
        let mut run = 0;
        for (i, c) in text.char_indices() {
            if c.is_whitespace() {
                run = 0;
            } else {
                if run % 3 == 0 {
                    out.push(i);
                }
                run += 1;
            }
        }
        Ok(out)
    }
}

/// The invariants every chunking must keep, checked on one text.
fn check_cover(text: &str, chunker: &Chunker) {
    let chunks = chunker.split(text);
    if text.trim().is_empty() {
        assert!(chunks.is_empty());
        return;
    }
    let chars: Vec<char> = text.chars().collect();
    assert_eq!(chunks[0].char_start, 0, "first chunk starts at 0");
    assert_eq!(
        chunks.last().unwrap().char_end,
        chars.len(),
        "last chunk ends at the end"
    );
    for (n, c) in chunks.iter().enumerate() {
        assert_eq!(c.number, n);
        assert_eq!(c.text, &text[c.bytes.clone()]);
        let slice: String = chars[c.char_start..c.char_end].iter().collect();
        assert_eq!(slice, c.text, "character offsets match the text");
        assert!(c.char_end > c.char_start);
    }
    for w in chunks.windows(2) {
        assert!(w[1].char_start > w[0].char_start, "chunks advance");
        assert!(w[1].char_start <= w[0].char_end, "no character is skipped");
    }
}

fn text_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-zé]{1,9}",
            Just(" ".to_string()),
            Just(". ".to_string()),
            Just("\n\n".to_string()),
            Just("Ünïcödé".to_string()),
            Just("?! ".to_string()),
        ],
        0..120,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn chunks_cover_every_character_in_order(
        text in text_strategy(),
        size in 1usize..12,
        overlap_frac in 0usize..100,
        by in prop_oneof![Just(Boundary::Word), Just(Boundary::Sentence), Just(Boundary::Token)],
        tokens in any::<bool>(),
    ) {
        let overlap = overlap_frac * size / 100;
        let (measure, tok): (Measure, Option<Box<dyn Tokenize>>) = if tokens || by == Boundary::Token {
            (Measure::Tokens, Some(Box::new(Trigrams)))
        } else {
            (Measure::Words, None)
        };
        let chunker = Chunker::new(ChunkSettings { by, measure, size, overlap }, tok).unwrap();
        check_cover(&text, &chunker);
    }
}

#[test]
fn word_chunks_hold_at_most_size_words_and_repeat_the_overlap() {
    let text: Vec<String> = (0..23).map(|i| format!("w{i}")).collect();
    let text = text.join(" ");
    let chunks = words(Boundary::Word, 10, 3).split(&text);
    let counts: Vec<usize> = chunks
        .iter()
        .map(|c| c.text.split_whitespace().count())
        .collect();
    // 0-9, 7-16, 14-22: each next chunk repeats the last 3 words.
    assert_eq!(counts, [10, 10, 9]);
    assert!(chunks[1].text.starts_with("w7 "));
    assert!(chunks[2].text.starts_with("w14 "));
    assert!(chunks[2].text.ends_with("w22"));
}

#[test]
fn sentence_chunks_keep_sentences_whole_and_cut_long_ones_between_words() {
    let text = "One two three. Four five six. Seven eight nine ten eleven twelve thirteen. End.";
    let chunks = words(Boundary::Sentence, 6, 0).split(text);
    let texts: Vec<&str> = chunks.iter().map(|c| c.text).collect();
    assert_eq!(
        texts,
        [
            "One two three. Four five six. ",
            "Seven eight nine ten eleven twelve ",
            "thirteen. End."
        ]
    );
}

#[test]
fn token_sizes_count_tokens_not_words() {
    // "abcdefghi" is 3 trigram tokens: with 4 tokens per chunk it goes with one more word.
    let chunker = Chunker::new(
        ChunkSettings {
            by: Boundary::Word,
            measure: Measure::Tokens,
            size: 4,
            overlap: 0,
        },
        Some(Box::new(Trigrams)),
    )
    .unwrap();
    let texts: Vec<&str> = chunker
        .split("abcdefghi x yy zzzz")
        .iter()
        .map(|c| c.text)
        .collect();
    assert_eq!(texts, ["abcdefghi x ", "yy zzzz"]);
}

#[test]
fn chunk_documents_have_stable_ids_offsets_title_and_parent() {
    let mut doc = Document {
        id: "doc7".into(),
        title: "A title".into(),
        text: "alpha beta gamma delta epsilon".into(),
        ..Default::default()
    };
    doc.metadata.insert("source".into(), "x".into());
    let chunker = words(Boundary::Word, 2, 0);
    let a = chunker.chunk_document(&doc).unwrap();
    let b = chunker.chunk_document(&doc).unwrap();
    assert_eq!(a, b, "same input and settings, same chunks");
    let ids: Vec<&str> = a.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["doc7#0", "doc7#1", "doc7#2"]);
    assert!(a.iter().all(|d| d.title == "A title"));
    assert_eq!(a[1].text, "gamma delta ");
    assert_eq!(a[1].metadata["parent_id"], "doc7");
    assert_eq!(a[1].metadata["chunk"], 1);
    assert_eq!(a[1].metadata["char_start"], 11);
    assert_eq!(a[1].metadata["char_end"], 23);
    assert_eq!(a[1].metadata["source"], "x");
    assert_eq!(trawl_chunk::parent_id(&a[2].id), "doc7");
}

#[test]
fn bad_settings_and_empty_documents_are_named_errors() {
    let s = |size, overlap| ChunkSettings {
        by: Boundary::Word,
        measure: Measure::Words,
        size,
        overlap,
    };
    let msg = |e: Error| e.to_string();
    let e = msg(Chunker::new(s(0, 0), None).err().unwrap());
    assert!(e.contains("chunk size is 0"), "{e}");
    let e = msg(Chunker::new(s(5, 5), None).err().unwrap());
    assert!(
        e.contains("overlap (5 words) must be smaller than the chunk size (5 words)"),
        "{e}"
    );
    let tokens = ChunkSettings {
        measure: Measure::Tokens,
        ..s(5, 0)
    };
    let e = msg(Chunker::new(tokens, None).err().unwrap());
    assert!(e.contains("needs a tokenizer"), "{e}");
    let doc = Document {
        id: "blank".into(),
        title: "t".into(),
        text: " \n\t".into(),
        ..Default::default()
    };
    let e = msg(words(Boundary::Word, 5, 0)
        .chunk_document(&doc)
        .unwrap_err());
    assert!(e.contains("\"blank\" has no text to chunk"), "{e}");
}
