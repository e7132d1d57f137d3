//! Reading qrels and runs the way trec_eval 10.0 does, fast.
//!
//! - Qrels: `qid iter docno rel` (TREC) or BEIR TSV `query-id corpus-id score` (3 columns, header
//!   line detected because its last field is not a number). Lines whose first non-blank character
//!   is `#` are comments; blank lines are skipped. Negative grades mean "in the pool, unjudged".
//! - Runs: `qid iter docno rank sim run_id [anything]`. The rank column is ignored; the run id is
//!   taken from the last line, as trec_eval does. Scores must be finite numbers.
//! - gzip input is detected by its magic bytes; a UTF-8 byte-order mark and CRLF line ends are
//!   accepted.
//!
//! Runs are parsed in parallel chunks and borrow their ids from the file buffer, so a 10M-line
//! run costs one read and no per-line allocation.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};

/// The judgements of one query, sorted by document id (byte order, like `strcmp`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryJudgements {
    pub query_id: String,
    pub docs: Vec<(String, i32)>,
}

impl QueryJudgements {
    /// The grade of `doc`, if judged.
    pub fn grade(&self, doc: &str) -> Option<i32> {
        self.docs
            .binary_search_by(|(d, _)| d.as_str().cmp(doc))
            .ok()
            .map(|i| self.docs[i].1)
    }
}

/// All judgements of a qrels file, sorted by query id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QrelsTable {
    pub queries: Vec<QueryJudgements>,
}

impl QrelsTable {
    pub fn get(&self, query_id: &str) -> Option<&QueryJudgements> {
        self.queries
            .binary_search_by(|q| q.query_id.as_str().cmp(query_id))
            .ok()
            .map(|i| &self.queries[i])
    }

    /// Converts to the shared [`trawl_data::Qrels`] type.
    pub fn to_qrels(&self) -> trawl_data::Qrels {
        let mut out = trawl_data::Qrels::new();
        for q in &self.queries {
            for (d, g) in &q.docs {
                out.insert(q.query_id.clone(), d.clone(), *g);
            }
        }
        out
    }
}

/// A run whose ids borrow from the file text. Queries keep first-seen order.
#[derive(Debug, Clone, Default)]
pub struct RunTable<'a> {
    pub queries: Vec<(&'a str, Vec<(&'a str, f64)>)>,
    /// The run id of the last line (empty for an empty run).
    pub run_id: &'a str,
}

impl<'a> RunTable<'a> {
    /// Index from query id to position in `queries`.
    pub fn index(&self) -> HashMap<&'a str, usize> {
        self.queries
            .iter()
            .enumerate()
            .map(|(i, (q, _))| (*q, i))
            .collect()
    }

    /// Total number of retrieved lines.
    pub fn num_lines(&self) -> usize {
        self.queries.iter().map(|(_, d)| d.len()).sum()
    }
}

/// The text of an input file: memory-mapped when plain (no copy, the page cache is the buffer),
/// decompressed into memory when gzip.
pub enum Text {
    Owned(String),
    Mapped(memmap2::Mmap),
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Text::Owned(s) => s,
            // SAFETY: `read_text` checked these bytes are UTF-8 before wrapping them.
            Text::Mapped(m) => unsafe { std::str::from_utf8_unchecked(m) },
        }
    }
}

fn utf8_error(path: &Path, bytes: &[u8], bad: usize) -> Error {
    let line = 1 + bytes[..bad].iter().filter(|&&b| b == b'\n').count();
    Error::Parse {
        path: path.to_path_buf(),
        line,
        message: "the file is not valid UTF-8; re-encode it as UTF-8".into(),
    }
}

/// Reads a whole file (gzip detected by its magic bytes; `-` is standard input, as in
/// trec_eval) and checks it is UTF-8.
pub fn read_text(path: &Path) -> Result<Text> {
    let io = |e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    };
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().lock().read_to_end(&mut buf).map_err(io)?;
        return String::from_utf8(buf)
            .map(Text::Owned)
            .map_err(|e| utf8_error(path, e.as_bytes(), e.utf8_error().valid_up_to()));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len == 0 {
        return Ok(Text::Owned(String::new()));
    }
    // SAFETY: the map is read-only; as with every mmap-based reader (ripgrep, ...), another
    // process truncating or rewriting the file while we read it is outside our control.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
    if !map.starts_with(&[0x1f, 0x8b]) {
        if let Err(bad) = validate_utf8(&map) {
            return Err(utf8_error(path, &map, bad));
        }
        return Ok(Text::Mapped(map));
    }
    let mut out = Vec::with_capacity(map.len() * 4);
    flate2::read::MultiGzDecoder::new(&map[..])
        .read_to_end(&mut out)
        .map_err(io)?;
    String::from_utf8(out)
        .map(Text::Owned)
        .map_err(|e| utf8_error(path, e.as_bytes(), e.utf8_error().valid_up_to()))
}

