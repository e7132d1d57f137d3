//! Readers against the shared reference data (trec_eval test files, BEIR folders).

use trawl_data::shared_data::locate;
use trawl_data::{qrels, run, BeirDataset};

#[test]
fn trec_eval_test_files_read_with_expected_counts() {
    let Some(dir) = locate("trec_eval") else {
        return;
    };
    let q = qrels::read_qrels(dir.join("qrels.test")).unwrap();
    assert_eq!(q.num_queries(), 3);
    let rel: usize = q
        .iter()
        .map(|(_, d)| d.values().filter(|&&g| g >= 1).count())
        .sum();
    assert_eq!(rel, 561, "MANIFEST: topics 301-303, 561 relevant");
    let r = run::read_run(dir.join("results.test")).unwrap();
    assert_eq!((r.num_queries(), r.num_docs()), (3, 1500));
    assert_eq!(r.tag(), Some("STANDARD"));
}

#[test]
fn comment_lines_are_skipped_and_hash_inside_ids_is_data() {
    let Some(dir) = locate("trec_eval") else {
        return;
    };
    // `# ...` lines are comments; `CR#93E-1860` is a docno.
    let with = qrels::read_qrels(dir.join("qrels.test.with-comments")).unwrap();
    let plain = qrels::read_qrels(dir.join("qrels.test")).unwrap();
    assert_eq!(with.num_judgements(), plain.num_judgements());
    assert_eq!(with.get("301").unwrap().get("CR#93E-1860"), Some(&0));
    // out.comment.test: num_q 31, num_ret 3100, num_rel 4463 (every id there contains `#`).
    let q = qrels::read_qrels(dir.join("qrels.comment.test")).unwrap();
    let rel: usize = q
        .iter()
        .map(|(_, d)| d.values().filter(|&&g| g >= 1).count())
        .sum();
    assert_eq!((q.num_queries(), q.num_judgements(), rel), (31, 5890, 4463));
    let r = run::read_run(dir.join("results.comment.test")).unwrap();
    assert_eq!((r.num_queries(), r.num_docs()), (301, 30100));
    assert_eq!(r.tag(), Some("comment.test"));
    let ret_judged_queries: usize = r
        .iter()
        .filter(|(qid, _)| q.get(qid).is_some())
        .map(|(_, d)| d.len())
        .sum();
    assert_eq!(ret_judged_queries, 3100);
}

#[test]
fn beir_scifact_folder_reads() {
    let Some(dir) = locate("beir/scifact") else {
        return;
    };
    let ds = BeirDataset::open(&dir).unwrap();
    assert_eq!(ds.splits().unwrap(), vec!["test", "train"]);
    let qrels = ds.read_qrels("test").unwrap();
    assert_eq!(qrels.num_queries(), 300);
    let queries = ds.read_queries().unwrap();
    assert_eq!(queries.len(), 1109);
    let mut n = 0;
    for doc in ds.read_corpus().unwrap() {
        let doc = doc.unwrap();
        assert!(!doc.id.is_empty());
        n += 1;
    }
    assert_eq!(n, 5183);
    let err = ds.read_qrels("dev").unwrap_err().to_string();
    assert!(
        err.contains("dev.tsv: file not found (available splits: test, train)"),
        "{err}"
    );
}
