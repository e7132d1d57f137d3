//! The library reproduces trec_eval 10.0's expected outputs (../shared/data/trec_eval, from
//! usnistgov/trec_eval's test/ directory) byte for byte.

use std::path::Path;

use trawl_eval::trec_format::{parse_run, read_qrels, read_text};
use trawl_eval::{trec_eval, TrecEvalOptions};

fn run_case(dir: &Path, args: &[&str], qrels: &str, run: &str) -> String {
    let mut opts = TrecEvalOptions::default();
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            "-q" => opts.per_query = true,
            "-c" => opts.complete = true,
            "-m" => {
                i += 1;
                opts.measures.push(args[i].to_string());
            }
            a if a.starts_with("-m") => opts.measures.push(a[2..].to_string()),
            a if a.starts_with("-M") => opts.max_docs = Some(a[2..].parse().unwrap()),
            a if a.starts_with("-l") => opts.relevance_level = a[2..].parse().unwrap(),
            a => panic!("test does not handle {a}"),
        }
        i += 1;
    }
    let qrels = read_qrels(&dir.join(qrels)).unwrap();
    let path = dir.join(run);
    let text = read_text(&path).unwrap();
    let run = parse_run(&text, &path).unwrap();
    trec_eval(&qrels, &run, &opts).unwrap()
}

fn check(args: &[&str], qrels: &str, run: &str, expected: &str) {
    let Some(dir) = trawl_data::shared_data::locate("trec_eval") else {
        return;
    };
    let got = run_case(&dir, args, qrels, run);
    let want = std::fs::read_to_string(dir.join(expected)).unwrap();
    if got != want {
        let diffs: Vec<String> = got
            .lines()
            .zip(want.lines())
            .filter(|(g, w)| g != w)
            .take(15)
            .map(|(g, w)| format!("got  {g}\nwant {w}"))
            .collect();
        panic!(
            "{expected}: output differs ({} vs {} lines)\n{}",
            got.lines().count(),
            want.lines().count(),
            diffs.join("\n")
        );
    }
}

#[test]
fn default_measures() {
    check(&[], "qrels.test", "results.test", "out.test");
}

#[test]
fn qrels_with_comment_lines() {
    check(&[], "qrels.test.with-comments", "results.test", "out.test");
}

#[test]
fn comment_test_files() {
    check(
        &[],
        "qrels.comment.test",
        "results.comment.test",
        "out.comment.test",
    );
}

#[test]
fn all_trec() {
    check(
        &["-m", "all_trec"],
        "qrels.test",
        "results.test",
        "out.test.a",
    );
}

#[test]
fn all_trec_per_query() {
    check(
        &["-m", "all_trec", "-q"],
        "qrels.test",
        "results.test",
        "out.test.aq",
    );
}

#[test]
fn all_trec_complete_truncated() {
    check(
        &["-m", "all_trec", "-q", "-c"],
        "qrels.test",
        "results.trunc",
        "out.test.aqc",
    );
}

#[test]
fn all_trec_complete_max_docs() {
    check(
        &["-m", "all_trec", "-q", "-c", "-M100"],
        "qrels.test",
        "results.trunc",
        "out.test.aqcM",
    );
}

#[test]
fn all_trec_relstring_level_2() {
    check(
        &["-m", "all_trec", "-mrelstring.20", "-q", "-l2"],
        "qrels.rel_level",
        "results.test",
        "out.test.aql",
    );
}

#[test]
fn measure_parameters() {
    check(
        &[
            "-q",
            "-miprec_at_recall..10,.20,.25,.75,.50",
            "-m",
            "P.5,7,3",
            "-m",
            "recall.20,2000",
            "-m",
            "Rprec_mult.5.0,0.2,0.35",
            "-mutility.2,-1,0,0",
            "-m",
            "11pt_avg..25,.5,.75",
            "-mndcg.1=3,2=9,4=4.5",
            "-mndcg_cut.10,20,23.4",
            "-msuccess.2,5,20",
        ],
        "qrels.test",
        "results.test",
        "out.test.meas_params",
    );
}
