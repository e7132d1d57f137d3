//! The KB lifecycle: one writer at a time, replacements that never leave a gap or delete what
//! trawl did not write, generations, recovery, and manifests that cannot be turned against the
//! loader.

use std::path::{Path, PathBuf};

use trawl_data::Document;
use trawl_kb::{DenseEmbeddings, Error, KbBuildOptions, KnowledgeBase};
use trawl_store::DirLock;

fn doc(id: &str, text: &str) -> Document {
    Document {
        id: id.into(),
        title: String::new(),
        text: text.into(),
        metadata: Default::default(),
    }
}

fn docs(n: usize) -> Vec<Document> {
    (0..n)
        .map(|i| doc(&format!("d{i}"), &format!("word{} common text {i}", i % 7)))
        .collect()
}

fn build(dir: &Path, n: usize, overwrite: bool) -> trawl_kb::Result<KnowledgeBase> {
    let opts = KbBuildOptions {
        overwrite,
        ..KbBuildOptions::default()
    };
    KnowledgeBase::build(docs(n).into_iter().map(Ok), dir, &opts, |_| {})
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kb");
    (tmp, dir)
}

fn hidden(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn a_second_writer_is_refused_naming_the_holder() {
    let (tmp, dir) = setup();
    let lock = DirLock::acquire(&dir).unwrap();
    let err = build(&dir, 10, false).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("PID {}", std::process::id())) && msg.contains("another trawl"),
        "{msg}"
    );
    assert!(!dir.exists(), "the refused writer wrote nothing");
    drop(lock);
    build(&dir, 10, false).unwrap();
    assert!(hidden(tmp.path()).is_empty(), "{:?}", hidden(tmp.path()));
}

