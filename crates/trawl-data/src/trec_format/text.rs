//! Reading an input file as text: memory-mapped when plain, decompressed when gzip, `-` for
//! standard input; UTF-8 checked in parallel, errors naming the line.

use std::io::Read;
use std::path::Path;

use rayon::prelude::*;

use crate::error::{Error, Result};

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
pub(crate) fn validate_utf8(bytes: &[u8]) -> std::result::Result<(), usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
