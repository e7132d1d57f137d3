//! `trawl kb add / delete / compact` through the binary: searches equal a fresh build of the
//! live documents, every change is a generation with a content hash (`kb info --generations`,
//! `beir --json`, run sidecars), a kill -9 anywhere leaves the last complete generation, a full
//! disk or a bad batch changes nothing, and `trawl serve` picks up a new generation on reload.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{err, ok, serve, trawl, trawl_env};
use serde_json::{json, Value};

const WORDS: &[&str] = &[
    "cat", "dog", "bird", "fish", "tree", "river", "stone", "cloud", "rain", "sun",
];

fn text(i: usize) -> String {
    (0..1 + i % 6)
        .map(|j| WORDS[(i * 7 + j * 3) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

fn line(id: &str, text: &str) -> String {
    json!({"_id": id, "title": "", "text": text}).to_string()
}

fn write_jsonl(path: &Path, docs: &[(String, String)]) -> String {
    let body: String = docs.iter().map(|(id, t)| line(id, t) + "\n").collect();
    std::fs::write(path, body).unwrap();
    path.to_str().unwrap().to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn info(kb: &Path) -> Value {
    serde_json::from_str(&ok(&trawl(&["kb", "info", s(kb)]))).unwrap()
}

fn hash(kb: &Path) -> String {
    info(kb)["content_hash"].as_str().unwrap().to_string()
}

/// Ids and scores of `trawl search --json` for a few queries.
fn searches(kb: &Path) -> Vec<Vec<(String, f64)>> {
    ["cat", "dog river", "fish sun stone", "rain cloud cat bird"]
        .iter()
        .map(|q| {
            let v: Value =
                serde_json::from_str(&ok(&trawl(&["search", s(kb), q, "--json", "-k", "100"])))
                    .unwrap();
            v["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h["id"].as_str().unwrap().to_string(),
                        h["score"].as_f64().unwrap(),
                    )
                })
                .collect()
        })
        .collect()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    kb: PathBuf,
    live: Vec<(String, String)>,
}

fn fixture(n: usize) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let live: Vec<(String, String)> = (0..n).map(|i| (format!("d{i}"), text(i))).collect();
    let corpus = write_jsonl(&root.join("corpus.jsonl"), &live);
    let kb = root.join("kb");
    ok(&trawl(&["kb", "build", &corpus, "--out", s(&kb)]));
    Fixture {
        _tmp: tmp,
        root,
        kb,
        live,
    }
}

impl Fixture {
    /// Asserts that the KB searches like, and hashes like, a fresh build of `self.live`.
    fn assert_like_fresh(&self, step: &str) {
        let corpus = write_jsonl(&self.root.join("live.jsonl"), &self.live);
        let fresh = self.root.join("fresh");
        ok(&trawl(&[
            "kb",
            "build",
            &corpus,
            "--out",
            s(&fresh),
            "--force",
        ]));
        assert_eq!(searches(&self.kb), searches(&fresh), "{step}: search");
        assert_eq!(hash(&self.kb), hash(&fresh), "{step}: content hash");
    }

    fn upsert(&mut self, docs: &[(String, String)]) -> String {
        for (id, t) in docs {
            self.live.retain(|(i, _)| i != id);
            self.live.push((id.clone(), t.clone()));
        }
        write_jsonl(&self.root.join("batch.jsonl"), docs)
    }
}

#[test]
fn add_delete_and_compact_search_like_a_fresh_build_and_leave_a_hash_trail() {
    let mut f = fixture(30);
    let batch = f.upsert(&[
        ("d3".into(), "zebra cat".into()),
        ("n1".into(), "zebra river".into()),
        ("n2".into(), "fish".into()),
    ]);
    let out = ok(&trawl(&["kb", "add", s(&f.kb), &batch]));
    assert!(
        out.contains("added 3 documents (2 new, 1 replaced)"),
        "{out}"
    );
    f.assert_like_fresh("after add");

    let ids = f.root.join("ids.txt");
    std::fs::write(&ids, "d5\nd7\n\nnot-there\n").unwrap();
    let o = trawl(&[
        "kb",
        "delete",
        s(&f.kb),
        "--ids",
        s(&ids),
        "n2",
        "also-missing",
    ]);
    let out = ok(&o);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(out.contains("deleted 3 documents"), "{out}");
    assert!(
        stderr.contains("2 ids not in") && stderr.contains("not-there, also-missing"),
        "missing ids are reported, not an error: {stderr}"
    );
    f.live
        .retain(|(id, _)| !["d5", "d7", "n2"].contains(&id.as_str()));
    f.assert_like_fresh("after delete");
    assert_eq!(
        info(&f.kb)["format_version"],
        4,
        "segmented KBs are format 4"
    );

    let out = ok(&trawl(&["kb", "compact", s(&f.kb)]));
    assert!(out.starts_with("compacted"), "{out}");
    f.assert_like_fresh("after compact");
    let m = info(&f.kb);
    assert_eq!(
        (m["format_version"].as_u64(), m.get("segments")),
        (Some(3), None)
    );
    let out = ok(&trawl(&["kb", "compact", s(&f.kb)]));
    assert!(out.starts_with("already compact"), "{out}");

    // The trail: one line per generation, each with its content hash; the last is the KB's.
    let table = ok(&trawl(&["kb", "info", s(&f.kb), "--generations"]));
    let rows: Vec<Vec<&str>> = table
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    let changes: Vec<&str> = rows
        .iter()
        .map(|r| r[2].split(' ').next().unwrap())
        .collect();
    assert_eq!(changes, ["build", "add", "delete", "compact"], "{table}");
    assert_eq!(rows.last().unwrap()[4], hash(&f.kb));
    assert_eq!(rows.last().unwrap()[0], m["generation"].as_str().unwrap());
    assert_ne!(rows[0][4], rows[1][4], "an add changes the content hash");
    assert_eq!(rows[2][4], rows[3][4], "compaction keeps the content hash");
}

#[test]
fn bad_batches_and_a_second_writer_are_refused_and_change_nothing() {
    let f = fixture(10);
    let before = info(&f.kb);
    let dup = write_jsonl(
        &f.root.join("dup.jsonl"),
        &[
            ("x".into(), "a".into()),
            ("y".into(), "b".into()),
            ("x".into(), "c".into()),
        ],
    );
    let e = err(&trawl(&["kb", "add", s(&f.kb), &dup]));
    assert!(
        e.contains("`x`") && e.contains("record 3") && e.contains("record 1"),
        "{e}"
    );

    let one = write_jsonl(&f.root.join("one.jsonl"), &[("z".into(), "cat".into())]);
    let e = err(&trawl(&[
        "kb",
        "add",
        s(&f.kb),
        &one,
        "--k1",
        "1.2",
        "--stemmer",
        "none",
    ]));
    assert!(
        e.contains("\"k1\":0.9") && e.contains("\"k1\":1.2") && e.contains("\"none\""),
        "both settings are named: {e}"
    );
    // The KB's own settings given explicitly are fine (checked below: nothing was added yet).
    let lock = trawl_store::DirLock::acquire(&f.kb).unwrap();
    let e = err(&trawl(&["kb", "add", s(&f.kb), &one, "--k1", "0.9"]));
    assert!(
        e.contains(&format!("PID {}", std::process::id())),
        "lock message: {e}"
    );
    let e = err(&trawl(&["kb", "delete", s(&f.kb), "--ids", "d1"]));
    assert!(e.contains("PID"), "{e}");
    drop(lock);
    assert_eq!(info(&f.kb), before, "no refused update changed the KB");
    ok(&trawl(&["kb", "add", s(&f.kb), &one, "--k1", "0.9"]));
}

#[test]
fn a_full_disk_during_compaction_keeps_the_old_generation() {
    let mut f = fixture(40);
    let batch = f.upsert(&[("d1".into(), "zebra".into()), ("n".into(), "okapi".into())]);
    ok(&trawl(&["kb", "add", s(&f.kb), &batch]));
    let before = info(&f.kb);
    for budget in [0, 200, 2000] {
        let o = trawl_env(
            &["kb", "compact", s(&f.kb)],
            &[("TRAWL_STORE_FAIL_WRITES_AFTER", budget.to_string())],
        );
        let e = err(&o);
        assert!(e.contains("no space left on device"), "{e}");
        assert_eq!(
            info(&f.kb),
            before,
            "budget {budget}: the old generation stays"
        );
        f.assert_like_fresh("after a failed compaction");
        let hidden: Vec<String> = std::fs::read_dir(&f.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".kb"))
            .collect();
        assert!(
            hidden.is_empty(),
            "the failed writer cleaned up: {hidden:?}"
        );
    }
    ok(&trawl(&["kb", "compact", s(&f.kb)]));
    f.assert_like_fresh("compacted after the disk had room");
}

