//! `trawl search` through the real binary.

use std::process::{Command, Output};

fn trawl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(args)
        .output()
        .expect("run trawl")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const CORPUS: &str = r#"{"_id": "cats", "title": "Cats", "text": "Cats purr, sleep all day and chase mice."}
{"_id": "dogs", "title": "Dogs", "text": "Dogs bark at the mail carrier and fetch sticks. Dogs like cats less than bones."}
{"_id": "bees", "title": "Honey bees", "text": "Bees make honey and pollinate flowers; a long text that goes on and on about flowers, meadows, hives and the seasons of the year."}
"#;

fn build_kb(dir: &std::path::Path) -> String {
    let corpus = dir.join("corpus.jsonl");
    std::fs::write(&corpus, CORPUS).unwrap();
    let kb = dir.join("kb");
    let o = trawl(&[
        "kb",
        "build",
        corpus.to_str().unwrap(),
        "--out",
        kb.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    kb.to_str().unwrap().to_string()
}

#[test]
fn search_prints_an_aligned_ranked_table() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = build_kb(tmp.path());
    let o = trawl(&["search", &kb, "cat", "-k", "5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "header + 2 matching docs:\n{out}");
    assert!(
        lines[0].contains("rank") && lines[0].contains("score") && lines[0].contains("snippet")
    );
    assert!(
        lines[1].trim_start().starts_with("1 ") && lines[1].contains("cats"),
        "{out}"
    );
    assert!(lines[2].contains("dogs"), "{out}");
    // Aligned: the id column starts at the same place on every row.
    let col = lines[0].find("id").unwrap();
    assert_eq!(&lines[1][col..col + 4], "cats");
    assert_eq!(&lines[2][col..col + 4], "dogs");
}

#[test]
fn search_json_has_rank_id_score_title_snippet() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = build_kb(tmp.path());
    let o = trawl(&["search", &kb, "flowers honey", "--json", "-k", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["query"], "flowers honey");
    let hits = v["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["rank"], 1);
    assert_eq!(hits[0]["id"], "bees");
    assert_eq!(hits[0]["title"], "Honey bees");
    assert!(hits[0]["score"].as_f64().unwrap() > 0.0);
    let snippet = hits[0]["snippet"].as_str().unwrap();
    assert!(
        snippet.starts_with("Bees make honey") && snippet.ends_with('…'),
        "{snippet}"
    );
    assert!(snippet.chars().count() <= 81, "{snippet}");
}

#[test]
fn stopword_only_query_gives_no_hits_not_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = build_kb(tmp.path());
    let o = trawl(&["search", &kb, "the and of", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["hits"].as_array().unwrap().len(), 0);
}

#[test]
fn search_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = build_kb(tmp.path());
    let o = trawl(&["search", tmp.path().to_str().unwrap(), "cats"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a trawl knowledge base"),
        "{}",
        stderr(&o)
    );
    let o = trawl(&["search", &kb, "cats", "--retriever", "dense"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("dense"), "{}", stderr(&o));
    let o = trawl(&["search", &kb, "cats", "--retriever", "magic"]);
    assert_eq!(o.status.code(), Some(2));
}
