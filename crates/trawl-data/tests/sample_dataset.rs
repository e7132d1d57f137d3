//! The sample dataset in data/sample stays readable and consistent (the README demo uses it).

use std::path::PathBuf;

use trawl_data::{read_run, BeirDataset};

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/sample")
}

#[test]
fn sample_is_a_consistent_beir_folder_with_a_run() {
    let ds = BeirDataset::open(sample_dir()).unwrap();
    let docs: Vec<_> = ds
        .read_corpus()
        .unwrap()
        .reject_duplicate_ids()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(docs.len(), 40);
    assert!(docs
        .iter()
        .all(|d| !d.title.is_empty() && d.metadata.contains_key("topic")));
    let queries = ds.read_queries().unwrap();
    assert_eq!(queries.len(), 8);
    assert_eq!(ds.splits().unwrap(), vec!["test"]);
    let qrels = ds.read_qrels("test").unwrap();
    assert_eq!(qrels.num_queries(), 8);
    let run = read_run(sample_dir().join("run.trec")).unwrap();
    assert_eq!((run.num_queries(), run.num_docs()), (8, 80));
    let ids: std::collections::HashSet<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    for (qid, judged) in qrels.iter() {
        assert!(
            queries.iter().any(|q| &q.id == qid),
            "qrels query {qid} has no text"
        );
        assert!(judged.keys().all(|d| ids.contains(d.as_str())));
        assert!(judged.values().all(|g| (1..=2).contains(g)));
    }
    for (_, list) in run.iter() {
        assert!(list.iter().all(|d| ids.contains(d.doc_id.as_str())));
    }
}
