//! Streaming the articles of a Wikipedia dump: MediaWiki export XML (`pages-articles.xml`,
//! plain or `.bz2`, detected by the `BZh` magic) or plain text, one article per line as
//! `title<TAB>text`. Only main-namespace pages that are not redirects are articles; the others
//! are counted and skipped.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use quick_xml::events::Event;

use crate::error::{Error, Result};

const BUF_CAPACITY: usize = 1 << 20;

/// One article: its title and its raw wikitext (or plain text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Article {
    pub title: String,
    pub text: String,
}

/// Pages seen and why some were skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PageCounts {
    pub pages: u64,
    pub redirects: u64,
    pub other_namespaces: u64,
}

/// Counts the compressed (on-disk) bytes read, for throughput and progress.
struct CountingReader<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

enum Source {
    Xml(Box<quick_xml::Reader<Box<dyn BufRead + Send>>>),
    Text(Box<dyn BufRead + Send>, usize),
}

/// The articles of a dump, in file order.
pub struct ArticleReader {
    path: PathBuf,
    source: Source,
    counts: PageCounts,
    bytes_read: Arc<AtomicU64>,
    done: bool,
    /// Inside `<mediawiki>`: an end of file here means a truncated dump.
    root_open: bool,
}

/// Which element's text is being collected.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    None,
    Title,
    Ns,
    Text,
}

impl ArticleReader {
    /// Opens a dump; the format is told from its first bytes (see the module docs).
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| read_error(path, &e))?;
        let bytes_read = Arc::new(AtomicU64::new(0));
        let counted = CountingReader {
            inner: file,
            read: bytes_read.clone(),
        };
        let mut raw = BufReader::with_capacity(BUF_CAPACITY, counted);
        let head = raw.fill_buf().map_err(|e| read_error(path, &e))?;
        let mut reader: Box<dyn BufRead + Send> = if head.starts_with(b"BZh") {
            Box::new(BufReader::with_capacity(
                BUF_CAPACITY,
                bzip2::read::MultiBzDecoder::new(raw),
            ))
        } else {
            Box::new(raw)
        };
        let head = reader.fill_buf().map_err(|e| read_error(path, &e))?;
        let first = head
            .iter()
            .copied()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0xEF | 0xBB | 0xBF));
        let source = if first == Some(b'<') {
            let mut xml = quick_xml::Reader::from_reader(reader);
            xml.config_mut().trim_text(false);
            Source::Xml(Box::new(xml))
        } else {
            Source::Text(reader, 0)
        };
        Ok(ArticleReader {
            path: path.to_path_buf(),
            source,
            counts: PageCounts::default(),
            bytes_read,
            done: false,
            root_open: false,
        })
    }

    /// Pages seen so far and the reasons some were skipped.
    pub fn counts(&self) -> PageCounts {
        self.counts
    }

    /// Bytes of the file read so far (compressed bytes for `.bz2`).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    fn next_xml(&mut self) -> Result<Option<Article>> {
        let Source::Xml(xml) = &mut self.source else {
            unreachable!("called for XML sources only")
        };
        let mut buf = Vec::new();
        let mut in_page = false;
        let mut field = Field::None;
        let (mut title, mut ns, mut text) = (String::new(), String::new(), String::new());
        let mut redirect = false;
        loop {
            buf.clear();
            let event = xml
                .read_event_into(&mut buf)
                .map_err(|e| xml_error(&self.path, xml.buffer_position(), &e))?;
            match event {
                Event::Start(e) => match e.local_name().as_ref() {
                    b"mediawiki" => self.root_open = true,
                    b"page" => {
                        in_page = true;
                        (title, ns, text, redirect) =
                            (String::new(), String::new(), String::new(), false);
                    }
                    b"title" if in_page => field = Field::Title,
                    b"ns" if in_page => field = Field::Ns,
                    b"text" if in_page => field = Field::Text,
                    b"redirect" if in_page => redirect = true,
                    _ => {}
                },
                Event::Empty(e) if in_page && e.local_name().as_ref() == b"redirect" => {
                    redirect = true;
                }
                Event::Text(t) if field != Field::None => {
                    let s = t
                        .unescape()
                        .map_err(|e| xml_error(&self.path, xml.buffer_position(), &e))?;
                    match field {
                        Field::Title => title.push_str(&s),
                        Field::Ns => ns.push_str(&s),
                        Field::Text => text.push_str(&s),
                        Field::None => {}
                    }
                }
                Event::CData(t) if field == Field::Text => {
                    text.push_str(&String::from_utf8_lossy(&t));
                }
                Event::End(e) => match e.local_name().as_ref() {
                    b"mediawiki" => self.root_open = false,
                    b"title" | b"ns" | b"text" => field = Field::None,
                    b"page" if in_page => {
                        in_page = false;
                        self.counts.pages += 1;
                        if !matches!(ns.trim(), "" | "0")
                            || (ns.is_empty() && has_namespace(&title))
                        {
                            self.counts.other_namespaces += 1;
                        } else if redirect || is_redirect_text(&text) {
                            self.counts.redirects += 1;
                        } else {
                            return Ok(Some(Article {
                                title: std::mem::take(&mut title),
                                text: std::mem::take(&mut text),
                            }));
                        }
                    }
                    _ => {}
                },
                Event::Eof => {
                    if in_page || self.root_open {
                        let inside = if in_page {
                            format!("inside the <page> titled {title:?}")
                        } else {
                            "before `</mediawiki>`".to_string()
                        };
                        return Err(Error::Read {
                            path: self.path.clone(),
                            message: format!(
                                "the dump ends {inside} at byte {} of the decompressed text; \
                                 expected the whole export: the file is truncated, download it \
                                 again",
                                xml.buffer_position()
                            ),
                        });
                    }
                    return Ok(None);
                }
                _ => {}
            }
        }
    }

    fn next_text(&mut self) -> Result<Option<Article>> {
        let Source::Text(reader, line_no) = &mut self.source else {
            unreachable!("called for text sources only")
        };
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader
                .read_line(&mut line)
                .map_err(|e| read_error(&self.path, &e))?;
            if n == 0 {
                return Ok(None);
            }
            *line_no += 1;
            let l = line
                .trim_end_matches(['\n', '\r'])
                .trim_start_matches('\u{feff}');
            if l.trim().is_empty() {
                continue;
            }
            let Some((title, text)) = l.split_once('\t') else {
                return Err(Error::parse(
                    &self.path,
                    *line_no,
                    "expected `title<TAB>text` (plain text: one article per line), found no tab; \
                     or give a MediaWiki XML dump (`<mediawiki ...>`)",
                ));
            };
            self.counts.pages += 1;
            return Ok(Some(Article {
                title: title.trim().to_string(),
                text: text.to_string(),
            }));
        }
    }
}