/// UTF-8 check in parallel pieces cut after a newline (always a character boundary); the error
/// is the offset of the first bad byte.
fn validate_utf8(bytes: &[u8]) -> std::result::Result<(), usize> {
    let n = if bytes.len() > 1 << 20 {
        rayon::current_num_threads().max(1) * 4
    } else {
        1
    };
    let mut cuts = vec![0];
    for k in 1..n {
        let target = (bytes.len() * k / n).max(*cuts.last().unwrap_or(&0));
        if let Some(p) = memchr::memchr(b'\n', &bytes[target..]) {
            cuts.push(target + p + 1);
        }
    }
    cuts.push(bytes.len());
    cuts.dedup();
    let bad = cuts
        .par_windows(2)
        .filter_map(|w| {
            std::str::from_utf8(&bytes[w[0]..w[1]])
                .err()
                .map(|e| w[0] + e.valid_up_to())
        })
        .min();
    bad.map_or(Ok(()), Err)
}

fn strip_bom(line: &str) -> &str {
    line.strip_prefix('\u{feff}').unwrap_or(line)
}

fn is_comment_or_blank(line: &str) -> bool {
    matches!(line.bytes().find(|&b| !is_space(b)), None | Some(b'#'))
}

/// Parses qrels text (TREC 4-column or BEIR 3-column TSV with header).
pub fn parse_qrels(text: &str, path: &Path) -> Result<QrelsTable> {
    let err = |line: usize, message: String| Error::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut by_query: HashMap<&str, Vec<(String, i32)>> = HashMap::new();
    let mut first = true;
    for (i, raw) in text.split('\n').enumerate() {
        let line = strip_bom(raw);
        if is_comment_or_blank(line) {
            continue;
        }
        let fields: Vec<&str> = fields(line).collect();
        let (qid, doc, grade) = match fields.as_slice() {
            [q, _, d, g] => (*q, *d, *g),
            [q, d, g] => {
                if first && g.parse::<i64>().is_err() {
                    first = false;
                    continue; // BEIR header `query-id corpus-id score`
                }
                (*q, *d, *g)
            }
            _ => {
                return Err(err(
                    i + 1,
                    format!(
                        "expected `qid 0 docid relevance` (4 columns) or BEIR `query-id corpus-id score` (3 columns), found {} column(s)",
                        fields.len()
                    ),
                ))
            }
        };
        first = false;
        let grade: i32 = grade.parse().map_err(|_| {
            err(
                i + 1,
                format!("relevance '{grade}' is not an integer (expected e.g. 0, 1, 2)"),
            )
        })?;
        by_query
            .entry(qid)
            .or_default()
            .push((doc.to_string(), grade));
    }
    let mut queries: Vec<QueryJudgements> = by_query
        .into_iter()
        .map(|(q, mut docs)| {
            docs.sort_by(|a, b| a.0.cmp(&b.0));
            QueryJudgements {
                query_id: q.to_string(),
                docs,
            }
        })
        .collect();
    queries.sort_by(|a, b| a.query_id.cmp(&b.query_id));
    for q in &queries {
        if let Some(w) = q.docs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::Parse {
                path: path.to_path_buf(),
                line: 0,
                message: format!(
                    "query '{}': document '{}' is judged more than once (trec_eval refuses this too)",
                    q.query_id, w[0].0
                ),
            });
        }
    }
    Ok(QrelsTable { queries })
}

/// Reads a qrels file.
pub fn read_qrels(path: &Path) -> Result<QrelsTable> {
    let text = read_text(path)?;
    parse_qrels(&text, path)
}

type Group<'a> = (&'a str, Vec<(&'a str, f64)>);

struct Chunk<'a> {
    groups: Vec<Group<'a>>,
    last_run_id: Option<&'a str>,
}

