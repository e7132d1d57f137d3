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

/// Ids and scores of a `trawl search ... --json`.
fn hits_of(args: &[&str]) -> Vec<(String, f64)> {
    let v: Value = serde_json::from_str(&ok(&trawl(args))).unwrap();
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
}

/// Ids and scores of `trawl search --json` for a few queries.
fn searches(kb: &Path) -> Vec<Vec<(String, f64)>> {
    ["cat", "dog river", "fish sun stone", "rain cloud cat bird"]
        .iter()
        .map(|q| hits_of(&["search", s(kb), q, "--json", "-k", "100"]))
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

/// Distinct texts (equal texts would tie exactly, and the encoder's batches round a little
/// differently, so tied documents could trade places).
fn dense_text(i: usize) -> String {
    format!(
        "note {i}: the {} near the {}",
        text(i),
        WORDS[(i * 3) % WORDS.len()]
    )
}

/// Ids and scores of `trawl search --retriever dense --json` (through `--index` when given).
fn dense_searches(kb: &Path, index: Option<&str>) -> Vec<Vec<(String, f64)>> {
    [
        "a cat by the river",
        "stone and cloud",
        "note 7",
        "fish in the rain",
    ]
    .iter()
    .map(|q| {
        let mut args = vec![
            "search",
            s(kb),
            q,
            "--retriever",
            "dense",
            "--json",
            "-k",
            "50",
        ];
        if let Some(i) = index {
            args.extend(["--index", i]);
        }
        hits_of(&args)
    })
    .collect()
}

/// Same ids in the same order, scores within 1e-6.
fn assert_close(got: &[Vec<(String, f64)>], want: &[Vec<(String, f64)>], step: &str) {
    for (qi, (g, w)) in got.iter().zip(want).enumerate() {
        let ids = |l: &[(String, f64)]| l.iter().map(|h| h.0.clone()).collect::<Vec<_>>();
        assert_eq!(ids(g), ids(w), "{step}: query {qi}");
        for (a, b) in g.iter().zip(w) {
            assert!(
                (a.1 - b.1).abs() <= 1e-6,
                "{step}: query {qi}: {a:?} vs {b:?}"
            );
        }
    }
}

/// A dense KB (all-MiniLM-L6-v2, with an HNSW index) under `kb add` (new and replaced
/// documents, encoded with the KB's recorded model), `kb delete` and `kb compact`: exact dense
/// search equals a fresh `kb build --dense` over the live documents after every step, the HNSW
/// index answers with live documents only, and the compacted KB's HNSW answers like the fresh
/// build's.
#[test]
fn a_dense_kb_under_add_delete_and_compact_searches_like_a_fresh_dense_build() {
    let Some(model) = common::model_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut live: Vec<(String, String)> =
        (0..40).map(|i| (format!("d{i}"), dense_text(i))).collect();
    let index_flags = ["--index", "hnsw", "--name", "h", "--m", "8", "--seed", "3"];
    let kb = dense_build(root, "kb", &live, &model, &index_flags);
    let steps: Vec<(&str, Vec<usize>, Vec<usize>)> = vec![
        // (what, documents to add or replace by number, documents to delete by number)
        ("add", vec![40, 41, 42, 3, 7], vec![]),
        ("delete", vec![], vec![0, 41, 12]),
        ("add", vec![43, 5, 44], vec![]),
        ("compact", vec![], vec![]),
    ];
    for (n, (what, add, del)) in steps.into_iter().enumerate() {
        let step = format!("step {n} ({what})");
        match what {
            "add" => {
                let batch: Vec<(String, String)> = add
                    .iter()
                    .map(|&i| (format!("d{i}"), dense_text(i + 1000)))
                    .collect();
                for (id, t) in &batch {
                    live.retain(|(i, _)| i != id);
                    live.push((id.clone(), t.clone()));
                }
                let file = write_jsonl(&root.join("batch.jsonl"), &batch);
                let out = ok(&trawl(&["kb", "add", s(&kb), &file]));
                assert!(out.contains("replaced"), "{out}");
            }
            "delete" => {
                let ids: Vec<String> = del.iter().map(|i| format!("d{i}")).collect();
                live.retain(|(i, _)| !ids.contains(i));
                let mut args = vec!["kb", "delete", s(&kb), "--ids"];
                args.extend(ids.iter().map(String::as_str));
                ok(&trawl(&args));
            }
            _ => {
                ok(&trawl(&["kb", "compact", s(&kb)]));
            }
        }
        let fresh = dense_build(root, "fresh", &live, &model, &index_flags);
        assert_close(
            &dense_searches(&kb, None),
            &dense_searches(&fresh, None),
            &step,
        );
        assert_eq!(hash(&kb), hash(&fresh), "{step}: content hash");
        for hits in dense_searches(&kb, Some("h")) {
            assert_eq!(hits.len(), live.len().min(50), "{step}: hnsw returns k");
            for (id, _) in &hits {
                assert!(
                    live.iter().any(|(i, _)| i == id),
                    "{step}: hnsw returned {id}"
                );
            }
        }
        if what == "compact" {
            assert_close(
                &dense_searches(&kb, Some("h")),
                &dense_searches(&fresh, Some("h")),
                &format!("{step} hnsw"),
            );
            assert_eq!(
                info(&kb)["ann"],
                info(&fresh)["ann"],
                "{step}: index entries"
            );
        }
    }
}

/// `root/<name>`: a KB of `docs` with vectors of `model` (and the `extra` build flags).
fn dense_build(
    root: &Path,
    name: &str,
    docs: &[(String, String)],
    model: &Path,
    extra: &[&str],
) -> PathBuf {
    let corpus = write_jsonl(&root.join(format!("{name}.jsonl")), docs);
    let kb = root.join(name);
    let mut args = vec![
        "kb",
        "build",
        &corpus,
        "--out",
        s(&kb),
        "--dense",
        s(model),
        "--force",
    ];
    args.extend(extra);
    ok(&trawl(&args));
    kb
}

/// `root/kb`: a KB of `n` documents with vectors of `model`.
fn dense_kb(root: &Path, n: usize, model: &Path) -> PathBuf {
    let docs: Vec<(String, String)> = (0..n).map(|i| (format!("d{i}"), dense_text(i))).collect();
    dense_build(root, "kb", &docs, model, &[])
}

/// A KB whose vectors were encoded with `--quantize int8`: `kb add` encodes the new documents
/// the same way (f32 vectors would differ by far more than 1e-6), so the KB searches like a
/// fresh int8 build and hashes like it.
#[test]
fn kb_add_encodes_as_the_kb_records_int8_included() {
    let Some(model) = common::model_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut live: Vec<(String, String)> =
        (0..8).map(|i| (format!("d{i}"), dense_text(i))).collect();
    let int8 = ["--quantize", "int8"];
    let kb = dense_build(root, "kb", &live, &model, &int8);
    let batch: Vec<(String, String)> = [2, 8, 9]
        .iter()
        .map(|i| (format!("d{i}"), dense_text(i + 500)))
        .collect();
    live.retain(|(id, _)| id != "d2");
    live.extend(batch.iter().cloned());
    let file = write_jsonl(&root.join("batch.jsonl"), &batch);
    ok(&trawl(&["kb", "add", s(&kb), &file]));
    let fresh = dense_build(root, "fresh", &live, &model, &int8);
    assert_eq!(info(&kb)["dense"]["quantize"], "int8");
    assert_close(
        &dense_searches(&kb, None),
        &dense_searches(&fresh, None),
        "int8 add",
    );
    assert_eq!(hash(&kb), hash(&fresh));
}

/// A real directory whose entries link to the model's files: renaming it moves the model as
/// far as the KB's recorded path is concerned.
fn model_copy(model: &Path, at: &Path) {
    std::fs::create_dir_all(at).unwrap();
    for e in std::fs::read_dir(model).unwrap() {
        let e = e.unwrap();
        std::os::unix::fs::symlink(e.path(), at.join(e.file_name())).unwrap();
    }
}

/// A dense KB whose model moved: `kb add` says which model it needs and to pass `--model`;
/// `--model` with another model's name, or a folder of that name with vectors of another
/// dimension, is refused naming both; the moved model given with `--model` works. Nothing is
/// changed by the refused attempts.
#[test]
fn kb_add_to_a_dense_kb_needs_its_model_and_refuses_another() {
    let Some(model) = common::model_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let first = root.join("models/all-MiniLM-L6-v2");
    model_copy(&model, &first);
    let kb = dense_kb(root, 6, &first);
    let generation = info(&kb)["generation"].clone();
    let batch = write_jsonl(&root.join("batch.jsonl"), &[("n1".into(), dense_text(99))]);

    let moved = root.join("moved/all-MiniLM-L6-v2");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&first, &moved).unwrap();
    // Run where no `models/` folder, models dir or hub cache holds a model of that name (a
    // checkout's own `models/` would otherwise be found by name, as documented).
    let away = root.join("elsewhere");
    std::fs::create_dir_all(&away).unwrap();
    let isolated = Command::new(common::trawl_bin())
        .args(["kb", "add", s(&kb), &batch])
        .current_dir(&away)
        .env("TRAWL_MODELS_DIR", &away)
        .env("HOME", &away)
        .env("HF_HOME", &away)
        .env("HF_HUB_CACHE", &away)
        .output()
        .unwrap();
    let e = err(&isolated);
    assert!(
        e.contains("all-MiniLM-L6-v2") && e.contains("cannot be loaded") && e.contains("--model"),
        "{e}"
    );
    let mpnet = model.parent().unwrap().join("all-mpnet-base-v2");
    if mpnet.join("config.json").exists() {
        let e = err(&trawl(&["kb", "add", s(&kb), &batch, "--model", s(&mpnet)]));
        assert!(
            e.contains("all-mpnet-base-v2") && e.contains("all-MiniLM-L6-v2"),
            "{e}"
        );
        // A folder with the right name holding a model of another dimension.
        let impostor = root.join("impostor/all-MiniLM-L6-v2");
        model_copy(&mpnet, &impostor);
        let e = err(&trawl(&[
            "kb",
            "add",
            s(&kb),
            &batch,
            "--model",
            s(&impostor),
        ]));
        assert!(e.contains("768") && e.contains("384"), "{e}");
    }
    assert_eq!(
        info(&kb)["generation"],
        generation,
        "refused adds change nothing"
    );
    let out = ok(&trawl(&["kb", "add", s(&kb), &batch, "--model", s(&moved)]));
    assert!(out.contains("1 new"), "{out}");
    // Searches need the moved model too (`--model`); the added document is found.
    let v: Value = serde_json::from_str(&ok(&trawl(&[
        "search",
        s(&kb),
        &dense_text(99),
        "--retriever",
        "dense",
        "--model",
        s(&moved),
        "--json",
        "-k",
        "1",
    ])))
    .unwrap();
    assert_eq!(v["hits"][0]["id"], "n1");
}