impl Iterator for ArticleReader {
    type Item = Result<Article>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = match self.source {
            Source::Xml(_) => self.next_xml(),
            Source::Text(..) => self.next_text(),
        };
        match next {
            Ok(Some(a)) => Some(Ok(a)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// `#REDIRECT [[X]]` (any case; some languages localise the word, the `<redirect>` element
/// catches those).
fn is_redirect_text(text: &str) -> bool {
    let t = text.trim_start();
    t.len() >= 9 && t[..9].eq_ignore_ascii_case("#redirect")
}

/// Without an `<ns>` element (old exports): a title with a namespace prefix.
fn has_namespace(title: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "Talk:",
        "User:",
        "User talk:",
        "Wikipedia:",
        "File:",
        "MediaWiki:",
        "Template:",
        "Help:",
        "Category:",
        "Portal:",
        "Draft:",
        "Module:",
        "TimedText:",
    ];
    PREFIXES.iter().any(|p| title.starts_with(p))
}

fn read_error(path: &Path, e: &std::io::Error) -> Error {
    let message = if e.kind() == std::io::ErrorKind::UnexpectedEof || e.to_string().contains("EOF")
    {
        format!(
            "the compressed stream ends early ({e}); the .bz2 file is truncated or damaged: \
             download it again (and check its sha1 against the dump's list)"
        )
    } else if e.kind() == std::io::ErrorKind::InvalidData {
        format!("{e}; the .bz2 data is damaged: download the dump again")
    } else {
        e.to_string()
    };
    Error::Read {
        path: path.to_path_buf(),
        message,
    }
}

fn xml_error(path: &Path, position: u64, e: &quick_xml::Error) -> Error {
    if let quick_xml::Error::Io(io) = e {
        return read_error(path, io);
    }
    Error::Read {
        path: path.to_path_buf(),
        message: format!(
            "malformed XML at byte {position} of the decompressed dump: {e}; expected a \
             MediaWiki export (`<mediawiki><page><title>..</title><ns>0</ns>..<text>..</text>`)"
        ),
    }
}
