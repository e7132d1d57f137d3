//! One reader of qrels and runs: `trawl eval`, `trawl compare` and `trawl check` (reward labels)
//! accept and reject the same files (permissive dialect, grades like `1.0` read as integers);
//! `trawl trec-eval` reads as trec_eval 10.0 does, including `-c`'s `num_rel` summary. Expected
//! outputs of `trec-eval` below were produced by trec_eval 10.0 itself (built from
//! usnistgov/trec_eval at f4253652, the release in ../shared/data/trec_eval/MANIFEST.md).

use std::path::Path;
use std::process::{Command, Output};

use trawl_retrieve::labels::Labels;

fn trawl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trawl"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run trawl")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "trawl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

const RUN: &str = "1 Q0 d1 1 3.0 r\n1 Q0 d9 2 2.0 r\n1 Q0 d2 3 1.0 r\n2 Q0 d3 1 1.0 r\n";

#[test]
fn eval_accepts_beir_float_grades_and_trec_headers_like_check() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("run"), RUN).unwrap();
    std::fs::write(d.join("plain"), "1 0 d1 1\n1 0 d2 2\n2 0 d3 1\n").unwrap();
    std::fs::write(
        d.join("beir.tsv"),
        "query-id\tcorpus-id\tscore\n1\td1\t1.0\n1\td2\t2.0\n2\td3\t1.0\n",
    )
    .unwrap();
    std::fs::write(
        d.join("header"),
        "qid iter docno rel\n1 0 d1 1\n1 0 d2 2\n2 0 d3 1\n",
    )
    .unwrap();
    let eval = |qrels: &str| {
        ok(&trawl(
            d,
            &["eval", "--qrels", qrels, "--run", "run", "--json"],
        ))
    };
    let want = eval("plain");
    assert!(want.contains("\"num_queries\":2"), "{want}");
    for file in ["beir.tsv", "header"] {
        assert_eq!(eval(file), want, "{file}");
        // `trawl check --labels` reads them through the same reader, with the same grades.
        let labels = Labels::load(&d.join(file)).unwrap();
        assert_eq!(labels.get("1").unwrap()["d2"], 2, "{file}");
        assert_eq!(labels.num_queries(), 2);
    }
    let compare = ok(&trawl(d, &["compare", "--qrels", "beir.tsv", "run", "run"]));
    assert!(compare.contains("queries: 2"), "{compare}");
}

#[test]
fn a_non_integral_grade_is_an_error_naming_file_and_line_everywhere_but_trec_eval() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("run"), RUN).unwrap();
    std::fs::write(d.join("q.tsv"), "query-id\tcorpus-id\tscore\n1\td1\t1.5\n").unwrap();
    let out = trawl(d, &["eval", "--qrels", "q.tsv", "--run", "run"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("q.tsv:2: expected an integer relevance grade, found `1.5`"),
        "{err}"
    );
    let labels = Labels::load(&d.join("q.tsv")).unwrap_err().to_string();
    assert!(
        labels.contains("q.tsv:2: expected an integer relevance grade"),
        "{labels}"
    );
}