#[test]
fn a_stub_manifest_does_not_make_a_folder_replaceable() {
    let (_tmp, dir) = setup();
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("manifest.json"), r#"{"format":"trawl-kb"}"#).unwrap();
    std::fs::write(dir.join("thesis.tex"), "years of work").unwrap();
    let err = build(&dir, 10, true).unwrap_err();
    assert!(matches!(err, Error::RefuseOverwrite { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("thesis.tex")).unwrap(),
        "years of work"
    );
}

#[test]
fn force_refuses_a_kb_holding_files_trawl_did_not_write() {
    let (_tmp, dir) = setup();
    build(&dir, 10, false).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let err = build(&dir, 20, true).unwrap_err();
    assert!(err.to_string().contains("notes.txt"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(KnowledgeBase::open(&dir).unwrap().num_docs(), 10);
    std::fs::remove_file(dir.join("notes.txt")).unwrap();
    assert_eq!(build(&dir, 20, true).unwrap().num_docs(), 20);
}

#[test]
fn ids_that_break_run_files_are_refused_at_build() {
    let (_tmp, dir) = setup();
    for (id, what) in [
        ("a\tb", "a tab"),
        ("a b", "a space"),
        ("a\nb", "a line break"),
    ] {
        let mut d = docs(5);
        d.push(doc(id, "text"));
        let err = KnowledgeBase::build(d.into_iter().map(Ok), &dir, &Default::default(), |_| {})
            .unwrap_err();
        assert!(matches!(err, Error::BadId { record: 6, .. }), "{err}");
        assert!(err.to_string().contains(what), "{err}");
        assert!(!dir.exists());
    }
}

#[test]
fn every_build_and_replacement_is_a_new_generation_and_old_readers_keep_working() {
    let (_tmp, dir) = setup();
    let first = build(&dir, 30, false).unwrap();
    let second = build(&dir, 30, true).unwrap();
    assert_ne!(first.generation(), second.generation());
    // `first` maps files of a directory that was swapped out and deleted: still readable.
    assert_eq!(first.document(3).unwrap().text, "word3 common text 3");
    assert_eq!(first.search_bm25("word3", 3).unwrap().len(), 3);
    let mut third = KnowledgeBase::open(&dir).unwrap();
    assert_eq!(third.generation(), second.generation());
    let values: Vec<f32> = (0..30 * 2).map(|x| x as f32).collect();
    third
        .add_dense(&DenseEmbeddings::new(values, 2, "m"))
        .unwrap();
    assert_ne!(third.generation(), second.generation());
    assert!(second.vectors().is_none());
    assert_eq!(second.search_bm25("word3", 3).unwrap().len(), 3);
    let reopened = KnowledgeBase::open(&dir).unwrap();
    assert_eq!(reopened.generation(), third.generation());
    assert_eq!(reopened.vectors().unwrap().len(), 30);
}

#[test]
fn a_staged_kb_dropped_before_commit_changes_nothing() {
    // What a kill while computing vectors did: the KB appeared without them. Now the KB
    // appears only on commit, with every index it declares.
    let (tmp, dir) = setup();
    build(&dir, 10, false).unwrap();
    let opts = KbBuildOptions {
        overwrite: true,
        ..KbBuildOptions::default()
    };
    let staged =
        KnowledgeBase::build_staged(docs(20).into_iter().map(Ok), &dir, &opts, |_| {}).unwrap();
    assert_eq!(staged.kb().num_docs(), 20);
    drop(staged);
    assert_eq!(KnowledgeBase::open(&dir).unwrap().num_docs(), 10);
    let mut staged =
        KnowledgeBase::build_staged(docs(20).into_iter().map(Ok), &dir, &opts, |_| {}).unwrap();
    staged
        .add_dense(&DenseEmbeddings::new(vec![0.5; 40], 2, "m"))
        .unwrap();
    let kb = staged.commit().unwrap();
    assert_eq!(kb.vectors().unwrap().len(), 20);
    assert!(hidden(tmp.path()).is_empty(), "{:?}", hidden(tmp.path()));
}

#[test]
fn a_declared_index_that_is_missing_is_an_error() {
    let (_tmp, dir) = setup();
    let mut kb = build(&dir, 10, false).unwrap();
    kb.add_dense(&DenseEmbeddings::new(vec![0.5; 20], 2, "m"))
        .unwrap();
    drop(kb);
    std::fs::remove_dir_all(dir.join("dense")).unwrap();
    let err = KnowledgeBase::open(&dir).unwrap_err();
    assert!(err.to_string().contains("dense"), "{err}");
}

#[test]
fn opening_recovers_what_a_killed_writer_left() {
    let (tmp, dir) = setup();
    build(&dir, 10, false).unwrap();
    // A killed build's temporary directory (pid 999999999 does not run).
    let leftover = tmp.path().join(".kb.tmp-999999999");
    std::fs::create_dir(&leftover).unwrap();
    std::fs::write(leftover.join("docs.dat"), vec![0u8; 4096]).unwrap();
    let kb = KnowledgeBase::open(&dir).unwrap();
    assert_eq!(kb.recovered().len(), 1, "{:?}", kb.recovered());
    assert!(kb.recovered()[0].to_string().contains(".kb.tmp-999999999"));
    assert!(!leftover.exists());
    // An interrupted fallback replace: the KB moved aside, nothing at its place.
    std::fs::rename(&dir, tmp.path().join(".kb.old-999999999")).unwrap();
    let kb = KnowledgeBase::open(&dir).unwrap();
    assert_eq!(kb.num_docs(), 10);
    assert!(kb.recovered()[0].to_string().contains("restored"));
    assert!(hidden(tmp.path()).is_empty(), "{:?}", hidden(tmp.path()));
}

// ---- hostile manifests ---------------------------------------------------------------------

fn read_manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

fn write_sealed(dir: &Path, mut v: serde_json::Value) {
    v["checksum"] = serde_json::json!(trawl_kb::manifest::checksum_of(&v));
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn a_damaged_manifest_fails_its_checksum() {
    let (_tmp, dir) = setup();
    build(&dir, 10, false).unwrap();
    let mut v = read_manifest(&dir);
    v["num_empty_docs"] = serde_json::json!(3);
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&v).unwrap()).unwrap();
    let err = KnowledgeBase::open(&dir).unwrap_err();
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
}

#[test]
fn manifest_paths_cannot_leave_the_kb_folder() {
    let (tmp, dir) = setup();
    build(&dir, 10, false).unwrap();
    // A real BM25 index outside the KB, which `../` would otherwise reach.
    std::fs::rename(dir.join("bm25"), tmp.path().join("bm25")).unwrap();
    let good = read_manifest(&dir);
    let outside = tmp.path().join("bm25").display().to_string();
    for bad in ["../bm25", "../..", outside.as_str(), "bm25/../../bm25"] {
        let mut v = good.clone();
        v["bm25"]["dir"] = serde_json::json!(bad);
        write_sealed(&dir, v);
        let err = KnowledgeBase::open(&dir).unwrap_err();
        assert!(err.to_string().contains("not allowed"), "{bad}: {err}");
    }
    std::os::unix::fs::symlink(tmp.path().join("bm25"), dir.join("bm25")).unwrap();
    write_sealed(&dir, good);
    let err = KnowledgeBase::open(&dir).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
}

#[test]
fn a_manifest_that_is_a_device_a_fifo_or_huge_is_refused_without_reading_it() {
    let (_tmp, dir) = setup();
    build(&dir, 10, false).unwrap();
    let m = dir.join("manifest.json");
    std::fs::remove_file(&m).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &m).unwrap();
    let err = KnowledgeBase::open(&dir).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    std::fs::remove_file(&m).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&m)
        .status()
        .unwrap();
    assert!(status.success());
    let err = KnowledgeBase::open(&dir).unwrap_err();
    assert!(err.to_string().contains("FIFO"), "{err}");
    std::fs::remove_file(&m).unwrap();
    let mut big = b"{\"format\": \"trawl-kb\", \"pad\": \"".to_vec();
    big.resize(2 << 20, b'x');
    std::fs::write(&m, big).unwrap();
    let err = KnowledgeBase::open(&dir).unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
}

