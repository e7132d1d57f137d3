//! Behaviour of the qrels and run readers/writers on good and bad input. Each test names the
//! behaviour it proves.

use std::io::Write;
use std::path::Path;

use trawl_data::qrels::{parse_qrels, read_qrels, write_qrels, write_qrels_tsv};
use trawl_data::run::{parse_run, read_run, write_trec_run, DuplicatePolicy, RunReadOptions};
use trawl_data::{Error, Qrels, Run};

fn qrels(text: &str) -> Result<Qrels, Error> {
    parse_qrels(text.as_bytes(), Path::new("q.txt"))
}

fn run(text: &str) -> Result<Run, Error> {
    parse_run(
        text.as_bytes(),
        Path::new("r.trec"),
        &RunReadOptions::default(),
    )
}

fn err(r: Result<impl std::fmt::Debug, Error>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn qrels_trec_format_reads_grades_and_ignores_iter_column() {
    let q = qrels("1 0 d1 2\n1 Q7 d2 0\n2 0 d1 -1\n").unwrap();
    assert_eq!(q.num_queries(), 2);
    assert_eq!(q.get("1").unwrap()["d1"], 2);
    assert_eq!(q.get("1").unwrap()["d2"], 0);
    assert_eq!(q.get("2").unwrap()["d1"], -1);
}

#[test]
fn qrels_beir_tsv_header_is_detected_and_skipped() {
    let q = qrels("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\n").unwrap();
    assert_eq!(q.num_judgements(), 2);
    assert_eq!(q.get("q1").unwrap()["d2"], 2);
}

#[test]
fn qrels_three_columns_without_header_read_as_beir() {
    let q = qrels("q1\td1\t1\n").unwrap();
    assert_eq!(q.get("q1").unwrap()["d1"], 1);
}

#[test]
fn qrels_too_few_columns_names_file_line_and_expected_shape() {
    assert_eq!(
        err(qrels("1 0 d1 1\n1 0 d2\n")),
        "q.txt:2: expected 4 columns `qid iter docid rel` (TREC qrels), found 3: `1 0 d2`"
    );
    let e = err(qrels("only-one\n"));
    assert!(
        e.starts_with("q.txt:1: expected a qrels line: 4 columns"),
        "{e}"
    );
    let e = err(qrels("1 0 d1 1 extra\n"));
    assert!(e.contains("found more than 4 columns"), "{e}");
}

#[test]
fn qrels_non_numeric_relevance_is_an_error_not_zero() {
    assert!(err(qrels("1 0 d1 1\n1 0 d2 high\n"))
        .starts_with("q.txt:2: expected an integer relevance grade, found `high`"));
    assert!(err(qrels("1 0 d1 0.5\n")).contains("found `0.5`"));
}

#[test]
fn qrels_integral_float_grade_is_accepted() {
    assert_eq!(qrels("1 0 d1 2.0\n").unwrap().get("1").unwrap()["d1"], 2);
}

#[test]
fn qrels_duplicate_pair_is_an_error_naming_both_lines() {
    let e = err(qrels("1 0 d1 1\n1 0 d2 0\n1 0 d1 2\n"));
    assert!(
        e.starts_with(
            "q.txt:3: duplicate judgement of document `d1` for query `1` (first on line 1)"
        ),
        "{e}"
    );
}

#[test]
fn qrels_crlf_line_ends_and_bom_are_accepted() {
    let q = qrels("\u{feff}1 0 d1 1\r\n1 0 d2 2\r\n").unwrap();
    assert_eq!(q.get("1").unwrap()["d1"], 1);
    assert_eq!(q.get("1").unwrap()["d2"], 2);
    let q = qrels("\u{feff}query-id\tcorpus-id\tscore\r\nq\td\t1\r\n").unwrap();
    assert_eq!(q.get("q").unwrap()["d"], 1);
}

#[test]
fn qrels_empty_or_comment_only_file_is_empty_not_an_error() {
    assert_eq!(qrels("").unwrap().num_queries(), 0);
    assert_eq!(qrels("# nothing\n\n   \n").unwrap().num_queries(), 0);
}

#[test]
fn qrels_hash_starts_a_comment_only_at_line_start() {
    let q = qrels("# c\n1 0 CR#93E 1\n  # indented comment\n1 0 d#2 0\n").unwrap();
    assert_eq!(q.num_judgements(), 2);
    assert!(q.get("1").unwrap().contains_key("CR#93E"));
}

#[test]
fn qrels_unicode_ids_work() {
    let q = qrels("requête-1 0 doc-ü-ñ 1\n问题 0 文档 2\n").unwrap();
    assert_eq!(q.get("问题").unwrap()["文档"], 2);
    assert_eq!(q.get("requête-1").unwrap()["doc-ü-ñ"], 1);
}

#[test]
fn qrels_invalid_utf8_names_the_line() {
    let e = parse_qrels(b"1 0 d1 1\n1 0 d\xe92 1\n", Path::new("q.txt")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("q.txt:2: invalid UTF-8 (byte 0xe9 at column 6)"),
        "{e}"
    );
}

#[test]
fn qrels_and_runs_gzipped_files_are_read_transparently() {
    let dir = tempfile::tempdir().unwrap();
    let qpath = dir.path().join("qrels.txt.gz");
    let rpath = dir.path().join("run.gz");
    for (path, body) in [(&qpath, "1 0 d1 1\n"), (&rpath, "1 Q0 d1 1 2.5 t\n")] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(body.as_bytes()).unwrap();
        std::fs::write(path, gz.finish().unwrap()).unwrap();
    }
    assert_eq!(read_qrels(&qpath).unwrap().get("1").unwrap()["d1"], 1);
    assert_eq!(read_run(&rpath).unwrap().get("1").unwrap()[0].score, 2.5);
}