#[test]
fn trec_eval_reads_lenient_values_as_trec_eval_10_does_and_notes_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A header line (data to trec_eval), a grade `1.5` (atol: 1), scores `high` and `0.25x`
    // (atof: 0 and 0.25).
    std::fs::write(
        d.join("qs"),
        "qid iter docno rel\n1 0 d1 1.5\n1 0 d2 2\n1 0 d3 0\n",
    )
    .unwrap();
    std::fs::write(
        d.join("rs"),
        "1 Q0 d1 1 high r\n1 Q0 d2 2 0.5 r\n1 Q0 d3 3 0.25x r\n",
    )
    .unwrap();
    let args = [
        "trec-eval",
        "-c",
        "-q",
        "-m",
        "num_q",
        "-m",
        "num_rel",
        "-m",
        "num_ret",
        "-m",
        "map",
        "-m",
        "P.2",
        "qs",
        "rs",
    ];
    let out = trawl(d, &args);
    // trec_eval 10.0's output for the same command.
    let want = "\
num_ret               \t1\t3
num_rel               \t1\t2
map                   \t1\t0.8333
P_2                   \t1\t0.5000
num_ret               \tqid\t0
num_rel               \tqid\t0
map                   \tqid\t0.0000
P_2                   \tqid\t0.0000
num_q                 \tall\t2
num_ret               \tall\t3
num_rel               \tall\t2
map                   \tall\t0.4167
P_2                   \tall\t0.2500
";
    assert_eq!(ok(&out), want);
    let err = String::from_utf8_lossy(&out.stderr);
    for note in [
        "note: qs:1: relevance grade `rel` read as 0",
        "note: qs:2: relevance grade `1.5` read as 1",
        "note: rs:1: score `high` read as 0",
        "note: rs:3: score `0.25x` read as 0.25",
    ] {
        assert!(err.contains(note), "missing {note:?} in {err}");
    }
    // The same files are errors for `trawl eval`, which does not guess.
    let out = trawl(d, &["eval", "--qrels", "qs", "--run", "rs"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn trec_eval_rejects_what_trec_eval_10_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("run"), RUN).unwrap();
    for (qrels, line) in [
        ("1 0 d1 1\n\n1 0 d2 1\n", 2), // blank line: "Malformed line"
        ("# a\n# b\n1 0 d1 1\n", 2),   // second comment line read as data
        ("query-id\tcorpus-id\tscore\n1\td1\t1\n", 1), // BEIR TSV: 3 columns
    ] {
        std::fs::write(d.join("q"), qrels).unwrap();
        let out = trawl(d, &["trec-eval", "q", "run"]);
        assert_eq!(out.status.code(), Some(1), "{qrels:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("q:{line}: expected 4 columns")),
            "{err}"
        );
        // ... which the permissive reader of `trawl eval` accepts.
        ok(&trawl(d, &["eval", "--qrels", "q", "--run", "run"]));
    }
    std::fs::write(d.join("empty"), "").unwrap();
    let out = trawl(d, &["trec-eval", "empty", "run"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the qrels file is empty"));
}

#[test]
fn complete_num_rel_summary_counts_grade_one_whatever_the_level_as_trec_eval_10() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("q"),
        "1 0 d1 1\n1 0 d2 1\n1 0 d3 2\n2 0 x 3\n3 0 y 0\n",
    )
    .unwrap();
    std::fs::write(d.join("r"), "1 Q0 d1 1 1 r\n").unwrap();
    let args = [
        "trec-eval",
        "-c",
        "-q",
        "-l2",
        "-m",
        "num_q",
        "-m",
        "num_rel",
        "-m",
        "num_rel_ret",
        "q",
        "r",
    ];
    // trec_eval 10.0: per-query num_rel at level 2 (1, 1, 0), but `all` recounts the qrels lines
    // with rel > 0 (m_num_rel.c): 4.
    let want = "\
num_rel               \t1\t1
num_rel_ret           \t1\t0
num_rel               \t2\t1
num_rel_ret           \t2\t0
num_rel               \t3\t0
num_rel_ret           \t3\t0
num_q                 \tall\t3
num_rel               \tall\t4
num_rel_ret           \tall\t0
";
    assert_eq!(ok(&trawl(d, &args)), want);
    // Without -c the summary is the sum of the evaluated queries (query 1 only).
    let out = ok(&trawl(d, &["trec-eval", "-l2", "-m", "num_rel", "q", "r"]));
    assert_eq!(out, "num_rel               \tall\t1\n");
}

#[test]
fn complete_num_rel_summary_on_trec_eval_reference_files() {
    let Some(dir) = trawl_data::shared_data::locate("trec_eval") else {
        return;
    };
    // trec_eval 10.0 prints 559 for both (the qrels' lines with rel > 0).
    for level in ["-l1", "-l2"] {
        let out = trawl(
            &dir,
            &[
                "trec-eval",
                "-c",
                level,
                "-m",
                "num_rel",
                "qrels.rel_level",
                "results.trunc",
            ],
        );
        assert_eq!(ok(&out), "num_rel               \tall\t559\n", "{level}");
    }
}
