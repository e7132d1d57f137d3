//! `trawl trec-eval` reproduces trec_eval 10.0's expected outputs byte for byte. The cases and
//! arguments are those of upstream's `make quicktest` (see ../shared/data/trec_eval/MANIFEST.md).
//!
//! Not covered, because trawl does not implement them (and says so by name): the preference
//! formats `-R prefs` / `-R qrels_prefs` / `-R qrels_jg` (out.test.prefs, out.test.qrels_prefs,
//! out.test.qrels_jg) and z-scores `-Z` (out.test.aqZ); tests below check the named errors.

use std::path::Path;
use std::process::Command;

fn trawl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trawl"))
        .arg("trec-eval")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run trawl")
}

fn check(args: &[&str], expected: &str) {
    let Some(dir) = trawl_data::shared_data::locate("trec_eval") else {
        return;
    };
    let out = trawl(&dir, args);
    assert!(
        out.status.success(),
        "trawl trec-eval {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = std::fs::read(dir.join(expected)).unwrap();
    if out.stdout != want {
        let got = String::from_utf8_lossy(&out.stdout);
        let want = String::from_utf8_lossy(&want);
        let first = got
            .lines()
            .zip(want.lines())
            .find(|(g, w)| g != w)
            .map(|(g, w)| format!("got  {g:?}\nwant {w:?}"))
            .unwrap_or_else(|| "(same prefix, different length)".into());
        panic!(
            "{expected} differs: {} vs {} lines\n{first}",
            got.lines().count(),
            want.lines().count()
        );
    }
}

#[test]
fn out_test() {
    check(&["qrels.test", "results.test"], "out.test");
}

#[test]
fn out_test_qrels_with_comments() {
    check(&["qrels.test.with-comments", "results.test"], "out.test");
}

#[test]
fn out_comment_test() {
    check(
        &["qrels.comment.test", "results.comment.test"],
        "out.comment.test",
    );
}

#[test]
fn out_test_a() {
    check(
        &["-m", "all_trec", "qrels.test", "results.test"],
        "out.test.a",
    );
}

#[test]
fn out_test_aq() {
    check(
        &["-m", "all_trec", "-q", "qrels.test", "results.test"],
        "out.test.aq",
    );
}

#[test]
fn out_test_aqc() {
    check(
        &["-m", "all_trec", "-q", "-c", "qrels.test", "results.trunc"],
        "out.test.aqc",
    );
}

#[test]
fn out_test_aqcm() {
    check(
        &[
            "-m",
            "all_trec",
            "-q",
            "-c",
            "-M100",
            "qrels.test",
            "results.trunc",
        ],
        "out.test.aqcM",
    );
}

#[test]
fn out_test_aql() {
    check(
        &[
            "-m",
            "all_trec",
            "-mrelstring.20",
            "-q",
            "-l2",
            "qrels.rel_level",
            "results.test",
        ],
        "out.test.aql",
    );
}

#[test]
fn out_test_meas_params() {
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
            "qrels.test",
            "results.test",
        ],
        "out.test.meas_params",
    );
}

#[test]
fn unimplemented_measures_and_options_are_named() {
    let Some(dir) = trawl_data::shared_data::locate("trec_eval") else {
        return;
    };
    let out = trawl(&dir, &["-m", "foo", "qrels.test", "results.test"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("measure 'foo' is not implemented by trawl"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no numbers on error");

    let out = trawl(
        &dir,
        &[
            "-m",
            "all_prefs",
            "-R",
            "prefs",
            "prefs.test",
            "prefs.results.test",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not implemented by trawl"), "{err}");

    let out = trawl(
        &dir,
        &[
            "-q",
            "-m",
            "all_trec",
            "-Z",
            "zscores_file",
            "qrels.test",
            "results.test",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-Z is not implemented"));
}

#[test]
fn wrong_file_count_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(["trec-eval", "only-one-file"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn missing_query_without_c_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("q"), "1 0 a 1\n2 0 b 1\n").unwrap();
    std::fs::write(dir.path().join("r"), "1 Q0 a 1 1.0 t\n").unwrap();
    let out = trawl(dir.path(), &["-m", "num_q", "-m", "map", "q", "r"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("num_q                 \tall\t1\n"), "{text}");
    assert!(
        text.contains("map                   \tall\t1.0000\n"),
        "{text}"
    );
    let out = trawl(dir.path(), &["-c", "-m", "num_q", "-m", "map", "q", "r"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("num_q                 \tall\t2\n"), "{text}");
    assert!(
        text.contains("map                   \tall\t0.5000\n"),
        "{text}"
    );
}

#[test]
fn run_from_stdin() {
    use std::io::Write;
    use std::process::Stdio;
    let Some(dir) = trawl_data::shared_data::locate("trec_eval") else {
        return;
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(["trec-eval", "qrels.test", "-"])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let run = std::fs::read(dir.join("results.test")).unwrap();
    child.stdin.take().unwrap().write_all(&run).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.stdout, std::fs::read(dir.join("out.test")).unwrap());
}