mod hostile {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// One KB (with vectors) built once; each case opens a copy of it with a mutated manifest.
    fn template() -> &'static (tempfile::TempDir, serde_json::Value) {
        static T: OnceLock<(tempfile::TempDir, serde_json::Value)> = OnceLock::new();
        T.get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("kb");
            let mut kb = build(&dir, 40, false).unwrap();
            kb.add_dense(&DenseEmbeddings::new(vec![0.25; 80], 2, "m"))
                .unwrap();
            let v = read_manifest(&dir);
            (tmp, v)
        })
    }

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &to.join(e.file_name()));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }

    fn hostile_value() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            Just(serde_json::json!(u64::MAX)),
            Just(serde_json::json!(-1)),
            Just(serde_json::json!(1e308)),
            prop_oneof![
                Just("../.."),
                Just("/etc"),
                Just("bm25"),
                Just("dense"),
                Just(""),
                Just("docs.dat"),
                Just("manifest.json"),
            ]
            .prop_map(serde_json::Value::from),
            "[a-z./]{0,12}".prop_map(serde_json::Value::from),
            Just(serde_json::json!([])),
            Just(serde_json::json!({})),
            Just(serde_json::json!(["../x", "/abs", "bm25/"])),
        ]
    }

    /// Paths of every leaf and object in the manifest (e.g. `["bm25", "dir"]`).
    fn paths(v: &serde_json::Value, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(prefix.clone());
        if let Some(map) = v.as_object() {
            for (k, child) in map {
                let mut p = prefix.clone();
                p.push(k.clone());
                paths(child, p, out);
            }
        }
    }

    fn set(v: &mut serde_json::Value, path: &[String], new: serde_json::Value) {
        match path.split_first() {
            None => *v = new,
            Some((k, rest)) => {
                if let Some(child) = v.get_mut(k.as_str()) {
                    set(child, rest, new);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        /// Re-sealed field edits (what a careless or hostile editor can do): never a panic;
        /// an error, or a KB that opens and answers.
        #[test]
        fn mutated_fields_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), hostile_value()), 1..4)) {
            let (tmp, good) = template();
            let case = tempfile::tempdir().unwrap();
            let dir = case.path().join("kb");
            copy_dir(&tmp.path().join("kb"), &dir);
            let mut all = Vec::new();
            paths(good, Vec::new(), &mut all);
            let mut v = good.clone();
            for (i, value) in edits {
                let path = i.get(&all).clone();
                set(&mut v, &path, value);
            }
            if v.is_object() {
                write_sealed(&dir, v);
            } else {
                std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&v).unwrap()).unwrap();
            }
            if let Ok(kb) = KnowledgeBase::open(&dir) {
                let _ = kb.search_bm25("common", 5);
                let _ = kb.search_dense(&[1.0, 0.0], 5);
                let _ = kb.document(0);
            }
        }

        /// Raw byte damage: never a panic, and (the checksum) never a silent open of changed
        /// content.
        #[test]
        fn damaged_bytes_never_open(pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<bool>()) {
            let (tmp, good) = template();
            let case = tempfile::tempdir().unwrap();
            let dir = case.path().join("kb");
            copy_dir(&tmp.path().join("kb"), &dir);
            let mut bytes = std::fs::read(dir.join("manifest.json")).unwrap();
            let i = pos.index(bytes.len());
            if cut {
                bytes.truncate(i);
            } else {
                bytes[i] = byte;
            }
            std::fs::write(dir.join("manifest.json"), &bytes).unwrap();
            if let Ok(kb) = KnowledgeBase::open(&dir) {
                // Only an edit that leaves the JSON value unchanged (e.g. whitespace) may open.
                let now: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                prop_assert_eq!(&now, good);
                prop_assert_eq!(kb.num_docs(), 40);
            }
        }
    }
}

