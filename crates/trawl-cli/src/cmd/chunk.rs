//! `trawl chunk DOCS --out CHUNKS`: cut documents into passages (JSONL, one chunk a line), and
//! the chunking options `kb build --chunk` and `beir --chunk` share.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use anyhow::Context;
use trawl_chunk::{Boundary, ChunkSettings, Chunker, Measure};
use trawl_data::Document;
use trawl_kb::{ChunkManifest, CorpusHasher};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByArg {
    Sentence,
    Word,
    Token,
}

/// How to cut documents into chunks.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ChunkArgs {
    /// Chunk size in words (the default: 200).
    #[arg(long, conflicts_with = "max_tokens")]
    pub max_words: Option<usize>,
    /// Chunk size in tokens of --tokenizer.
    #[arg(long, requires = "tokenizer")]
    pub max_tokens: Option<usize>,
    /// Tokenizer for --max-tokens / --by token: a model folder (or hub id in a local cache) or a
    /// tokenizer.json file.
    #[arg(long, value_name = "MODEL")]
    pub tokenizer: Option<String>,
    /// Words (or tokens) the next chunk repeats from the end of the previous one.
    #[arg(long, default_value_t = 0)]
    pub overlap: usize,
    /// Where chunks may be cut (default: word; token with --max-tokens). Long sentences are cut
    /// between words.
    #[arg(long, value_enum)]
    pub by: Option<ByArg>,
    /// Leave out documents with no text (default: an error naming the document).
    #[arg(long)]
    pub skip_empty: bool,
}

impl ChunkArgs {
    /// Whether any chunking option was given (they need `--chunk` on `kb build` and `beir`).
    pub fn any_given(&self) -> bool {
        self.max_words.is_some()
            || self.max_tokens.is_some()
            || self.tokenizer.is_some()
            || self.overlap != 0
            || self.by.is_some()
            || self.skip_empty
    }

    pub fn settings(&self) -> ChunkSettings {
        let (measure, size) = match self.max_tokens {
            Some(n) => (Measure::Tokens, n),
            None => (Measure::Words, self.max_words.unwrap_or(200)),
        };
        let by = match (self.by, measure) {
            (Some(ByArg::Sentence), _) => Boundary::Sentence,
            (Some(ByArg::Word), _) | (None, Measure::Words) => Boundary::Word,
            (Some(ByArg::Token), _) | (None, Measure::Tokens) => Boundary::Token,
        };
        ChunkSettings {
            by,
            measure,
            size,
            overlap: self.overlap,
        }
    }

    /// The chunker these options describe (loading the tokenizer when tokens are counted).
    pub fn chunker(&self) -> anyhow::Result<Chunker> {
        let settings = self.settings();
        settings.validate()?;
        let needs_tokens = settings.measure == Measure::Tokens || settings.by == Boundary::Token;
        let tokenizer = match (&self.tokenizer, needs_tokens) {
            (Some(name), true) => Some(load_tokenizer(name)?),
            (None, true) => anyhow::bail!("--by token needs --max-tokens N --tokenizer MODEL"),
            _ => None,
        };
        Ok(Chunker::new(settings, tokenizer)?)
    }

    /// The manifest section of a KB built from these chunks.
    pub fn manifest(&self, parents: &ParentCount) -> ChunkManifest {
        let s = self.settings();
        ChunkManifest {
            by: match s.by {
                Boundary::Sentence => "sentence",
                Boundary::Word => "word",
                Boundary::Token => "token",
            }
            .into(),
            measure: match s.measure {
                Measure::Words => "words",
                Measure::Tokens => "tokens",
            }
            .into(),
            size: s.size,
            overlap: s.overlap,
            tokenizer: (s.measure == Measure::Tokens || s.by == Boundary::Token)
                .then(|| self.tokenizer.as_deref().map(super::kb::recorded_model))
                .flatten(),
            num_parents: parents.count,
            parents_hash: parents.hasher.finish_hex(),
        }
    }
}

