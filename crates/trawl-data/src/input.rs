//! Opening input files: transparent gzip, whole-file reads for the fast TREC parsers, streaming
//! line reading for corpora, and the line conventions every reader shares.
//!
//! Conventions (all readers):
//! - gzip is detected by its magic bytes (`1f 8b`), so `.gz` files and misnamed compressed files
//!   both work; concatenated gzip members are read in full (`MultiGzDecoder`).
//! - Line ends may be `\n` or `\r\n`: a trailing `\r` is removed from every line.
//! - A UTF-8 byte-order mark (`EF BB BF`) at the start of a line is removed (editors put one at the
//!   start of a file; `cat a b` moves the second one mid-file). It is never part of an id.
//! - Input must be UTF-8: invalid bytes are an error naming the line and byte column.
//! - An empty file is not an error: it yields no records.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

const BOM: &str = "\u{feff}";
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BUF_CAPACITY: usize = 256 * 1024;

/// Opens `path` for buffered reading, decompressing gzip transparently.
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::with_capacity(BUF_CAPACITY, file);
    let head = reader.fill_buf().map_err(|e| Error::io(path, e))?;
    if head.starts_with(&GZIP_MAGIC) {
        let decoder = MultiGzDecoder::new(reader);
        Ok(Box::new(BufReader::with_capacity(BUF_CAPACITY, decoder)))
    } else {
        Ok(Box::new(reader))
    }
}

/// Reads the whole file (decompressed) into memory. Used by the qrels and run parsers, which are
/// fastest on one buffer.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if !data.starts_with(&GZIP_MAGIC) {
        return Ok(data);
    }
    // Text compresses ~4x; cap the guess so a huge file does not reserve absurd memory up front.
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(1 << 30));
    MultiGzDecoder::new(&data[..])
        .read_to_end(&mut out)
        .map_err(|e| Error::io(path, e))?;
    Ok(out)
}

/// Checks that `data` is UTF-8; the error names the first bad line and byte column.
pub fn to_str<'a>(data: &'a [u8], path: &Path) -> Result<&'a str> {
    std::str::from_utf8(data).map_err(|e| {
        let bad = e.valid_up_to();
        let line = 1 + data[..bad].iter().filter(|&&b| b == b'\n').count();
        let line_start = data[..bad]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        invalid_utf8(path, line, bad - line_start + 1, data[bad])
    })
}

fn invalid_utf8(path: &Path, line: usize, column: usize, byte: u8) -> Error {
    Error::parse(
        path,
        line,
        format!(
            "invalid UTF-8 (byte 0x{byte:02x} at column {column}); expected UTF-8 text \
             (convert the file, e.g. `iconv -f latin1 -t utf-8`)"
        ),
    )
}

/// Removes the line conventions above from one raw line: trailing `\r`, leading BOM.
#[inline]
pub fn clean_line(line: &str) -> &str {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.as_bytes().first() == Some(&0xEF) {
        line.strip_prefix(BOM).unwrap_or(line)
    } else {
        line
    }
}

/// The lines of an in-memory text with their 1-based numbers, cleaned by [`clean_line`].
pub fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    // A trailing newline does not start another line.
    let text = text.strip_suffix('\n').unwrap_or(text);
    let empty = text.is_empty();
    text.split('\n')
        .enumerate()
        .filter(move |_| !empty)
        .map(|(i, l)| (i + 1, clean_line(l)))
}

/// Line offset -> line number, for errors found after parsing (e.g. duplicates).
pub fn line_of_offset(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// Streams the lines of a (possibly gzipped) file without holding it in memory.
pub struct LineReader {
    reader: Box<dyn BufRead + Send>,
    path: std::path::PathBuf,
    buf: Vec<u8>,
    line: usize,
    done: bool,
}

impl LineReader {
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self::new(open(path)?, path))
    }

    /// Reads from any buffered source; `path` is only used in error messages.
    pub fn new(reader: Box<dyn BufRead + Send>, path: &Path) -> Self {
        LineReader {
            reader,
            path: path.to_path_buf(),
            buf: Vec::new(),
            line: 0,
            done: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number of the line last returned (1-based).
    pub fn line_number(&self) -> usize {
        self.line
    }

    /// The next line (cleaned), `None` at the end. After a read error it returns `None`.
    pub fn next_line(&mut self) -> Option<Result<(usize, &str)>> {
        if self.done {
            return None;
        }
        self.buf.clear();
        match self.reader.read_until(b'\n', &mut self.buf) {
            Ok(0) => {
                self.done = true;
                None
            }
            Ok(_) => {
                self.line += 1;
                if self.buf.last() == Some(&b'\n') {
                    self.buf.pop();
                }
                match std::str::from_utf8(&self.buf) {
                    Ok(s) => Some(Ok((self.line, clean_line(s)))),
                    Err(e) => {
                        let bad = e.valid_up_to();
                        Some(Err(invalid_utf8(
                            &self.path,
                            self.line,
                            bad + 1,
                            self.buf[bad],
                        )))
                    }
                }
            }
            Err(e) => {
                self.done = true;
                let message = format!("read failed after line {}: {e}", self.line);
                Some(Err(Error::io(
                    &self.path,
                    std::io::Error::new(e.kind(), message),
                )))
            }
        }
    }
}

/// The format-bearing extension of `path`, lower-cased, after removing a `.gz` suffix
/// (`corpus.jsonl.gz` -> `jsonl`).
pub fn format_extension(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let (_, ext) = name.rsplit_once('.')?;
    Some(ext.to_string())
}

/// `s` quoted for an error message, shortened when long.
pub fn quote(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        format!("`{s}`")
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("`{head}…`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_strip_crlf_and_bom_and_number_from_one() {
        let got: Vec<_> = lines("\u{feff}a b\r\nc\n\u{feff}d\r\n").collect();
        assert_eq!(got, vec![(1, "a b"), (2, "c"), (3, "d")]);
    }

    #[test]
    fn empty_text_has_no_lines() {
        assert_eq!(lines("").count(), 0);
        assert_eq!(
            lines("\n\nx").collect::<Vec<_>>(),
            vec![(1, ""), (2, ""), (3, "x")]
        );
    }

    #[test]
    fn invalid_utf8_error_names_line_and_column() {
        let err = to_str(b"ok\nab\xffc\n", Path::new("f.txt")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("f.txt:2: invalid UTF-8 (byte 0xff at column 3)"),
            "{msg}"
        );
    }

    #[test]
    fn format_extension_ignores_gz_and_case() {
        assert_eq!(
            format_extension(Path::new("a/corpus.JSONL.gz")).as_deref(),
            Some("jsonl")
        );
        assert_eq!(format_extension(Path::new("c.tsv")).as_deref(), Some("tsv"));
        assert_eq!(format_extension(Path::new("noext")), None);
    }
}