/// Runs `args` killed at its n-th rename, for n = 1, 2, ... until a run finishes: after each
/// kill the KB opens with the content hash before or after the change, and rerunning finishes it.
fn killed_at_every_rename(
    make: impl Fn() -> Fixture,
    args: impl Fn(&Fixture) -> Vec<String>,
    fallback: bool,
) {
    for n in 1.. {
        let f = make();
        let before = hash(&f.kb);
        let a = args(&f);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let mut env = vec![("TRAWL_STORE_KILL_AT_RENAME", n.to_string())];
        if fallback {
            env.push(("TRAWL_STORE_NO_EXCHANGE", "1".into()));
        }
        let o = trawl_env(&a, &env);
        let killed = o.status.code().is_none();
        let now = hash(&f.kb); // opens (and recovers) the KB
        ok(&trawl(&a)); // a rerun succeeds
        let after = hash(&f.kb);
        assert!(
            now == before || now == after,
            "rename {n}: a half-written generation"
        );
        if !killed {
            assert!(n > 1, "the hook killed at least one rename");
            break;
        }
    }
}

#[test]
fn kb_add_and_compact_killed_at_any_rename_leave_the_last_complete_generation() {
    let with_segment = || {
        let mut f = fixture(12);
        let batch = f.upsert(&[("d2".into(), "zebra".into())]);
        ok(&trawl(&["kb", "add", s(&f.kb), &batch]));
        f
    };
    let add_args = |f: &Fixture| {
        let batch = write_jsonl(&f.root.join("b2.jsonl"), &[("d4".into(), "okapi".into())]);
        vec!["kb".into(), "add".into(), s(&f.kb).into(), batch]
    };
    for fallback in [false, true] {
        killed_at_every_rename(|| fixture(12), add_args, fallback);
        killed_at_every_rename(
            with_segment,
            |f| vec!["kb".into(), "compact".into(), s(&f.kb).into()],
            fallback,
        );
        killed_at_every_rename(
            with_segment,
            |f| {
                vec![
                    "kb".into(),
                    "delete".into(),
                    s(&f.kb).into(),
                    "--ids".into(),
                    "d1".into(),
                ]
            },
            fallback,
        );
    }
}

