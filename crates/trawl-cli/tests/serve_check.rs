//! `trawl check`: all ✓ and exit 0 on a sound KB + labels; a ✗ line and exit 1 when labelled
//! documents are missing from the KB or the KB cannot be opened.

use std::path::Path;
use std::process::Command;

fn trawl(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn check_passes_on_the_sample_and_fails_on_missing_labelled_docs() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let tmp = tempfile::tempdir().unwrap();
    let kb = tmp.path().join("kb");
    let kb_s = kb.to_str().unwrap();
    let (code, _) = trawl(&["kb", "build", sample.to_str().unwrap(), "--out", kb_s]);
    assert_eq!(code, 0);
    let qrels = sample.join("qrels/test.tsv");
    let (code, out) = trawl(&["check", kb_s, "--labels", qrels.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    for line in [
        "✓ knowledge base",
        "✓ labelled docs in KB",
        "✓ union / intersection",
        "✓ rewards bm25",
        "✓ unknown uid",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains('✗'), "{out}");

    let labels = tmp.path().join("labels.json");
    std::fs::write(&labels, r#"{"q1": ["fish-01", "no-such-doc"]}"#).unwrap();
    let (code, out) = trawl(&[
        "check",
        kb_s,
        "--labels",
        labels.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    let missing = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "labelled docs in KB")
        .unwrap();
    assert_eq!(missing["ok"], false);
    assert!(
        missing["detail"]
            .as_str()
            .unwrap()
            .contains("1 of 2 relevant doc ids missing"),
        "{missing}"
    );

    let (code, out) = trawl(&["check", tmp.path().join("nope").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.starts_with("✗ knowledge base"), "{out}");
}