/// C's `isspace` in the "C" locale: space, \t, \n, \v, \f, \r.
#[inline]
fn is_space(b: u8) -> bool {
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
struct Fields<'a> {
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

fn fields(line: &str) -> Fields<'_> {
    Fields { line, pos: 0 }
}

#[inline]
fn parse_run_line(line: &str) -> std::result::Result<(&str, &str, f64, &str), String> {
    let mut it = fields(line);
    let mut next = || it.next();
    let (Some(qid), Some(_iter), Some(doc), Some(_rank), Some(score), Some(run_id)) =
        (next(), next(), next(), next(), next(), next())
    else {
        let n = fields(line).count();
        return Err(format!(
            "expected 6 columns `qid Q0 docid rank score run_id`, found {n}"
        ));
    };
    let score: f64 =
        parse_score(score).ok_or_else(|| format!("score '{score}' is not a number"))?;
    if !score.is_finite() {
        return Err(format!("score '{score}' is not a finite number"));
    }
    Ok((qid, doc, score, run_id))
}

/// Parses a score. Plain decimals (`-12.345`) with a mantissa below 2^53 and at most 22
/// fraction digits take an exact fast path: both the mantissa and the power of ten are exact
/// doubles, so one IEEE division is correctly rounded and equals `str::parse` (and C's `strtod`).
/// Everything else (exponents, long mantissas, `inf`) goes through `str::parse`.
#[inline]
fn parse_score(s: &str) -> Option<f64> {
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

fn parse_chunk(chunk: &str) -> std::result::Result<Chunk<'_>, (usize, String)> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut last_run_id = None;
    let bytes = chunk.as_bytes();
    let mut start = 0;
    let mut line_index = 0;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |p| start + p);
        let line = strip_bom(&chunk[start..end]);
        start = end + 1;
        line_index += 1;
        if is_comment_or_blank(line) {
            continue;
        }
        let (qid, doc, score, run_id) = parse_run_line(line).map_err(|m| (line_index - 1, m))?;
        last_run_id = Some(run_id);
        match groups.last_mut() {
            Some((q, docs)) if *q == qid => docs.push((doc, score)),
            last => {
                // Runs usually have the same depth for every query: reserve the last one's.
                let cap = last.map_or(16, |(_, d)| d.len());
                let mut docs = Vec::with_capacity(cap);
                docs.push((doc, score));
                groups.push((qid, docs));
            }
        }
    }
    Ok(Chunk {
        groups,
        last_run_id,
    })
}

/// Splits `text` into about `n` pieces at line boundaries.
fn split_lines(text: &str, n: usize) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::with_capacity(n);
    let mut start = 0;
    for k in 1..n {
        let target = text.len() * k / n;
        if target <= start {
            continue;
        }
        match memchr::memchr(b'\n', &bytes[target..]) {
            Some(p) => {
                let end = target + p + 1;
                pieces.push(&text[start..end]);
                start = end;
            }
            None => break,
        }
    }
    pieces.push(&text[start..]);
    pieces
}