/// kill -9 at pseudo-random times of `kb add` on a dense KB (the new documents being encoded,
/// their vectors written): the KB opens at a complete generation and searches; the rerun adds.
#[test]
fn kill_9_during_a_dense_add_leaves_a_kb_that_opens_and_a_rerun_succeeds() {
    let Some(model) = common::model_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let kb = dense_kb(root, 8, &model);
    let batch: Vec<(String, String)> = (0..400).map(|i| (format!("b{i}"), dense_text(i))).collect();
    let batch = write_jsonl(&root.join("batch.jsonl"), &batch);
    let args = ["kb", "add", s(&kb), &batch];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut interrupted = 0;
    for _ in 0..4 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = std::time::Duration::from_millis(50 + state % 1500);
        let done = common::kill_after(&args, delay).success();
        let n = info(&kb)["num_live"].as_u64().unwrap();
        assert!(n == 8 || n == 408, "killed after {delay:?}: {n} live");
        assert_eq!(dense_searches(&kb, None)[0].len(), n.min(50) as usize);
        if done {
            break;
        }
        interrupted += usize::from(n == 8);
    }
    assert!(interrupted > 0, "no kill landed before the add finished");
    ok(&trawl(&args));
    assert_eq!(info(&kb)["num_live"], 408);
}

