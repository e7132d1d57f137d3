//! Training data: pairs/triplets JSONL, QA pairs, BEIR folders with a train split, and a seeded
//! train/validation split for data that comes without one.
//!
//! Accepted JSONL lines (one object per line; blank lines skipped):
//! `{"query": .., "positive": .., "negatives": [..]}` (`"negative": ".."` also accepted),
//! `{"question": .., "answer": ..}` and `{"question": .., "context": ..}`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use trawl_data::beir::BeirDataset;
use trawl_data::Qrels;

use crate::{Error, Result};

/// One training example: a query, its positive document and optional hard negatives.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainExample {
    pub query: String,
    pub positive: String,
    pub negatives: Vec<String>,
}

/// Reads training examples from a JSONL file (`.gz` not supported here) or a BEIR folder
/// (`split`'s qrels: every (query, relevant doc) pair becomes an example).
pub fn read_examples(path: &Path, split: &str) -> Result<Vec<TrainExample>> {
    if path.is_dir() {
        return read_beir_examples(path, split);
    }
    read_jsonl_examples(path)
}

fn text_field<'a>(
    obj: &'a serde_json::Map<String, Value>,
    keys: &[&str],
) -> Option<(&'a str, &'a Value)> {
    keys.iter()
        .find_map(|k| obj.get_key_value(*k).map(|(k, v)| (k.as_str(), v)))
}

fn non_empty_string(path: &Path, line: usize, key: &str, v: &Value) -> Result<String> {
    let s = v.as_str().ok_or_else(|| {
        Error::data(
            path,
            line,
            format!("\"{key}\" must be a string, found {}", kind(v)),
        )
    })?;
    if s.trim().is_empty() {
        return Err(Error::data(path, line, format!("\"{key}\" is empty")));
    }
    Ok(s.to_string())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses one JSONL line into an example (1-based `line` for errors).
pub fn parse_example(path: &Path, line: usize, text: &str) -> Result<TrainExample> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        Error::data(
            path,
            line,
            format!("not valid JSON ({e}); expected {{\"query\", \"positive\", \"negatives\"}}"),
        )
    })?;
    let Value::Object(obj) = v else {
        return Err(Error::data(
            path,
            line,
            format!(
                "expected a JSON object like {{\"query\": .., \"positive\": ..}}, found {}",
                kind(&v)
            ),
        ));
    };
    let (qk, qv) = text_field(&obj, &["query", "question", "anchor"]).ok_or_else(|| {
        Error::data(
            path,
            line,
            "missing \"query\" (or \"question\"); found keys: ".to_string() + &keys(&obj),
        )
    })?;
    let query = non_empty_string(path, line, qk, qv)?;
    let (pk, pv) = text_field(&obj, &["positive", "answer", "context", "pos"]).ok_or_else(|| {
        Error::data(
            path,
            line,
            format!(
                "query has no positive: add \"positive\" (or \"answer\" / \"context\"); found keys: {}",
                keys(&obj)
            ),
        )
    })?;
    let positive = non_empty_string(path, line, pk, pv)?;
    let mut negatives = Vec::new();
    if let Some((nk, nv)) = text_field(&obj, &["negatives", "negative", "neg"]) {
        match nv {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    negatives.push(non_empty_string(path, line, &format!("{nk}[{i}]"), item)?);
                }
            }
            Value::String(_) => negatives.push(non_empty_string(path, line, nk, nv)?),
            Value::Null => {}
            other => {
                return Err(Error::data(
                    path,
                    line,
                    format!("\"{nk}\" must be a list of strings, found {}", kind(other)),
                ))
            }
        }
    }
    Ok(TrainExample {
        query,
        positive,
        negatives,
    })
}

fn keys(obj: &serde_json::Map<String, Value>) -> String {
    let k: Vec<&str> = obj.keys().map(String::as_str).collect();
    if k.is_empty() {
        "none".into()
    } else {
        k.join(", ")
    }
}

fn read_jsonl_examples(path: &Path) -> Result<Vec<TrainExample>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(parse_example(path, i + 1, &line)?);
    }
    if out.is_empty() {
        return Err(Error::data(
            path,
            0,
            "no training examples (expected JSONL lines)",
        ));
    }
    Ok(out)
}

/// A BEIR document as dense retrievers see it: "title text", trimmed.
pub fn document_text(title: &str, text: &str) -> String {
    format!("{title} {text}").trim().to_string()
}

/// An evaluation set: queries, a corpus and relevance judgements.
#[derive(Debug, Clone, Default)]
pub struct EvalSet {
    pub queries: Vec<(String, String)>,
    pub corpus: Vec<(String, String)>,
    pub qrels: Qrels,
}