// ---- kill -9 while adding vectors ------------------------------------------------------------

/// Child side: adds vectors to the KB at `CRASH_CHILD_KB` (the parent sets the kill hook).
/// Ignored unless run by the parent.
#[test]
#[ignore]
fn crash_child_add_dense() {
    let Ok(dir) = std::env::var("CRASH_CHILD_KB") else {
        return;
    };
    let mut kb = KnowledgeBase::open(&dir).unwrap();
    let n = kb.num_docs();
    kb.add_dense(&DenseEmbeddings::new(vec![0.5; n * 2], 2, "m"))
        .unwrap();
}

#[test]
fn a_kill_at_any_rename_of_adding_vectors_leaves_the_last_complete_kb() {
    use trawl_store::fault::{KILL_AT_RENAME_ENV, NO_EXCHANGE_ENV};
    for fallback in [false, true] {
        let mut kills = 0;
        for n in 1..=3 {
            let (tmp, dir) = setup();
            let before = build(&dir, 12, false).unwrap().generation().to_string();
            let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
            cmd.args(["--exact", "crash_child_add_dense", "--ignored"])
                .env("CRASH_CHILD_KB", &dir)
                .env(KILL_AT_RENAME_ENV, n.to_string())
                .env_remove(NO_EXCHANGE_ENV);
            if fallback {
                cmd.env(NO_EXCHANGE_ENV, "1");
            }
            let finished = cmd.output().unwrap().status.success();
            kills += usize::from(!finished);
            let kb = KnowledgeBase::open(&dir)
                .unwrap_or_else(|e| panic!("kill at rename {n} (fallback {fallback}): {e}"));
            // Either the old generation without vectors or the new one with them, whole.
            if kb.generation() == before {
                assert!(kb.vectors().is_none() && !finished);
            } else {
                assert_eq!(kb.vectors().unwrap().len(), 12);
            }
            assert_eq!(kb.search_bm25("common", 3).unwrap().len(), 3);
            assert!(hidden(tmp.path()).is_empty(), "{:?}", hidden(tmp.path()));
        }
        assert_eq!(kills, if fallback { 2 } else { 1 }, "fallback {fallback}");
    }
}

#[test]
fn a_format_2_kb_is_replaced_with_force_only_when_it_holds_only_its_own_files() {
    let (_tmp, dir) = setup();
    build(&dir, 10, false).unwrap();
    // What an older trawl left: format 2, no list of files.
    let mut v = read_manifest(&dir);
    v["format_version"] = serde_json::json!(2);
    v.as_object_mut().unwrap().remove("files");
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&v).unwrap()).unwrap();
    std::fs::write(dir.join("thesis.tex"), "x").unwrap();
    let err = build(&dir, 20, true).unwrap_err();
    assert!(err.to_string().contains("thesis.tex"), "{err}");
    std::fs::remove_file(dir.join("thesis.tex")).unwrap();
    assert!(matches!(
        build(&dir, 20, false),
        Err(Error::RefuseOverwrite { .. })
    ));
    assert_eq!(build(&dir, 20, true).unwrap().num_docs(), 20);
}
