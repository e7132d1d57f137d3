//! Behaviour of knowledge bases: round trips, refusals, bad input.

use std::path::{Path, PathBuf};

use trawl_bm25::Bm25Builder;
use trawl_data::Document;
use trawl_kb::{DenseEmbeddings, Error, KbBuildOptions, KnowledgeBase};

fn doc(id: &str, title: &str, text: &str) -> Document {
    Document {
        id: id.into(),
        title: title.into(),
        text: text.into(),
        metadata: Default::default(),
    }
}

fn corpus() -> Vec<Document> {
    let words = [
        "protein", "cell", "gene", "cancer", "therapy", "virus", "immune", "brain", "heart",
        "drug", "patients", "trial", "mouse", "signal", "receptor", "growth",
    ];
    (0..300)
        .map(|i| {
            let text: Vec<&str> = (0..(5 + i % 17))
                .map(|j| words[(i * 7 + j * 3 + j * j) % words.len()])
                .collect();
            doc(
                &format!("doc-{i:04}"),
                words[i % words.len()],
                &text.join(" "),
            )
        })
        .collect()
}

fn build(docs: Vec<Document>, dir: &Path) -> trawl_kb::Result<KnowledgeBase> {
    KnowledgeBase::build(
        docs.into_iter().map(Ok),
        dir,
        &KbBuildOptions::default(),
        |_| {},
    )
}

fn kb_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kb");
    (tmp, dir)
}

const QUERIES: [&str; 6] = [
    "protein cell",
    "cancer therapy trial",
    "immune virus",
    "brains",
    "heart drug mouse",
    "the of and",
];

#[test]
fn reopened_kb_searches_exactly_like_the_in_memory_index() {
    let (_tmp, dir) = kb_dir();
    let docs = corpus();
    let opts = KbBuildOptions::default();
    let bm = opts.bm25.clone().unwrap();
    let mut builder = Bm25Builder::new(bm.analyzer, bm.params).unwrap();
    let texts: Vec<String> = docs
        .iter()
        .map(|d| format!("{} {}", d.title, d.text))
        .collect();
    builder.add_documents(&texts.iter().map(String::as_str).collect::<Vec<_>>());
    let memory = builder.build().unwrap();

    build(docs.clone(), &dir).unwrap();
    let kb = KnowledgeBase::open(&dir).unwrap();
    assert_eq!(kb.num_docs(), docs.len());
    for q in QUERIES {
        let expected = memory.search(q, 50);
        let got = kb.search_bm25(q, 50).unwrap();
        assert_eq!(got.len(), expected.len(), "query {q}");
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(
                (g.ordinal, g.score.to_bits()),
                (e.doc, e.score.to_bits()),
                "query {q}"
            );
            assert_eq!(g.id, docs[e.doc as usize].id);
        }
    }
    let batch = kb.search_bm25_batch(&QUERIES, 50).unwrap();
    let refs = kb.search_bm25_batch_refs(&QUERIES, 50).unwrap();
    for (owned, borrowed) in batch.iter().zip(&refs) {
        let converted: Vec<trawl_kb::KbHit> = borrowed.iter().map(|h| (*h).into()).collect();
        assert_eq!(&converted, owned, "borrowed-id hits equal owned ones");
    }
    for (q, hits) in QUERIES.iter().zip(&batch) {
        assert_eq!(hits, &kb.search_bm25(q, 50).unwrap());
    }
    assert!(kb.search_bm25("protein", 10).unwrap().len() == 10);
    assert!(
        kb.search_bm25("", 10).unwrap().is_empty(),
        "an empty query returns no results"
    );
    assert!(
        kb.search_bm25("the of and", 10).unwrap().is_empty(),
        "a stopword-only query returns no results"
    );
}

#[test]
fn documents_and_ids_round_trip() {
    let (_tmp, dir) = kb_dir();
    let mut docs = corpus();
    docs[3]
        .metadata
        .insert("year".into(), serde_json::json!(2020));
    docs[4].title = "Ünïcødé — 日本語".into();
    build(docs.clone(), &dir).unwrap();
    let kb = KnowledgeBase::open(&dir).unwrap();
    for (i, d) in docs.iter().enumerate() {
        assert_eq!(kb.document(i as u32).unwrap().to_document(), *d);
        assert_eq!(kb.ordinal_of(&d.id), Some(i as u32));
    }
    assert_eq!(kb.ordinal_of("nope"), None);
    assert_eq!(kb.ordinal_of(""), None);
    assert!(matches!(
        kb.document(docs.len() as u32),
        Err(Error::OrdinalOutOfRange { .. })
    ));
    let m = kb.manifest();
    assert_eq!(m.num_docs, docs.len() as u64);
    assert_eq!(m.corpus_hash, trawl_kb::hash_documents(&docs));
    assert!(m.bm25.as_ref().unwrap().num_terms > 0);
}