/// The queries (id, text), corpus (id, text) and qrels of a BEIR split.
pub fn read_beir_split(dir: &Path, split: &str) -> Result<EvalSet> {
    let ds = BeirDataset::open(dir)?;
    let qrels = ds.read_qrels(split)?;
    let queries: HashMap<String, String> = ds
        .read_queries()?
        .into_iter()
        .map(|q| (q.id, q.text))
        .collect();
    let mut corpus = Vec::new();
    for doc in ds.read_corpus()? {
        let doc = doc?;
        corpus.push((doc.id, document_text(&doc.title, &doc.text)));
    }
    let mut qs = Vec::new();
    for qid in qrels.sorted_query_ids() {
        let text = queries.get(qid).ok_or_else(|| {
            Error::data(
                &ds.queries_path().unwrap_or_default(),
                0,
                format!("query `{qid}` is judged in qrels/{split} but missing from queries.jsonl"),
            )
        })?;
        qs.push((qid.to_string(), text.clone()));
    }
    Ok(EvalSet {
        queries: qs,
        corpus,
        qrels,
    })
}

fn read_beir_examples(dir: &Path, split: &str) -> Result<Vec<TrainExample>> {
    let set = read_beir_split(dir, split)?;
    let docs: HashMap<&str, &str> = set
        .corpus
        .iter()
        .map(|(i, t)| (i.as_str(), t.as_str()))
        .collect();
    let mut out = Vec::new();
    for (qid, qtext) in &set.queries {
        let judged = set.qrels.get(qid).expect("query ids come from the qrels");
        let mut rel: Vec<(&String, &i32)> = judged.iter().filter(|(_, g)| **g > 0).collect();
        rel.sort();
        for (doc_id, _) in rel {
            let text = docs.get(doc_id.as_str()).ok_or_else(|| {
                Error::data(
                    dir,
                    0,
                    format!(
                        "qrels/{split}: document `{doc_id}` (query `{qid}`) is not in the corpus"
                    ),
                )
            })?;
            out.push(TrainExample {
                query: qtext.clone(),
                positive: (*text).to_string(),
                negatives: Vec::new(),
            });
        }
    }
    if out.is_empty() {
        return Err(Error::data(
            dir,
            0,
            format!("qrels/{split} has no relevant (grade > 0) pairs"),
        ));
    }
    Ok(out)
}

/// Splits examples into (train, validation) by query (all examples of one query go to the same
/// side), shuffled with `seed`; `fraction` of the distinct queries go to validation.
pub fn split_train_validation(
    examples: Vec<TrainExample>,
    fraction: f64,
    seed: u64,
) -> Result<(Vec<TrainExample>, Vec<TrainExample>)> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(Error::InvalidOption(format!(
            "validation fraction must be in [0, 1), got {fraction}"
        )));
    }
    let mut queries: Vec<&str> = examples
        .iter()
        .map(|e| e.query.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    queries.sort_unstable();
    queries.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_val = ((queries.len() as f64) * fraction).round() as usize;
    if fraction > 0.0 && (n_val == 0 || n_val == queries.len()) {
        return Err(Error::InvalidOption(format!(
            "cannot hold out {fraction} of {} distinct queries for validation",
            queries.len()
        )));
    }
    let val: HashSet<String> = queries[..n_val].iter().map(|s| s.to_string()).collect();
    let (v, t): (Vec<_>, Vec<_>) = examples.into_iter().partition(|e| val.contains(&e.query));
    Ok((t, v))
}

/// An evaluation set from examples without ids: each distinct query is a query, every distinct
/// positive and negative text of `corpus_from` is a document, and a query's positives are its
/// relevant documents (grade 1).
pub fn eval_set_from_examples(examples: &[TrainExample], corpus_from: &[TrainExample]) -> EvalSet {
    let mut doc_ids: BTreeMap<&str, String> = BTreeMap::new();
    for e in corpus_from.iter().chain(examples) {
        for t in std::iter::once(&e.positive).chain(&e.negatives) {
            let n = doc_ids.len();
            doc_ids.entry(t.as_str()).or_insert_with(|| format!("d{n}"));
        }
    }
    let mut query_ids: BTreeMap<&str, String> = BTreeMap::new();
    let mut qrels = Qrels::new();
    for e in examples {
        let n = query_ids.len();
        let qid = query_ids
            .entry(e.query.as_str())
            .or_insert_with(|| format!("q{n}"))
            .clone();
        qrels.insert(qid, doc_ids[e.positive.as_str()].clone(), 1);
    }
    EvalSet {
        queries: query_ids
            .into_iter()
            .map(|(t, id)| (id, t.to_string()))
            .collect(),
        corpus: doc_ids
            .into_iter()
            .map(|(t, id)| (id, t.to_string()))
            .collect(),
        qrels,
    }
}