/// kill -9 at pseudo-random times of a build, an add and a compaction of a few thousand
/// documents: the KB opens at its last complete generation and the command can be rerun.
#[test]
fn kill_9_at_random_times_leaves_a_kb_that_opens_and_a_rerun_succeeds() {
    let f = fixture(10);
    let big: Vec<(String, String)> = (0..20_000).map(|i| (format!("b{i}"), text(i))).collect();
    let big = write_jsonl(&f.root.join("big.jsonl"), &big);
    let fresh = f.root.join("built");
    let commands: Vec<Vec<&str>> = vec![
        vec!["kb", "build", &big, "--out", s(&fresh), "--force"],
        vec!["kb", "add", s(&f.kb), &big],
        vec!["kb", "compact", s(&f.kb)],
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for args in &commands {
        let target = Path::new(args[2]).parent().map(|_| args[2]).unwrap();
        let target = if args[1] == "build" {
            s(&fresh)
        } else {
            target
        };
        let before = Command::new(common::trawl_bin())
            .args(["kb", "info", target])
            .output()
            .unwrap();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let delay = std::time::Duration::from_millis(20 + state % 400);
            common::kill_after(args, delay);
            let now = trawl(&["kb", "info", target]);
            if before.status.success() {
                assert!(
                    now.status.success(),
                    "{args:?} killed after {delay:?}: {}",
                    String::from_utf8_lossy(&now.stderr)
                );
            }
        }
        ok(&trawl(args));
        ok(&trawl(&["kb", "info", target]));
    }
    assert_eq!(info(&f.kb)["num_docs"], 20_010);
}

