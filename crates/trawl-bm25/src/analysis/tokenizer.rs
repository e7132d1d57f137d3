//! Word tokenisation close to Lucene's `StandardTokenizer`: Unicode UAX#29 word boundaries,
//! keeping segments that contain a letter, digit or ideograph.
//!
//! Consequences (as in Lucene): `3.5`, `1,000`, `don't`, `o'neil's`, `e.g`, `snake_case` are one
//! token each; punctuation, spaces and symbols are dropped; each CJK ideograph is its own token.
//! Tokens longer than [`MAX_TOKEN_CHARS`] are split into pieces of that length, like Lucene.
//! Emoji and pictographic symbols (`©`, `®`, `™`, ...) are tokens, as in Lucene since 7.x;
//! superscript/subscript digits and vulgar fractions (`²`, `₂`, `½`) are not, as in Lucene.
//! Known differences: the Unicode version of the boundary tables, the pictographic table is an
//! approximation of `Extended_Pictographic`, and Thai/Lao/Khmer runs are not kept whole.

use unicode_segmentation::UnicodeSegmentation;

/// Lucene's default `maxTokenLength`.
pub const MAX_TOKEN_CHARS: usize = 255;

/// Calls `emit` for every token of `text`, in order.
pub fn tokenize(text: &str, mut emit: impl FnMut(&str)) {
    if text.is_ascii() {
        return tokenize_ascii(text, &mut emit);
    }
    // Words never span ASCII whitespace (UAX#29 WB3a/WB3b/WB4 keep whitespace apart from
    // letters), so pieces between spaces can be tokenised independently: ASCII ones on the
    // fast path, the others with the full Unicode tables.
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        while start < bytes.len() && bytes[start].is_ascii_whitespace() {
            start += 1;
        }
        let mut end = start;
        let mut ascii = true;
        while end < bytes.len() && !bytes[end].is_ascii_whitespace() {
            ascii &= bytes[end].is_ascii();
            end += 1;
        }
        if end > start {
            if ascii {
                tokenize_ascii(&text[start..end], &mut emit);
            } else {
                tokenize_unicode(&text[start..end], &mut emit);
            }
        }
        start = end;
    }
}

fn tokenize_unicode(text: &str, mut emit: impl FnMut(&str)) {
    // Lucene keeps runs of Southeast Asian script (Thai, Lao, Myanmar, Khmer) whole, where the
    // UAX#29 tables split them per character.
    let mut sa_run: Option<(usize, usize)> = None;
    for (start, segment) in text.split_word_bound_indices() {
        if segment.chars().all(is_southeast_asian) {
            let end = start + segment.len();
            sa_run = Some(match sa_run {
                Some((s, _)) => (s, end),
                None => (start, end),
            });
            continue;
        }
        if let Some((s, e)) = sa_run.take() {
            emit_split(&text[s..e], &mut emit);
        }
        if segment.chars().any(is_word_char) {
            emit_split(segment, &mut emit);
        } else if segment.chars().next().is_some_and(is_pictographic) {
            emit(segment);
        }
    }
    if let Some((s, e)) = sa_run {
        emit_split(&text[s..e], &mut emit);
    }
}

/// Letters and marks of Thai, Lao, Myanmar, Khmer, Tai Le/Tai Lue and Tai Tham (Unicode's
/// Line_Break=SA), without their digits and punctuation.
fn is_southeast_asian(c: char) -> bool {
    let u = c as u32;
    matches!(u, 0x0E00..=0x0EFF | 0x1000..=0x109F | 0x1780..=0x17FF | 0x1950..=0x19DF | 0x1A20..=0x1AAF)
        && !matches!(u,
            0x0E3F | 0x0E4F | 0x0E50..=0x0E5B | 0x0ED0..=0x0ED9 | 0x1040..=0x104F
            | 0x1090..=0x1099 | 0x17D4..=0x17DA | 0x17E0..=0x17E9 | 0x19D0..=0x19DA)
}