#[test]
fn missing_file_error_names_the_path() {
    let e = read_run("/nonexistent/run.trec").unwrap_err().to_string();
    assert!(e.starts_with("/nonexistent/run.trec: "), "{e}");
}

#[test]
fn run_keeps_input_order_and_ignores_rank_column() {
    let r = run("q Q0 a 7 1.0 t\nq Q0 b x 3.0 t\nq Q0 c 1 2.0 t\n").unwrap();
    let ids: Vec<&str> = r
        .get("q")
        .unwrap()
        .iter()
        .map(|d| d.doc_id.as_str())
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
}

#[test]
fn run_tag_is_taken_from_the_last_line_like_trec_eval() {
    assert_eq!(
        run("q Q0 a 1 1 first\nq Q0 b 2 0.5 last\n").unwrap().tag(),
        Some("last")
    );
    assert_eq!(run("").unwrap().tag(), None);
}

#[test]
fn run_extra_columns_are_ignored() {
    let r = run("q Q0 a 1 1.5 tag extra stuff\n").unwrap();
    assert_eq!(r.get("q").unwrap()[0].score, 1.5);
}

#[test]
fn run_too_few_columns_names_file_line_and_expected_shape() {
    assert_eq!(
        err(run("q Q0 a 1 1.0 t\nq Q0 b 2 0.5\n")),
        "r.trec:2: expected 6 columns `qid Q0 docid rank score tag` (TREC run), found 5: `q Q0 b 2 0.5`"
    );
}

#[test]
fn run_non_numeric_or_nan_score_is_an_error() {
    assert_eq!(
        err(run("q Q0 a 1 1,5 t\n")),
        "r.trec:1: expected a numeric score in column 5, found `1,5`"
    );
    assert!(err(run("q Q0 a 1 NaN t\n")).contains("found `NaN`"));
    // Exponents and infinities are numbers.
    let r = run("q Q0 a 1 1e-3 t\nq Q0 b 2 -inf t\n").unwrap();
    assert_eq!(r.get("q").unwrap()[1].score, f64::NEG_INFINITY);
}

#[test]
fn run_comments_and_blank_lines_are_skipped_hash_inside_ids_is_data() {
    let r = run("# header\n\nq Q0 doc#1 1 2 t\n   \n  # indented\nq Q0 d2 2 1 t\n").unwrap();
    assert_eq!(r.num_docs(), 2);
    assert_eq!(r.get("q").unwrap()[0].doc_id, "doc#1");
}

#[test]
fn run_crlf_bom_empty_and_unicode_are_handled() {
    let r = run("\u{feff}q1 Q0 d1 1 2 t\r\nq1 Q0 d2 2 1 t\r\n").unwrap();
    assert_eq!(r.get("q1").unwrap()[1].doc_id, "d2");
    assert_eq!(r.tag(), Some("t"));
    assert_eq!(run("").unwrap().num_queries(), 0);
    let r = run("クエリ Q0 文書 1 1 tag\n").unwrap();
    assert_eq!(r.get("クエリ").unwrap()[0].doc_id, "文書");
}