#[cfg(feature = "dense")]
fn load_tokenizer(name: &str) -> anyhow::Result<Box<dyn trawl_chunk::Tokenize>> {
    let path = if Path::new(name).exists() {
        PathBuf::from(name)
    } else {
        trawl_embed::resolve_model_dir(name)
            .with_context(|| format!("--tokenizer {name}: not a file or model folder"))?
    };
    Ok(Box::new(trawl_chunk::HfTokenizer::load(&path)?))
}

#[cfg(not(feature = "dense"))]
fn load_tokenizer(_name: &str) -> anyhow::Result<Box<dyn trawl_chunk::Tokenize>> {
    anyhow::bail!(
        "token-based chunking is not available: this trawl was built without the `dense` feature; use --max-words or rebuild with default features"
    )
}

/// The parents seen while chunking: how many and their corpus hash.
#[derive(Default)]
pub struct ParentCount {
    pub count: u64,
    pub skipped_empty: u64,
    pub hasher: CorpusHasher,
}

/// Streams the chunks of the documents at `docs` (a BEIR folder, JSONL or TSV). A document the
/// chunker refuses (no text) is an error naming the file and line, unless `skip_empty`.
pub fn chunked_docs(
    docs: &Path,
    chunker: Chunker,
    skip_empty: bool,
    parents: Rc<RefCell<ParentCount>>,
) -> anyhow::Result<impl Iterator<Item = trawl_data::Result<Document>>> {
    let mut reader = if docs.is_dir() {
        trawl_data::beir::BeirDataset::open(docs)?.read_corpus()?
    } else {
        trawl_data::document::read_documents(docs)?
    };
    let mut queue: VecDeque<Document> = VecDeque::new();
    Ok(std::iter::from_fn(move || loop {
        if let Some(d) = queue.pop_front() {
            return Some(Ok(d));
        }
        let doc = match reader.next()? {
            Ok(doc) => doc,
            Err(e) => return Some(Err(e)),
        };
        match chunker.chunk_document(&doc) {
            Ok(chunks) => {
                let mut p = parents.borrow_mut();
                p.count += 1;
                p.hasher.add_document(&doc);
                queue.extend(chunks);
            }
            Err(trawl_chunk::Error::EmptyDocument { .. }) if skip_empty => {
                parents.borrow_mut().skipped_empty += 1;
            }
            Err(e) => {
                return Some(Err(trawl_data::Error::Parse {
                    path: reader.path().to_path_buf(),
                    line: reader.line_number(),
                    message: e.to_string(),
                }))
            }
        }
    }))
}

#[derive(clap::Args)]
pub struct Args {
    /// Documents: a BEIR dataset folder, a JSONL file (.gz ok) or a TSV.
    pub docs: PathBuf,
    /// Where to write the chunks (JSONL: `_id` = `<parent id>#<n>`, `title`, `text`, `parent_id`,
    /// `chunk`, `char_start`, `char_end` and the parent's other fields).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub chunk: ChunkArgs,
}

/// The flat JSON object of a chunk document (what the corpus readers read back).
fn chunk_json(doc: &Document) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    map.insert("_id".into(), doc.id.clone().into());
    map.insert("title".into(), doc.title.clone().into());
    map.insert("text".into(), doc.text.clone().into());
    for (k, v) in &doc.metadata {
        map.entry(k.clone()).or_insert_with(|| v.clone());
    }
    serde_json::Value::Object(map)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    trawl_store::refuse_output_containing(&args.out, &[args.docs.as_path()])?;
    let chunker = args.chunk.chunker()?;
    let parents = Rc::new(RefCell::new(ParentCount::default()));
    let stream = chunked_docs(&args.docs, chunker, args.chunk.skip_empty, parents.clone())?;
    let mut out = trawl_store::AtomicFile::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut n = 0u64;
    for doc in stream {
        let doc = doc?;
        serde_json::to_writer(&mut out, &chunk_json(&doc))?;
        out.write_all(b"\n")
            .with_context(|| format!("writing {}", args.out.display()))?;
        n += 1;
    }
    out.commit()?;
    let p = parents.borrow();
    let skipped = if p.skipped_empty > 0 {
        format!(" ({} empty documents left out)", p.skipped_empty)
    } else {
        String::new()
    };
    println!(
        "wrote {n} chunks of {} documents{skipped} to {}",
        p.count,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