/// A char that makes a UAX#29 segment a word for Lucene: a letter (ALetter, ideograph, kana,
/// ...) or a decimal digit. Other numerics (`²`, `₂`, `½`, `①`) do not.
fn is_word_char(c: char) -> bool {
    if c.is_alphabetic() {
        return true;
    }
    if !c.is_numeric() {
        return false;
    }
    let u = c as u32;
    !matches!(u,
        0x00B2 | 0x00B3 | 0x00B9 | 0x00BC..=0x00BE | 0x09F4..=0x09F9 | 0x0BF0..=0x0BF2
        | 0x0F2A..=0x0F33 | 0x1369..=0x137C | 0x17F0..=0x17F9 | 0x2070..=0x209F
        | 0x2150..=0x218F | 0x2460..=0x24FF | 0x2776..=0x2793 | 0x2CFD | 0x3192..=0x3195
        | 0x3220..=0x3229 | 0x3248..=0x324F | 0x3251..=0x325F | 0x3280..=0x3289
        | 0x32B1..=0x32BF | 0x10107..=0x10133 | 0x1F100..=0x1F10C)
}

/// Approximately Unicode's `Extended_Pictographic` (emoji and pictographic symbols).
fn is_pictographic(c: char) -> bool {
    matches!(c as u32,
        0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x2194..=0x2199 | 0x21A9..=0x21AA
        | 0x231A..=0x231B | 0x2328 | 0x2388 | 0x23CF | 0x23E9..=0x23F3 | 0x23F8..=0x23FA
        | 0x24C2 | 0x25AA..=0x25AB | 0x25B6 | 0x25C0 | 0x25FB..=0x25FE | 0x2600..=0x2605
        | 0x2607..=0x2612 | 0x2614..=0x2685 | 0x2690..=0x2705 | 0x2708..=0x2712 | 0x2714
        | 0x2716 | 0x271D | 0x2721 | 0x2728 | 0x2733..=0x2734 | 0x2744 | 0x2747 | 0x274C
        | 0x274E | 0x2753..=0x2755 | 0x2757 | 0x2763..=0x2767 | 0x2795..=0x2797 | 0x27A1
        | 0x27B0 | 0x27BF | 0x2934..=0x2935 | 0x2B05..=0x2B07 | 0x2B1B..=0x2B1C | 0x2B50
        | 0x2B55 | 0x3030 | 0x303D | 0x3297 | 0x3299 | 0x1F000..=0x1F0FF | 0x1F10D..=0x1F10F
        | 0x1F12F | 0x1F16C..=0x1F171 | 0x1F17E..=0x1F17F | 0x1F18E | 0x1F191..=0x1F19A
        | 0x1F1AD..=0x1F1E5 | 0x1F201..=0x1F20F | 0x1F21A | 0x1F22F | 0x1F232..=0x1F23A
        | 0x1F23C..=0x1F23F | 0x1F249..=0x1F3FA | 0x1F400..=0x1F53D | 0x1F546..=0x1F64F
        | 0x1F680..=0x1F6FF | 0x1F774..=0x1F77F | 0x1F7D5..=0x1F7FF | 0x1F80C..=0x1F80F
        | 0x1F848..=0x1F84F | 0x1F85A..=0x1F85F | 0x1F888..=0x1F88F | 0x1F8AE..=0x1F8FF
        | 0x1F90C..=0x1F93A | 0x1F93C..=0x1F945 | 0x1F947..=0x1FAFF | 0x1FC00..=0x1FFFD)
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

const fn class_of(b: u8) -> Class {
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

const CLASSES: [Class; 256] = {
    let mut t = [Class::Other; 256];
    let mut i = 0;
    while i < 128 {
        t[i] = class_of(i as u8);
        i += 1;
    }
    t
};

#[inline]
fn class(b: u8) -> Class {
    CLASSES[b as usize]
}

/// The same UAX#29 rules (WB5-WB13b) specialised to ASCII, without the table lookups.
fn tokenize_ascii(text: &str, emit: &mut impl FnMut(&str)) {
    let s = text.as_bytes();
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
            emit_split(&text[start..i], emit);
        }
    }
}
