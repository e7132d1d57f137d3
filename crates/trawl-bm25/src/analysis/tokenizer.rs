//! Word tokenisation close to Lucene's `StandardTokenizer`: Unicode UAX#29 word boundaries,
//! keeping segments that contain a letter, digit or ideograph.
//!
//! Consequences (as in Lucene): `3.5`, `1,000`, `don't`, `o'neil's`, `e.g`, `snake_case` are one
//! token each; punctuation, spaces and symbols are dropped; each CJK ideograph is its own token.
//! Tokens longer than [`MAX_TOKEN_CHARS`] are split into pieces of that length, like Lucene.
//! Known differences from Lucene: emoji are dropped (Lucene emits them), and the Unicode version
//! of the boundary tables differs.

use unicode_segmentation::UnicodeSegmentation;

/// Lucene's default `maxTokenLength`.
pub const MAX_TOKEN_CHARS: usize = 255;

/// Calls `emit` for every token of `text`, in order.
pub fn tokenize(text: &str, mut emit: impl FnMut(&str)) {
    if text.is_ascii() {
        return tokenize_ascii(text.as_bytes(), &mut emit);
    }
    for word in text.unicode_words() {
        emit_split(word, &mut emit);
    }
}

fn emit_split(word: &str, emit: &mut impl FnMut(&str)) {
    if word.len() <= MAX_TOKEN_CHARS {
        emit(word); // byte length bounds char length
        return;
    }
    let mut start = 0;
    let mut count = 0;
    for (i, _) in word.char_indices() {
        if count == MAX_TOKEN_CHARS {
            emit(&word[start..i]);
            start = i;
            count = 0;
        }
        count += 1;
    }
    emit(&word[start..]);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    /// `_` (ExtendNumLet): joins anything word-like on both sides.
    Underscore,
    /// `:` (MidLetter): joins letters only.
    MidLetter,
    /// `,` `;` (MidNum): joins digits only.
    MidNum,
    /// `.` and `'` (MidNumLet / Single_Quote): joins letters with letters, digits with digits.
    MidNumLet,
    Other,
}

fn class(b: u8) -> Class {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' => Class::Letter,
        b'0'..=b'9' => Class::Digit,
        b'_' => Class::Underscore,
        b':' => Class::MidLetter,
        b',' | b';' => Class::MidNum,
        b'.' | b'\'' => Class::MidNumLet,
        _ => Class::Other,
    }
}

/// The same UAX#29 rules (WB5-WB13b) specialised to ASCII, without the table lookups.
fn tokenize_ascii(s: &[u8], emit: &mut impl FnMut(&str)) {
    let n = s.len();
    let mut i = 0;
    while i < n {
        let c = class(s[i]);
        if !matches!(c, Class::Letter | Class::Digit | Class::Underscore) {
            i += 1;
            continue;
        }
        let start = i;
        let mut has_alnum = c != Class::Underscore;
        let mut prev = c;
        i += 1;
        while i < n {
            let cur = class(s[i]);
            match cur {
                // WB5, WB8, WB9, WB10, WB13a, WB13b: word chars and underscores chain.
                Class::Letter | Class::Digit | Class::Underscore => {
                    has_alnum |= cur != Class::Underscore;
                    prev = cur;
                    i += 1;
                }
                Class::MidLetter | Class::MidNum | Class::MidNumLet => {
                    // WB6/7 (letter mid letter), WB11/12 (digit mid digit).
                    let next = if i + 1 < n {
                        class(s[i + 1])
                    } else {
                        Class::Other
                    };
                    let joins = matches!(
                        (prev, cur, next),
                        (
                            Class::Letter,
                            Class::MidLetter | Class::MidNumLet,
                            Class::Letter
                        ) | (Class::Digit, Class::MidNum | Class::MidNumLet, Class::Digit)
                    );
                    if !joins {
                        break;
                    }
                    prev = next;
                    i += 2;
                }
                Class::Other => break,
            }
        }
        if has_alnum {
            // ASCII: byte offsets are char boundaries.
            let word = std::str::from_utf8(&s[start..i]).expect("ASCII is UTF-8");
            emit_split(word, emit);
        }
    }
}