#[test]
fn duplicate_ids_are_an_error_naming_both_records() {
    let (_tmp, dir) = kb_dir();
    let docs = vec![
        doc("a", "", "x"),
        doc("b", "", "y"),
        doc("c", "", "z"),
        doc("b", "", "w"),
    ];
    let err = build(docs, &dir).unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateId { id, first: 2, second: 4 } if id == "b"),
        "{err}"
    );
    assert!(
        err.to_string().contains("record 4") && err.to_string().contains("record 2"),
        "{err}"
    );
    assert!(
        !dir.exists(),
        "a failed build leaves nothing at the destination"
    );
}

#[test]
fn empty_corpus_and_empty_ids_are_errors() {
    let (_tmp, dir) = kb_dir();
    assert!(matches!(build(vec![], &dir), Err(Error::EmptyCorpus)));
    let err = build(vec![doc("a", "", "x"), doc("", "", "y")], &dir).unwrap_err();
    assert!(matches!(err, Error::EmptyId { record: 2 }), "{err}");
    assert!(!dir.exists());
}

#[test]
fn empty_documents_are_kept_counted_and_never_match() {
    let (_tmp, dir) = kb_dir();
    let docs = vec![
        doc("a", "", "protein"),
        doc("b", "", "   "),
        doc("c", "", "protein protein"),
    ];
    let kb = build(docs, &dir).unwrap();
    assert_eq!(kb.num_docs(), 3);
    assert_eq!(kb.manifest().num_empty_docs, 1);
    assert_eq!(kb.ordinal_of("b"), Some(1));
    let hits = kb.search_bm25("protein", 10).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["c", "a"]
    );
}

