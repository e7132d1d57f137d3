//! Writes that never leave a gap, never race and never delete what trawl did not write, through
//! the real binary: `kb build` killed at every rename (the `TRAWL_STORE_KILL_AT_RENAME` hook of
//! trawl-store, like `strace -e inject=rename:signal=KILL`), a held lock, stub manifests,
//! outputs that contain their inputs, run files that survive a failed run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trawl_store::fault::{KILL_AT_RENAME_ENV, NO_EXCHANGE_ENV};

fn trawl_env(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trawl"));
    c.args(args)
        .env_remove(KILL_AT_RENAME_ENV)
        .env_remove(NO_EXCHANGE_ENV);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run trawl")
}

fn trawl(args: &[&str]) -> Output {
    trawl_env(args, &[])
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn corpus(dir: &Path, name: &str, n: usize) -> String {
    let p = dir.join(name);
    let text: String = (0..n)
        .map(|i| {
            format!(
                "{{\"_id\": \"d{i}\", \"text\": \"document number {i} about topic {}\"}}\n",
                i % 5
            )
        })
        .collect();
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn num_docs(kb: &str) -> Option<u64> {
    let o = trawl(&["kb", "info", kb]);
    if !o.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["num_docs"].as_u64()
}

fn hidden(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// Kill -9 at each rename of `kb build --force` over an existing KB: the KB at --out always
/// opens, as the old or the new one, and the next run cleans every leftover.
fn kill_at_every_rename(fallback: bool) {
    let mut finished_at = None;
    for n in 1..=8 {
        let tmp = tempfile::tempdir().unwrap();
        let old = corpus(tmp.path(), "old.jsonl", 10);
        let new = corpus(tmp.path(), "new.jsonl", 25);
        let kb = tmp.path().join("kb");
        let kb = kb.to_str().unwrap();
        assert!(trawl(&["kb", "build", &old, "--out", kb]).status.success());
        let mut env = vec![(KILL_AT_RENAME_ENV, n.to_string())];
        if fallback {
            env.push((NO_EXCHANGE_ENV, "1".to_string()));
        }
        let o = trawl_env(&["kb", "build", &new, "--out", kb, "--force"], &env);
        let docs = num_docs(kb);
        assert!(
            docs == Some(10) || docs == Some(25),
            "killed at rename {n} (fallback {fallback}): --out opens as {docs:?}: {}",
            stderr(&o)
        );
        if o.status.success() {
            assert_eq!(docs, Some(25));
            finished_at = Some(n);
        } else {
            assert_eq!(
                o.status.code(),
                None,
                "killed by the signal: {}",
                stderr(&o)
            );
        }
        // `kb info` above recovered what the kill left.
        assert!(
            hidden(tmp.path()).is_empty(),
            "rename {n}: {:?}",
            hidden(tmp.path())
        );
        if finished_at.is_some() {
            break;
        }
    }
    assert!(
        finished_at.unwrap_or(0) >= 2,
        "the hook killed at least one rename"
    );
}

#[test]
fn kb_build_killed_at_any_rename_leaves_a_kb_that_opens() {
    kill_at_every_rename(false);
}

#[test]
fn kb_build_killed_at_any_rename_of_the_fallback_leaves_a_kb_that_opens() {
    kill_at_every_rename(true);
}

#[test]
fn a_second_kb_build_is_refused_naming_the_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = corpus(tmp.path(), "docs.jsonl", 10);
    let kb = tmp.path().join("race");
    // This test process plays the first writer.
    let held = trawl_store::DirLock::acquire(&kb).unwrap();
    let o = trawl(&["kb", "build", &docs, "--out", kb.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("PID {}", std::process::id())),
        "{err}"
    );
    assert!(!kb.exists());
    drop(held);
    assert!(
        trawl(&["kb", "build", &docs, "--out", kb.to_str().unwrap()])
            .status
            .success()
    );
}

#[test]
fn force_never_deletes_files_trawl_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = corpus(tmp.path(), "docs.jsonl", 10);
    let fake = tmp.path().join("fake");
    std::fs::create_dir(&fake).unwrap();
    std::fs::write(fake.join("manifest.json"), r#"{"format":"trawl-kb"}"#).unwrap();
    std::fs::write(fake.join("thesis.tex"), "x").unwrap();
    let o = trawl(&[
        "kb",
        "build",
        &docs,
        "--out",
        fake.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("refusing to overwrite"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(fake.join("thesis.tex")).unwrap(),
        "x"
    );

    let kb = tmp.path().join("kb");
    let kb_s = kb.to_str().unwrap();
    assert!(trawl(&["kb", "build", &docs, "--out", kb_s])
        .status
        .success());
    std::fs::write(kb.join("notes.txt"), "mine").unwrap();
    let o = trawl(&["kb", "build", &docs, "--out", kb_s, "--force"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("notes.txt"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(kb.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn an_out_that_contains_the_input_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let docs = corpus(&data, "corpus.jsonl", 10);
    for out in [data.clone(), tmp.path().to_path_buf()] {
        let o = trawl(&[
            "kb",
            "build",
            &docs,
            "--out",
            out.to_str().unwrap(),
            "--force",
        ]);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            stderr(&o).contains("which this command reads"),
            "{}",
            stderr(&o)
        );
    }
    assert!(Path::new(&docs).exists());
}

#[test]
fn kb_build_rejects_an_id_with_a_tab_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs.jsonl");
    std::fs::write(
        &docs,
        "{\"_id\": \"ok\", \"text\": \"a\"}\n{\"_id\": \"bad\\tid\", \"text\": \"b\"}\n",
    )
    .unwrap();
    let kb = tmp.path().join("kb");
    let o = trawl(&[
        "kb",
        "build",
        docs.to_str().unwrap(),
        "--out",
        kb.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("docs.jsonl") && err.contains(":2") && err.contains("a tab"),
        "{err}"
    );
    assert!(!kb.exists());
}

/// A BEIR folder: two documents, two judged queries.
fn tiny_beir(dir: &Path) {
    std::fs::create_dir_all(dir.join("qrels")).unwrap();
    std::fs::write(
        dir.join("corpus.jsonl"),
        "{\"_id\": \"d1\", \"text\": \"cats purr\"}\n{\"_id\": \"d2\", \"text\": \"bees make honey\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("queries.jsonl"),
        "{\"_id\": \"q1\", \"text\": \"cats\"}\n{\"_id\": \"q2\", \"text\": \"honey\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n",
    )
    .unwrap();
}

/// `beir --run-out` used to truncate the file first: a run that died part-way destroyed the
/// previous one. Killed just before its run file is complete, the old file is intact.
#[test]
fn a_beir_run_killed_while_writing_its_run_leaves_the_old_run_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tiny");
    tiny_beir(&data);
    let run = tmp.path().join("run.trec");
    let kb = tmp.path().join("kb");
    let args = [
        "beir",
        data.to_str().unwrap(),
        "--kb-dir",
        kb.to_str().unwrap(),
        "--run-out",
        run.to_str().unwrap(),
    ];
    // Builds the KB (reused below, so the run file's rename is the only one).
    assert!(trawl(&args[..4]).status.success());
    std::fs::write(&run, "q1 Q0 d1 1 1.5 earlier\n").unwrap();
    let o = trawl_env(&args, &[(KILL_AT_RENAME_ENV, "1".to_string())]);
    assert_eq!(o.status.code(), None, "killed: {}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&run).unwrap(),
        "q1 Q0 d1 1 1.5 earlier\n"
    );
    // The next run replaces it and clears the dead run's temporary file.
    assert!(trawl(&args).status.success());
    let text = std::fs::read_to_string(&run).unwrap();
    assert!(
        text.starts_with("q1 Q0 d1 1 ") && text.contains("\nq2 Q0 d2 1 "),
        "{text}"
    );
    assert!(hidden(tmp.path()).is_empty(), "{:?}", hidden(tmp.path()));
}

fn model_dir() -> Option<PathBuf> {
    let found = std::env::var_os("TRAWL_TEST_MODEL")
        .map(PathBuf::from)
        .or_else(|| {
            let cwd = std::env::current_dir().ok()?;
            cwd.ancestors()
                .map(|a| a.join("models").join("all-MiniLM-L6-v2"))
                .find(|p| p.join("config.json").exists())
        });
    if found.is_none() {
        eprintln!("skipped: all-MiniLM-L6-v2 not installed (set TRAWL_TEST_MODEL)");
    }
    found
}

/// A killed `kb build --bm25 --dense` used to leave a KB that opened with no vectors: at every
/// kill point the KB either does not exist or has its vectors.
#[test]
fn kb_build_with_vectors_killed_never_leaves_a_kb_without_them() {
    let Some(model) = model_dir() else { return };
    let model = model.to_str().unwrap().to_string();
    for n in 1..=6 {
        let tmp = tempfile::tempdir().unwrap();
        let docs = corpus(tmp.path(), "docs.jsonl", 6);
        let kb = tmp.path().join("kb");
        let kb_s = kb.to_str().unwrap();
        let o = trawl_env(
            &[
                "kb", "build", &docs, "--out", kb_s, "--bm25", "--dense", &model,
            ],
            &[(KILL_AT_RENAME_ENV, n.to_string())],
        );
        let info = trawl(&["kb", "info", kb_s]);
        if info.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
            assert!(
                v["dense"]["dim"].as_u64() == Some(384),
                "rename {n}: a KB without vectors: {v}"
            );
            assert!(v["bm25"].is_object());
        } else {
            assert!(
                !o.status.success(),
                "a finished build must open: {}",
                stderr(&info)
            );
        }
        if o.status.success() {
            return;
        }
    }
    panic!("the build never finished within 6 renames");
}

#[cfg(feature = "train")]
#[test]
fn train_refuses_an_out_that_holds_its_base_model_or_data() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("base");
    trawl_train::testkit::write_tiny_model(&model, 1).unwrap();
    let data_dir = tmp.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    let data = data_dir.join("train.jsonl");
    std::fs::write(
        &data,
        "{\"query\": \"cat\", \"positive\": \"the cat sat\"}\n",
    )
    .unwrap();
    let before = std::fs::read(model.join("model.safetensors")).unwrap();
    for out in [&model, &data_dir] {
        let o = trawl(&[
            "train",
            "--model",
            model.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--force",
        ]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("which this command reads"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(
        std::fs::read(model.join("model.safetensors")).unwrap(),
        before
    );
    assert!(data.exists());
}