/// `trawl serve` on a dense KB with an HNSW index: after `kb add` and `/reload`, dense search
/// (exact and through the index) finds the added document, and after `kb delete` and `/reload`
/// neither returns it.
#[test]
fn serve_answers_dense_searches_from_the_added_vectors_after_reload() {
    let Some(model) = common::model_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let docs: Vec<(String, String)> = (0..12).map(|i| (format!("d{i}"), dense_text(i))).collect();
    let index_flags = ["--index", "hnsw", "--name", "h", "--m", "8"];
    let kb = dense_build(root, "kb", &docs, &model, &index_flags);
    let srv = serve(&kb);
    let query = "a zebra grazing on the savanna";
    let top = |index: Option<&str>| {
        let mut body = json!({"query": query, "retriever": "dense", "k": 3});
        if let Some(i) = index {
            body["index"] = i.into();
        }
        let (status, v) = srv.post("/search", &body);
        assert_eq!(status, 200, "{v}");
        v["hits"][0]["id"].as_str().unwrap().to_string()
    };
    let batch = write_jsonl(
        &root.join("z.jsonl"),
        &[("zz".into(), "zebras graze on the African savanna".into())],
    );
    ok(&trawl(&["kb", "add", s(&kb), &batch]));
    assert_ne!(top(None), "zz", "the server keeps the generation it opened");
    let (status, v) = srv.post("/reload", &json!({}));
    assert_eq!((status, v["reloaded"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(top(None), "zz");
    assert_eq!(
        top(Some("h")),
        "zz",
        "the index's answers merge the added vectors"
    );
    ok(&trawl(&["kb", "delete", s(&kb), "--ids", "zz"]));
    let (status, v) = srv.post("/reload", &json!({}));
    assert_eq!((status, v["reloaded"].as_bool()), (200, Some(true)), "{v}");
    assert_ne!(top(None), "zz");
    assert_ne!(top(Some("h")), "zz");
}