#[test]
fn run_duplicate_document_is_an_error_naming_both_lines() {
    let e = err(run("q Q0 a 1 3 t\nq Q0 b 2 2 t\nq Q0 a 3 1 t\n"));
    assert!(
        e.starts_with("r.trec:3: duplicate document `a` for query `q` (first on line 1)"),
        "{e}"
    );
}

#[test]
fn run_duplicate_policies_keep_first_or_keep_all() {
    let text = b"q Q0 a 1 3 t\nq Q0 b 2 2 t\nq Q0 a 3 1 t\n";
    let keep_first = RunReadOptions {
        duplicates: DuplicatePolicy::KeepFirst,
    };
    let r = parse_run(text, Path::new("r"), &keep_first).unwrap();
    let got: Vec<(&str, f64)> = r
        .get("q")
        .unwrap()
        .iter()
        .map(|d| (d.doc_id.as_str(), d.score))
        .collect();
    assert_eq!(got, [("a", 3.0), ("b", 2.0)]);
    let keep_all = RunReadOptions {
        duplicates: DuplicatePolicy::KeepAll,
    };
    assert_eq!(
        parse_run(text, Path::new("r"), &keep_all)
            .unwrap()
            .num_docs(),
        3
    );
}

#[test]
fn run_interleaved_queries_are_merged_in_file_order() {
    let r = run("1 Q0 a 1 3 t\n2 Q0 x 1 3 t\n1 Q0 b 2 2 t\n").unwrap();
    let ids: Vec<&str> = r
        .get("1")
        .unwrap()
        .iter()
        .map(|d| d.doc_id.as_str())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(r.get("2").unwrap().len(), 1);
}

/// Large inputs are parsed in parallel chunks; the result and error line must not change.
#[test]
fn run_large_input_parses_like_small_input_and_reports_the_right_line() {
    let mut text = String::new();
    for q in 0..300 {
        for d in 0..250 {
            text.push_str(&format!("{q} Q0 doc-{q}-{d} {} {} run\n", d + 1, 1000 - d));
        }
    }
    assert!(text.len() > 2 << 20, "must span several 1 MiB chunks");
    let r = run(&text).unwrap();
    assert_eq!((r.num_queries(), r.num_docs()), (300, 75_000));
    let list = r.get("157").unwrap();
    assert_eq!(list[0].doc_id, "doc-157-0");
    assert_eq!(list[249].doc_id, "doc-157-249");
    let bad_line = 65_432;
    let mut lines: Vec<&str> = text.lines().collect();
    lines[bad_line - 1] = "7 Q0 broken";
    let broken = lines.join("\n");
    assert!(err(run(&broken)).starts_with(&format!("r.trec:{bad_line}: expected 6 columns")));
    lines[bad_line - 1] = "0 Q0 doc-0-5 9 1 run";
    let e = err(run(&lines.join("\n")));
    assert!(
        e.starts_with(&format!(
            "r.trec:{bad_line}: duplicate document `doc-0-5` for query `0` (first on line 6)"
        )),
        "{e}"
    );
}

#[test]
fn write_trec_run_sorts_by_score_then_docid_descending_and_numbers_ranks() {
    let mut r = Run::new();
    r.push("10", "a", 1.0);
    r.push("10", "c", 2.0);
    r.push("10", "b", 2.0);
    r.push("9", "z", 0.1);
    let mut out = Vec::new();
    write_trec_run(&r, &mut out, "tag").unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "9 Q0 z 1 0.1 tag\n10 Q0 c 1 2 tag\n10 Q0 b 2 2 tag\n10 Q0 a 3 1 tag\n"
    );
    // Round trip: scores survive exactly.
    let mut r2 = Run::new();
    r2.push("q", "d", 0.1 + 0.2);
    let mut out = Vec::new();
    write_trec_run(&r2, &mut out, "t").unwrap();
    assert_eq!(
        parse_run(&out, Path::new("x"), &Default::default())
            .unwrap()
            .get("q")
            .unwrap()[0]
            .score,
        0.1 + 0.2
    );
}

