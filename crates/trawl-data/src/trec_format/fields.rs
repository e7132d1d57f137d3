//! Splitting lines into fields and parsing scores exactly as trec_eval's C code does (`isspace`
//! separators, correctly rounded decimal scores), fast.

/// C's `isspace` in the "C" locale: space, \t, \n, \v, \f, \r.
#[inline]
pub(crate) fn is_space(b: u8) -> bool {
    b == b' ' || (b'\t'..=b'\r').contains(&b)
}

/// Index of the first byte at or after `i` that is `isspace`, or `b.len()`. Eight bytes at a
/// time: the SWAR test flags bytes below 0x21 (exact for the lowest flagged byte; bytes >= 0x80
/// are never flagged), then the flagged byte is checked against `isspace`.
#[inline]
fn next_space(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while i + 8 <= b.len() {
        let mut chunk = [0u8; 8];
        chunk.copy_from_slice(&b[i..i + 8]);
        let x = u64::from_le_bytes(chunk);
        let flagged = x.wrapping_sub(ONES * 0x21) & !x & HIGH;
        if flagged == 0 {
            i += 8;
            continue;
        }
        let j = i + (flagged.trailing_zeros() / 8) as usize;
        if is_space(b[j]) {
            return j;
        }
        // A control character inside an id: not a separator, keep going.
        i = j + 1;
    }
    while i < b.len() && !is_space(b[i]) {
        i += 1;
    }
    i
}

/// Whitespace-separated fields of a line, as trec_eval splits them (`isspace`).
pub(crate) struct Fields<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let b = self.line.as_bytes();
        let mut i = self.pos;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i == b.len() {
            self.pos = i;
            return None;
        }
        let start = i;
        i = next_space(b, i);
        self.pos = i;
        // Separators are ASCII, so both ends are char boundaries.
        Some(&self.line[start..i])
    }
}

pub(crate) fn fields(line: &str) -> Fields<'_> {
    Fields { line, pos: 0 }
}

/// Parses a score. Plain decimals (`-12.345`) with a mantissa below 2^53 and at most 22
/// fraction digits take an exact fast path: both the mantissa and the power of ten are exact
/// doubles, so one IEEE division is correctly rounded and equals `str::parse` (and C's `strtod`).
/// Everything else (exponents, long mantissas, `inf`) goes through `str::parse`.
#[inline]
pub(crate) fn parse_score(s: &str) -> Option<f64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let b = s.as_bytes();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let (mut mant, mut frac, mut count, mut dot) = (0u64, 0usize, 0usize, false);
    for &c in digits {
        match c {
            b'0'..=b'9' if count < 19 => {
                mant = mant * 10 + u64::from(c - b'0');
                count += 1;
                frac += usize::from(dot);
            }
            b'.' if !dot => dot = true,
            _ => return s.parse().ok(),
        }
    }
    if count == 0 || mant >= 1 << 53 || frac > 22 {
        return s.parse().ok();
    }
    let v = mant as f64 / POW10[frac];
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_splitting_matches_c_isspace() {
        let lines = [
            "a b",
            "  q1\tQ0  doc-123456789012345 1 2.5 run\r",
            "\u{feff}x\x0by\x0cz",
            "id\x01with\x02controls next",
            "ééééééééé ü",
            "12345678 12345678 123456789",
            "",
            "   ",
        ];
        for line in lines {
            let want: Vec<&str> = line
                .split(|c: char| c.is_ascii() && is_space(c as u8))
                .filter(|f| !f.is_empty())
                .collect();
            let got: Vec<&str> = fields(line).collect();
            assert_eq!(got, want, "{line:?}");
        }
    }

    #[test]
    fn fast_score_parser_equals_str_parse_bit_for_bit() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut cases: Vec<String> = [
            "0",
            "-0.0",
            "1.",
            ".5",
            "+3.25",
            "0.1",
            "0.3",
            "123456789012345678",
            "9007199254740993",
            "1e5",
            "-2.5E-3",
            "inf",
            "0.0000000000000000000000001",
            "12345678901234567890.5",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..20_000 {
            let v: f64 = rng.random::<f64>() * 10f64.powi(rng.random_range(-6..8));
            let digits = rng.random_range(0..18);
            cases.push(format!("{v:.digits$}"));
            cases.push(format!("-{v:.digits$}"));
        }
        for c in &cases {
            let want: Option<f64> = c.parse().ok();
            let got = parse_score(c);
            assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{c}");
        }
        for bad in ["", "-", ".", "1.2.3", "12a", "--1"] {
            assert_eq!(parse_score(bad), None, "{bad}");
        }
    }
}