/// Parses run text; ids borrow from `text`.
pub fn parse_run<'a>(text: &'a str, path: &Path) -> Result<RunTable<'a>> {
    let pieces = if text.len() > 1 << 20 {
        split_lines(text, rayon::current_num_threads().max(1) * 4)
    } else {
        vec![text]
    };
    let parsed: Vec<std::result::Result<Chunk<'a>, (usize, String)>> =
        pieces.par_iter().map(|p| parse_chunk(p)).collect();
    let mut chunks = Vec::with_capacity(parsed.len());
    for (k, res) in parsed.into_iter().enumerate() {
        match res {
            Ok(c) => chunks.push(c),
            Err((i, message)) => {
                // Line numbers are only needed on error: count the lines of earlier pieces.
                let before: usize = pieces[..k]
                    .iter()
                    .map(|p| memchr::memchr_iter(b'\n', p.as_bytes()).count())
                    .sum();
                return Err(Error::Parse {
                    path: PathBuf::from(path),
                    line: before + i + 1,
                    message,
                });
            }
        }
    }
    let mut index: HashMap<&'a str, usize> = HashMap::new();
    let mut queries: Vec<Group<'a>> = Vec::new();
    let mut run_id = "";
    for chunk in chunks {
        if let Some(r) = chunk.last_run_id {
            run_id = r;
        }
        for (q, docs) in chunk.groups {
            match index.get(q) {
                Some(&i) => queries[i].1.extend(docs),
                None => {
                    index.insert(q, queries.len());
                    queries.push((q, docs));
                }
            }
        }
    }
    Ok(RunTable { queries, run_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qrels_trec_and_beir_forms_agree() {
        let p = Path::new("q");
        let trec = parse_qrels("# c\n1 0 d2 1\r\n1 0 d1 0\n\n2 0 d1 2\n", p).unwrap();
        let beir = parse_qrels(
            "query-id\tcorpus-id\tscore\n1\td2\t1\n1\td1\t0\n2\td1\t2\n",
            p,
        )
        .unwrap();
        assert_eq!(trec, beir);
        assert_eq!(trec.get("1").unwrap().grade("d2"), Some(1));
        assert_eq!(trec.get("1").unwrap().docs[0].0, "d1");
    }

    #[test]
    fn qrels_errors_name_the_line() {
        let e = parse_qrels("1 0 d1 1\n1 0 d2 x\n", Path::new("q.txt")).unwrap_err();
        assert!(e.to_string().starts_with("q.txt:2: relevance 'x'"), "{e}");
        let e = parse_qrels("1 0 d1 1 9 9\n", Path::new("q.txt")).unwrap_err();
        assert!(e.to_string().contains("found 6 column"), "{e}");
        let e = parse_qrels("1 0 d1 1\n1 0 d1 0\n", Path::new("q.txt")).unwrap_err();
        assert!(e.to_string().contains("more than once"), "{e}");
    }

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

    #[test]
    fn utf8_errors_in_large_files_name_the_line() {
        let mut data = Vec::new();
        for i in 0..100_000 {
            data.extend_from_slice(format!("q Q0 d{i} 1 1.0 r\n").as_bytes());
        }
        let line_start = data.len();
        data.extend_from_slice(b"q Q0 \xc3 1 1.0 r\n");
        assert!(data.len() > 1 << 20);
        assert_eq!(validate_utf8(&data), Err(line_start + 5));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big"), &data).unwrap();
        let e = read_text(&dir.path().join("big"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("big:100001: the file is not valid UTF-8"), "{e}");
    }

    #[test]
    fn gzip_and_plain_files_read_the_same() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let text = "1 Q0 a 1 2.5 r\n";
        std::fs::write(dir.path().join("run"), text).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        std::fs::write(dir.path().join("run.gz"), gz.finish().unwrap()).unwrap();
        std::fs::write(dir.path().join("empty"), "").unwrap();
        std::fs::write(dir.path().join("bad"), b"1 Q0 a 1 2.5 r\n1 Q0 \xff 1 1 r\n").unwrap();
        assert_eq!(&*read_text(&dir.path().join("run")).unwrap(), text);
        assert_eq!(&*read_text(&dir.path().join("run.gz")).unwrap(), text);
        assert_eq!(&*read_text(&dir.path().join("empty")).unwrap(), "");
        let e = read_text(&dir.path().join("bad"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.ends_with("bad:2: the file is not valid UTF-8; re-encode it as UTF-8"),
            "{e}"
        );
        assert!(read_text(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn run_keeps_last_run_id_and_ignores_extra_columns() {
        let text = "# x\n1 Q0 a 1 2.5 r1 junk here\n2 Q0 b 1 1 r2\n1 Q0 c 2 1e0 r3\n";
        let run = parse_run(text, Path::new("r")).unwrap();
        assert_eq!(run.run_id, "r3");
        assert_eq!(run.queries[0], ("1", vec![("a", 2.5), ("c", 1.0)]));
        assert_eq!(run.num_lines(), 3);
    }

    #[test]
    fn run_errors_name_the_line_across_chunks() {
        let mut text = String::new();
        for i in 0..200_000 {
            text.push_str(&format!("q{} Q0 d{i} 1 1.0 r\n", i % 7));
        }
        text.push_str("q1 Q0 dx 1 NaN r\n");
        let e = parse_run(&text, Path::new("r")).unwrap_err();
        assert!(e.to_string().starts_with("r:200001: score 'NaN'"), "{e}");
        let e = parse_run("1 Q0 a 1 x r\n", Path::new("r")).unwrap_err();
        assert!(e.to_string().contains("score 'x' is not a number"), "{e}");
        let e = parse_run("1 Q0 a 1\n", Path::new("r")).unwrap_err();
        assert!(e.to_string().contains("expected 6 columns"), "{e}");
    }
}