#[test]
fn writers_refuse_ids_that_would_not_read_back() {
    let mut r = Run::new();
    r.push("q", "has space", 1.0);
    let e = write_trec_run(&r, Vec::new(), "t").unwrap_err().to_string();
    assert!(e.contains("document id `has space`"), "{e}");
    assert!(write_trec_run(&Run::new(), Vec::new(), "two words").is_err());
    let mut q = Qrels::new();
    q.insert("#q", "d", 1);
    assert!(write_qrels(&q, Vec::new()).is_err());
}

#[test]
fn write_qrels_round_trips_in_both_formats() {
    let mut q = Qrels::new();
    q.insert("2", "b", 1);
    q.insert("2", "a", 0);
    q.insert("10", "x", 2);
    let mut trec = Vec::new();
    write_qrels(&q, &mut trec).unwrap();
    assert_eq!(
        String::from_utf8(trec.clone()).unwrap(),
        "2 0 a 0\n2 0 b 1\n10 0 x 2\n"
    );
    assert_eq!(parse_qrels(&trec, Path::new("t")).unwrap(), q);
    let mut tsv = Vec::new();
    write_qrels_tsv(&q, &mut tsv).unwrap();
    assert!(tsv.starts_with(b"query-id\tcorpus-id\tscore\n2\ta\t0\n"));
    assert_eq!(parse_qrels(&tsv, Path::new("t")).unwrap(), q);
}

#[test]
fn qrels_duplicate_policies_keep_first_or_last() {
    use trawl_data::qrels::{parse_qrels_with, QrelsDuplicates};
    let text = b"1 0 d1 1\n1 0 d1 2\n";
    let first = parse_qrels_with(text, Path::new("q"), QrelsDuplicates::KeepFirst).unwrap();
    assert_eq!(first.get("1").unwrap()["d1"], 1);
    let last = parse_qrels_with(text, Path::new("q"), QrelsDuplicates::KeepLast).unwrap();
    assert_eq!(last.get("1").unwrap()["d1"], 2);
}

#[test]
fn qrels_four_column_header_line_is_skipped_but_later_bad_grades_are_errors() {
    let q = qrels("qid iter docno rel\n1 0 d1 1\n").unwrap();
    assert_eq!(q.num_judgements(), 1);
    assert!(err(qrels("qid iter docno rel\nqid iter docno rel\n"))
        .starts_with("q.txt:2: expected an integer"));
}

#[test]
fn corrupt_gzip_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.trec.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all("1 Q0 d 1 1 t\n".repeat(1000).as_bytes())
        .unwrap();
    let bytes = gz.finish().unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = read_run(&path).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: ", path.display())), "{e}");
    let corpus = dir.path().join("corpus.jsonl.gz");
    std::fs::write(&corpus, &bytes[..bytes.len() / 2]).unwrap();
    let results: Vec<_> = trawl_data::read_documents(&corpus).unwrap().collect();
    let last = results.last().unwrap().as_ref().unwrap_err().to_string();
    assert!(
        last.contains("corpus.jsonl.gz") && last.contains("read failed after line"),
        "{last}"
    );
}

#[test]
fn qrels_first_line_with_a_bad_grade_is_an_error_not_a_header() {
    assert!(err(qrels("1 0 d1 high\n1 0 d2 1\n"))
        .starts_with("q.txt:1: expected an integer relevance grade, found `high`"));
    assert!(err(qrels("q\td\tx\n")).starts_with("q.txt:1: expected an integer"));
}

#[test]
fn run_with_errors_in_several_chunks_reports_the_first_line() {
    let line = "q Q0 doc 1 1.0 t\n";
    let mut text = String::new();
    for i in 0..200_000 {
        if i == 10 || i == 150_000 {
            text.push_str("bad line\n");
        } else {
            text.push_str(&line.replace("doc", &format!("doc{i}")));
        }
    }
    for _ in 0..3 {
        assert!(err(run(&text)).starts_with("r.trec:11: expected 6 columns"));
    }
}

#[test]
fn run_equality_compares_lists_not_tags() {
    let mut a = Run::new();
    a.push("q", "d", 1.0);
    let mut b = a.clone();
    b.set_tag("other");
    assert_eq!(a, b);
    b.push("q", "e", 0.5);
    assert_ne!(a, b);
}
