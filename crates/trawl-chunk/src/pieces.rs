//! Pieces (the units chunks are made of) and the greedy packing of pieces into chunks.

use unicode_segmentation::UnicodeSegmentation;

use crate::{Boundary, Chunk, ChunkSettings, Measure};

/// A run of the text from `start` to the next piece's start (or the text's end), weighing
/// `weight` words or tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    pub start: usize,
    pub weight: usize,
}

/// Byte offsets where the words (runs of non-whitespace) of `text` start.
fn word_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        let w = !c.is_whitespace();
        if w && !in_word {
            starts.push(i);
        }
        in_word = w;
    }
    starts
}

/// Byte offsets where sentences holding at least one non-whitespace character start.
fn sentence_starts(text: &str) -> Vec<usize> {
    text.split_sentence_bound_indices()
        .filter(|(_, s)| s.chars().any(|c| !c.is_whitespace()))
        .map(|(i, _)| i)
        .collect()
}

/// How many of the sorted `units` lie in `[start, end)`.
fn count_in(units: &[usize], start: usize, end: usize) -> usize {
    units.partition_point(|&u| u < end) - units.partition_point(|&u| u < start)
}

/// The pieces of `text` at the settings' boundary, oversized ones cut at finer boundaries. The
/// first piece starts at 0 (leading whitespace belongs to it); none for a blank text.
pub(crate) fn pieces(text: &str, settings: &ChunkSettings, tokens: Option<&[usize]>) -> Vec<Piece> {
    let words = word_starts(text);
    if words.is_empty() {
        return Vec::new();
    }
    let measure: &[usize] = match (settings.measure, tokens) {
        (Measure::Tokens, Some(t)) => t,
        _ => &words,
    };
    // Coarse to fine: the boundary asked for, then the finer ones an oversized piece falls back to.
    let mut levels: Vec<Vec<usize>> = match settings.by {
        Boundary::Sentence => vec![sentence_starts(text), words.clone()],
        Boundary::Word => vec![words.clone()],
        Boundary::Token => vec![],
    };
    if let Some(t) = tokens {
        levels.push(t.to_vec());
    }
    let mut levels = levels.into_iter();
    let Some(mut starts) = levels.next().filter(|s| !s.is_empty()) else {
        return Vec::new();
    };
    starts[0] = 0;
    let weigh = |starts: &[usize]| -> Vec<Piece> {
        starts
            .iter()
            .enumerate()
            .map(|(i, &s)| Piece {
                start: s,
                weight: count_in(measure, s, starts.get(i + 1).copied().unwrap_or(text.len())),
            })
            .collect()
    };
    let mut pieces = weigh(&starts);
    for finer in levels {
        if pieces.iter().all(|p| p.weight <= settings.size) {
            break;
        }
        let mut refined = Vec::with_capacity(pieces.len());
        for (i, p) in pieces.iter().enumerate() {
            refined.push(p.start);
            if p.weight > settings.size {
                let end = pieces.get(i + 1).map_or(text.len(), |n| n.start);
                refined.extend(finer.iter().copied().filter(|&s| s > p.start && s < end));
            }
        }
        pieces = weigh(&refined);
    }
    pieces
}

/// Packs pieces greedily into chunks of at most `size` (a piece heavier than that alone), each
/// next chunk starting at the earliest piece that repeats at most `overlap` of the previous one
/// and is later than the previous chunk's first piece.
pub(crate) fn pack<'a>(
    text: &'a str,
    pieces: &[Piece],
    settings: &ChunkSettings,
) -> Vec<Chunk<'a>> {
    let n = pieces.len();
    if n == 0 {
        return Vec::new();
    }
    // Character offset of each piece start (pieces ascend, so one pass).
    let mut chars = Vec::with_capacity(n);
    let (mut byte, mut ch) = (0usize, 0usize);
    for p in pieces {
        ch += text[byte..p.start].chars().count();
        byte = p.start;
        chars.push(ch);
    }
    let total_chars = ch + text[byte..].chars().count();
    let bound = |i: usize| -> (usize, usize) {
        if i == n {
            (text.len(), total_chars)
        } else {
            (pieces[i].start, chars[i])
        }
    };
    let mut chunks = Vec::new();
    let mut i = 0;
    loop {
        let mut j = i;
        let mut weight = 0;
        while j < n && (j == i || weight + pieces[j].weight <= settings.size) {
            weight += pieces[j].weight;
            j += 1;
        }
        let ((b0, c0), (b1, c1)) = (bound(i), bound(j));
        chunks.push(Chunk {
            number: chunks.len(),
            bytes: b0..b1,
            char_start: c0,
            char_end: c1,
            text: &text[b0..b1],
        });
        if j == n {
            return chunks;
        }
        let mut next = j;
        let mut repeated = 0;
        while next - 1 > i && repeated + pieces[next - 1].weight <= settings.overlap {
            repeated += pieces[next - 1].weight;
            next -= 1;
        }
        i = next;
    }
}
