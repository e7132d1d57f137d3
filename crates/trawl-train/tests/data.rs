//! Training-data readers: accepted shapes, errors that name file and line, BEIR train splits,
//! and the seeded train/validation split.

use std::path::Path;

use trawl_train::data::{
    eval_set_from_examples, read_examples, split_train_validation, TrainExample,
};
use trawl_train::Error;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn reads_triplets_and_qa_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "train.jsonl",
        r#"{"query": "q1", "positive": "p1", "negatives": ["n1", "n2"]}

{"question": "q2", "answer": "a2"}
{"question": "q3", "context": "c3", "negative": "n3"}
"#,
    );
    let ex = read_examples(&p, "train").unwrap();
    assert_eq!(ex.len(), 3);
    assert_eq!(ex[0].negatives, vec!["n1", "n2"]);
    assert_eq!(
        (ex[1].query.as_str(), ex[1].positive.as_str()),
        ("q2", "a2")
    );
    assert_eq!(ex[2].negatives, vec!["n3"]);
}

fn error_for(line: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "bad.jsonl",
        &format!("{{\"query\": \"ok\", \"positive\": \"ok\"}}\n{line}\n"),
    );
    let err = read_examples(&p, "train").unwrap_err();
    assert!(matches!(err, Error::Data { line: 2, .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("bad.jsonl:2:"), "{msg}");
    msg
}

#[test]
fn bad_lines_are_named_with_file_line_and_expectation() {
    assert!(error_for(r#"{"positive": "p"}"#).contains("missing \"query\""));
    assert!(error_for(r#"{"query": "q"}"#).contains("query has no positive"));
    assert!(error_for(r#"{"query": "  ", "positive": "p"}"#).contains("\"query\" is empty"));
    assert!(error_for(r#"{"query": "q", "positive": ""}"#).contains("\"positive\" is empty"));
    assert!(
        error_for(r#"{"query": "q", "positive": 3}"#).contains("must be a string, found a number")
    );
    assert!(error_for(r#"["q", "p"]"#).contains("expected a JSON object"));
    assert!(
        error_for(r#"{"query": "q", "positive": "p", "negatives": 5}"#).contains("list of strings")
    );
    assert!(
        error_for(r#"{"query": "q", "positive": "p", "negatives": ["x", ""]}"#)
            .contains("\"negatives[1]\" is empty")
    );
    assert!(error_for("{not json").contains("not valid JSON"));
}

#[test]
fn empty_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "empty.jsonl", "\n\n");
    assert!(read_examples(&p, "train")
        .unwrap_err()
        .to_string()
        .contains("no training examples"));
}

#[test]
fn scifact_train_split_gives_one_example_per_relevant_pair() {
    let Some(dir) = trawl_data::shared_data::locate("beir/scifact") else {
        return;
    };
    let ex = read_examples(&dir, "train").unwrap();
    // 919 judged (query, doc) pairs over 809 queries, all relevant.
    assert_eq!(ex.len(), 919);
    let queries: std::collections::HashSet<&str> = ex.iter().map(|e| e.query.as_str()).collect();
    // 809 query ids; two pairs of them share the same text.
    assert_eq!(queries.len(), 807);
    assert_eq!(
        trawl_train::data::read_beir_split(&dir, "train")
            .unwrap()
            .queries
            .len(),
        809
    );
    assert!(ex
        .iter()
        .all(|e| !e.positive.is_empty() && e.negatives.is_empty()));
}

fn examples(n: usize) -> Vec<TrainExample> {
    (0..n)
        .flat_map(|i| {
            (0..1 + i % 2).map(move |j| TrainExample {
                query: format!("q{i}"),
                positive: format!("p{i}-{j}"),
                negatives: vec![format!("n{i}")],
            })
        })
        .collect()
}

#[test]
fn validation_split_is_seeded_and_keeps_queries_on_one_side() {
    let (t1, v1) = split_train_validation(examples(50), 0.2, 7).unwrap();
    let (t2, v2) = split_train_validation(examples(50), 0.2, 7).unwrap();
    assert_eq!((&t1, &v1), (&t2, &v2));
    let (_, v3) = split_train_validation(examples(50), 0.2, 8).unwrap();
    assert_ne!(v1, v3, "another seed picks other queries");
    let vq: std::collections::HashSet<&str> = v1.iter().map(|e| e.query.as_str()).collect();
    assert_eq!(vq.len(), 10);
    assert!(t1.iter().all(|e| !vq.contains(e.query.as_str())));
    assert_eq!(t1.len() + v1.len(), examples(50).len());
    assert!(
        split_train_validation(examples(3), 0.1, 1).is_err(),
        "0 of 3 queries is no validation set"
    );
}

#[test]
fn eval_set_from_examples_judges_positives_in_a_shared_corpus() {
    let all = examples(4);
    let (train, val) = split_train_validation(all.clone(), 0.5, 1).unwrap();
    let set = eval_set_from_examples(&val, &train);
    assert_eq!(set.queries.len(), 2);
    // Every positive and negative of both sides is a document.
    assert_eq!(set.corpus.len(), all.len() + 4);
    for (qid, text) in &set.queries {
        let judged = set.qrels.get(qid).unwrap();
        let doc_texts: Vec<&str> = set
            .corpus
            .iter()
            .filter(|(id, _)| judged.contains_key(id))
            .map(|(_, t)| t.as_str())
            .collect();
        assert!(
            doc_texts
                .iter()
                .all(|t| t.starts_with(&format!("p{}", &text[1..]))),
            "{doc_texts:?}"
        );
    }
}