#[test]
fn input_errors_abort_the_build_and_leave_no_kb() {
    let (tmp, dir) = kb_dir();
    let bad = trawl_data::Error::Parse {
        path: "corpus.jsonl".into(),
        line: 3,
        message: "not JSON".into(),
    };
    let docs: Vec<trawl_data::Result<Document>> =
        vec![Ok(doc("a", "", "x")), Ok(doc("b", "", "y")), Err(bad)];
    let err = KnowledgeBase::build(docs, &dir, &KbBuildOptions::default(), |_| {}).unwrap_err();
    assert!(err.to_string().contains("corpus.jsonl:3"), "{err}");
    assert!(!dir.exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(
        leftovers.is_empty(),
        "temporary build directory removed: {leftovers:?}"
    );
}

#[test]
fn an_interrupted_build_directory_is_not_a_kb() {
    // What a killed build leaves: files without a manifest (the manifest is written last).
    let (_tmp, dir) = kb_dir();
    build(corpus(), &dir).unwrap();
    std::fs::remove_file(dir.join("manifest.json")).unwrap();
    let err = KnowledgeBase::open(&dir).unwrap_err();
    assert!(matches!(err, Error::NotAKnowledgeBase { .. }), "{err}");
    assert!(err.to_string().contains("never finished"), "{err}");
}

#[test]
fn foreign_directories_are_refused_and_never_overwritten() {
    let (tmp, dir) = kb_dir();
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    assert!(matches!(
        KnowledgeBase::open(&dir),
        Err(Error::NotAKnowledgeBase { .. })
    ));
    let opts = KbBuildOptions {
        overwrite: true,
        ..KbBuildOptions::default()
    };
    let err = KnowledgeBase::build(corpus().into_iter().map(Ok), &dir, &opts, |_| {}).unwrap_err();
    assert!(matches!(err, Error::RefuseOverwrite { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );

    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(
        other.join("manifest.json"),
        r#"{"format": "something-else", "format_version": 1}"#,
    )
    .unwrap();
    let err = KnowledgeBase::open(&other).unwrap_err();
    assert!(matches!(err, Error::NotAKnowledgeBase { .. }), "{err}");
    assert!(matches!(
        KnowledgeBase::open(tmp.path().join("missing")),
        Err(Error::NotAKnowledgeBase { .. })
    ));
}

#[test]
fn existing_kb_is_replaced_only_when_asked() {
    let (_tmp, dir) = kb_dir();
    build(corpus(), &dir).unwrap();
    let err = build(vec![doc("x", "", "new")], &dir).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    let opts = KbBuildOptions {
        overwrite: true,
        ..KbBuildOptions::default()
    };
    let kb = KnowledgeBase::build([Ok(doc("x", "", "new"))], &dir, &opts, |_| {}).unwrap();
    assert_eq!(kb.num_docs(), 1);
    assert_eq!(KnowledgeBase::open(&dir).unwrap().num_docs(), 1);
}

fn edit_manifest(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("manifest.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    f(&mut v);
    // Re-sealed, so the check under test is reached (the checksum has its own test).
    v["checksum"] = serde_json::json!(trawl_kb::manifest::checksum_of(&v));
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn other_format_versions_are_refused_with_rebuild_advice() {
    let (_tmp, dir) = kb_dir();
    build(corpus(), &dir).unwrap();
    edit_manifest(&dir, |v| v["format_version"] = serde_json::json!(999));
    let err = KnowledgeBase::open(&dir).unwrap_err();
    assert!(
        matches!(err, Error::FormatVersion { found: 999, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("rebuild"), "{err}");
    edit_manifest(&dir, |v| v["format_version"] = serde_json::json!(0));
    assert!(matches!(
        KnowledgeBase::open(&dir),
        Err(Error::FormatVersion { found: 0, .. })
    ));
    std::fs::write(dir.join("manifest.json"), "{ not json").unwrap();
    assert!(matches!(
        KnowledgeBase::open(&dir),
        Err(Error::BadManifest { .. })
    ));
}

#[test]
fn manifest_doc_count_mismatch_is_refused() {
    let (_tmp, dir) = kb_dir();
    build(corpus(), &dir).unwrap();
    edit_manifest(&dir, |v| v["num_docs"] = serde_json::json!(299));
    let err = KnowledgeBase::open(&dir).unwrap_err();
    assert!(!err.to_string().contains("checksum"), "{err}");
}

/// Every file of a KB, relative to it.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if p.file_name().unwrap() != "manifest.json" {
            out.push(p);
        }
    }
    out
}

#[test]
fn truncated_or_corrupted_files_are_refused_not_read() {
    let (tmp, dir) = kb_dir();
    build(corpus(), &dir).unwrap();
    let pristine = tmp.path().join("pristine");
    copy_dir(&dir, &pristine);
    let all = files(&dir);
    assert!(all.len() >= 4, "{all:?}");
    for file in all {
        let rel = file.strip_prefix(&dir).unwrap().to_path_buf();
        let bytes = std::fs::read(&file).unwrap();
        // Cut short.
        std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
        let err =
            KnowledgeBase::open(&dir).expect_err(&format!("truncated {rel:?} must be refused"));
        assert!(!err.to_string().is_empty());
        // One flipped byte in the middle.
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 3] ^= 0x55;
        std::fs::write(&file, &flipped).unwrap();
        KnowledgeBase::open(&dir).expect_err(&format!("corrupted {rel:?} must be refused"));
        // Missing.
        std::fs::remove_file(&file).unwrap();
        KnowledgeBase::open(&dir).expect_err(&format!("missing {rel:?} must be refused"));
        std::fs::write(&file, &bytes).unwrap();
        KnowledgeBase::open(&dir).unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

#[test]
fn kb_without_bm25_says_how_to_get_one() {
    let (_tmp, dir) = kb_dir();
    let opts = KbBuildOptions {
        bm25: None,
        ..KbBuildOptions::default()
    };
    let kb = KnowledgeBase::build(corpus().into_iter().map(Ok), &dir, &opts, |_| {}).unwrap();
    assert!(kb.bm25().is_none());
    let err = kb.search_bm25("protein", 10).unwrap_err();
    assert!(
        matches!(err, Error::MissingIndex { .. }) && err.to_string().contains("--bm25"),
        "{err}"
    );
}

#[test]
fn dense_embeddings_are_stored_searched_and_checked() {
    let (_tmp, dir) = kb_dir();
    let docs = corpus();
    let n = docs.len();
    let dim = 4;
    // Document i points mostly along axis i % 4.
    let values: Vec<f32> = (0..n * dim)
        .map(|x| {
            if x % dim == (x / dim) % dim {
                1.0
            } else {
                0.01 * (x / dim) as f32 / n as f32
            }
        })
        .collect();
    let mut kb = build(docs, &dir).unwrap();
    let short = DenseEmbeddings::new(values[..dim * 10].to_vec(), dim, "m");
    assert!(matches!(
        kb.add_dense(&short),
        Err(Error::BadEmbeddings { .. })
    ));
    kb.add_dense(&DenseEmbeddings::new(values, dim, "test-model"))
        .unwrap();
    let kb = KnowledgeBase::open(&dir).unwrap();
    assert_eq!(kb.dense_model(), Some("test-model"));
    let hits = kb.search_dense(&[0.0, 0.0, 1.0, 0.0], 3).unwrap();
    assert!(hits.iter().all(|h| h.ordinal % 4 == 2), "{hits:?}");
    assert!(
        kb.search_dense(&[1.0, 0.0], 3).is_err(),
        "wrong query dimension is an error"
    );
    // The BM25 side is untouched.
    assert!(!kb.search_bm25("protein", 5).unwrap().is_empty());
}

#[test]
fn progress_reports_the_final_count() {
    let (_tmp, dir) = kb_dir();
    let mut last = 0;
    let opts = KbBuildOptions {
        batch_size: 64,
        ..KbBuildOptions::default()
    };
    let mut calls = 0;
    KnowledgeBase::build(corpus().into_iter().map(Ok), &dir, &opts, |n| {
        assert!(n >= last);
        last = n;
        calls += 1;
    })
    .unwrap();
    assert_eq!(last, 300);
    assert!(calls > 2);
}