#[test]
fn serve_keeps_its_generation_until_reload_then_answers_from_the_added_segment() {
    let f = fixture(20);
    let srv = serve(&f.kb);
    let search = |q: &str| {
        let (status, v) = srv.post("/search", &json!({"query": q, "k": 10}));
        assert_eq!(status, 200, "{v}");
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(search("zebra").is_empty());
    let batch = write_jsonl(
        &f.root.join("z.jsonl"),
        &[("zz".into(), "zebra okapi".into())],
    );
    ok(&trawl(&["kb", "add", s(&f.kb), &batch]));
    assert!(
        search("zebra").is_empty(),
        "the server keeps the generation it opened"
    );
    let (status, v) = srv.post("/reload", &json!({}));
    assert_eq!((status, v["reloaded"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(search("zebra"), ["zz"]);
    ok(&trawl(&["kb", "delete", s(&f.kb), "--ids", "zz"]));
    assert_eq!(search("zebra okapi"), ["zz"], "still the old generation");
    let (status, v) = srv.post("/reload", &json!({}));
    assert_eq!((status, v["reloaded"].as_bool()), (200, Some(true)), "{v}");
    assert!(
        search("zebra okapi").is_empty(),
        "the deletion is served after reload"
    );
}

/// After a delete, every count a user sees is of live documents: `kb info`'s `num_live`,
/// `trawl serve`'s `/health` and `/reload` `num_docs`, and `search`'s hits (the ordinals of
/// deleted documents stay until `kb compact`, as the manifest's `num_docs` says).
#[test]
fn counts_after_a_delete_are_of_live_documents() {
    let f = fixture(20);
    ok(&trawl(&["kb", "delete", s(&f.kb), "--ids", "d3", "d7"]));
    let i = info(&f.kb);
    assert_eq!(
        (i["num_live"].as_u64(), i["num_docs"].as_u64()),
        (Some(18), Some(20)),
        "{i}"
    );
    let srv = serve(&f.kb);
    let (status, h) = srv.get("/health");
    assert_eq!((status, h["num_docs"].as_u64()), (200, Some(18)), "{h}");
    // A search for more than every document returns the live ones.
    let (status, v) = srv.post(
        "/search",
        &json!({"query": "cat dog bird fish tree river stone cloud rain sun", "k": 100}),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["hits"].as_array().unwrap().len(), 18, "{v}");
    ok(&trawl(&["kb", "delete", s(&f.kb), "--ids", "d4"]));
    let (status, v) = srv.post("/reload", &json!({}));
    assert_eq!((status, v["num_docs"].as_u64()), (200, Some(17)), "{v}");
    assert_eq!(srv.get("/health").1["num_docs"].as_u64(), Some(17));
    ok(&trawl(&["kb", "compact", s(&f.kb)]));
    let i = info(&f.kb);
    assert_eq!(
        (i["num_live"].as_u64(), i["num_docs"].as_u64()),
        (Some(17), Some(17)),
        "{i}"
    );
}

/// `beir --json` and `beir --run-out RUN` (in `RUN.kb.json`) name the KB generation and
/// content hash the numbers came from.
#[test]
fn beir_json_and_the_run_sidecar_record_the_kb_generation_and_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tiny");
    std::fs::create_dir_all(data.join("qrels")).unwrap();
    write_jsonl(
        &data.join("corpus.jsonl"),
        &[
            ("d1".into(), "cats purr".into()),
            ("d2".into(), "bees make honey".into()),
        ],
    );
    std::fs::write(
        data.join("queries.jsonl"),
        "{\"_id\": \"q1\", \"text\": \"cats\"}\n{\"_id\": \"q2\", \"text\": \"honey\"}\n",
    )
    .unwrap();
    std::fs::write(
        data.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n",
    )
    .unwrap();
    let (kb, run) = (tmp.path().join("kb"), tmp.path().join("run.trec"));
    let out = ok(&trawl(&[
        "beir",
        s(&data),
        "--kb-dir",
        s(&kb),
        "--run-out",
        s(&run),
        "--json",
    ]));
    let report: Value = serde_json::from_str(&out).unwrap();
    let m = info(&kb);
    assert_eq!(report["kb_content_hash"], m["content_hash"], "{report}");
    assert_eq!(report["kb_generation"], m["generation"], "{report}");
    let sidecar: Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("run.trec.kb.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(sidecar["kb_content_hash"], m["content_hash"], "{sidecar}");
    assert_eq!(sidecar["kb_generation"], m["generation"], "{sidecar}");
    assert_eq!(sidecar["run"], "run.trec");
}
