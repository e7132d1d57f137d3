//! Live updates (`add`, `delete`, `compact`): after every step of a random sequence the KB
//! searches exactly like a KB built from scratch over its live documents (same ids, bit-equal
//! scores, same order, same content hash); bad updates are refused and change nothing.

use std::path::{Path, PathBuf};

use trawl_data::Document;
use trawl_kb::{Bm25Options, Error, KbBuildOptions, KnowledgeBase, UpdateOptions};

const VOCAB: &[&str] = &[
    "cat", "dog", "bird", "fish", "tree", "river", "stone", "cloud", "rain", "sun", "moon", "star",
    "wind", "fire", "snow", "leaf",
];

/// xorshift64*: deterministic sequences without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn doc(id: &str, text: String) -> Document {
    Document {
        id: id.into(),
        title: String::new(),
        text,
        metadata: Default::default(),
    }
}

fn random_text(rng: &mut Rng) -> String {
    let n = 1 + rng.below(8);
    (0..n)
        .map(|_| VOCAB[rng.below(VOCAB.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

fn add(
    dir: &Path,
    batch: &[Document],
) -> trawl_kb::Result<(KnowledgeBase, trawl_kb::UpdateReport)> {
    KnowledgeBase::add_documents(
        dir,
        batch.iter().cloned().map(Ok),
        &UpdateOptions::default(),
        |_| {},
    )
}

fn build(dir: &Path, docs: &[Document]) -> KnowledgeBase {
    let opts = KbBuildOptions {
        overwrite: true,
        ..KbBuildOptions::default()
    };
    KnowledgeBase::build(docs.iter().cloned().map(Ok), dir, &opts, |_| {}).unwrap()
}

/// Every query, at several k: the same ids, bit-equal scores and order as the fresh build.
fn assert_same_search(kb: &KnowledgeBase, fresh: &KnowledgeBase, queries: &[String], step: &str) {
    assert_eq!(kb.num_live(), fresh.num_docs(), "{step}: live documents");
    assert_eq!(
        kb.manifest().content_hash,
        fresh.manifest().content_hash,
        "{step}: content hash of the updated KB and of the fresh build"
    );
    for q in queries {
        for k in [1, 5, 1000] {
            let got: Vec<(String, u32)> = kb
                .search_bm25(q, k)
                .unwrap()
                .into_iter()
                .map(|h| (h.id, h.score.to_bits()))
                .collect();
            let want: Vec<(String, u32)> = fresh
                .search_bm25(q, k)
                .unwrap()
                .into_iter()
                .map(|h| (h.id, h.score.to_bits()))
                .collect();
            assert_eq!(got, want, "{step}: query {q:?} k={k}");
        }
    }
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, fresh) = (tmp.path().join("kb"), tmp.path().join("fresh"));
    (tmp, dir, fresh)
}

#[test]
fn random_adds_replacements_deletes_and_compactions_search_like_a_fresh_build() {
    for seed in [1u64, 2, 3] {
        let (_tmp, dir, fresh_dir) = setup();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
        let mut next_id = 0usize;
        let mut new_doc = |rng: &mut Rng| {
            next_id += 1;
            doc(&format!("d{next_id}"), random_text(rng))
        };
        let mut live: Vec<Document> = (0..30).map(|_| new_doc(&mut rng)).collect();
        build(&dir, &live);
        let queries: Vec<String> = (0..25)
            .map(|_| {
                let n = 1 + rng.below(3);
                (0..n)
                    .map(|_| VOCAB[rng.below(VOCAB.len())])
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let mut generations = vec![KnowledgeBase::open(&dir).unwrap().generation().to_string()];
        for step in 0..14 {
            let op = rng.below(4);
            let name = format!("seed {seed} step {step} op {op}");
            let kb = match op {
                // Upsert: some new ids, some replacing live ones (which move to the end).
                0 | 1 => {
                    let mut batch = Vec::new();
                    for _ in 0..1 + rng.below(6) {
                        if rng.below(3) == 0 && live.len() > 1 {
                            let old = live.remove(rng.below(live.len()));
                            batch.push(doc(&old.id, random_text(&mut rng)));
                        } else {
                            batch.push(new_doc(&mut rng));
                        }
                    }
                    live.extend(batch.iter().cloned());
                    let (kb, report) = add(&dir, &batch).unwrap();
                    assert_eq!(report.added + report.replaced, batch.len() as u64, "{name}");
                    kb
                }
                2 => {
                    let mut ids = vec![format!("missing-{step}")];
                    for _ in 0..rng.below(4).min(live.len().saturating_sub(1)) {
                        ids.push(live.remove(rng.below(live.len())).id);
                    }
                    let (kb, report) = KnowledgeBase::delete_documents(&dir, &ids).unwrap();
                    assert_eq!(report.missing, vec![format!("missing-{step}")], "{name}");
                    assert_eq!(report.deleted, ids.len() as u64 - 1, "{name}");
                    kb
                }
                _ => {
                    let (kb, _) = KnowledgeBase::compact(&dir, 7, |_| {}).unwrap();
                    assert!(!kb.is_segmented(), "{name}: compacted");
                    assert_eq!(kb.num_docs(), live.len(), "{name}: tombstones dropped");
                    kb
                }
            };
            let fresh = build(&fresh_dir, &live);
            assert_same_search(&kb, &fresh, &queries, &name);
            // Ids resolve to their live version; reopening gives the same KB.
            for d in &live {
                let o = kb
                    .ordinal_of(&d.id)
                    .unwrap_or_else(|| panic!("{name}: {} lost", d.id));
                assert_eq!(kb.document(o).unwrap().text, d.text, "{name}");
            }
            let reopened = KnowledgeBase::open(&dir).unwrap();
            assert_same_search(&reopened, &fresh, &queries, &name);
            let g = reopened.generation().to_string();
            if generations.last() != Some(&g) {
                generations.push(g);
            }
            let history: Vec<&str> = reopened
                .manifest()
                .history
                .iter()
                .map(|r| r.generation.as_str())
                .collect();
            assert_eq!(
                history, generations,
                "{name}: the history lists every generation"
            );
        }
    }
}

#[test]
fn deleted_and_replaced_ids_resolve_to_their_live_version_only() {
    let (_tmp, dir, _) = setup();
    build(&dir, &[doc("a", "old cat".into()), doc("b", "dog".into())]);
    let (kb, report) = add(
        &dir,
        &[doc("a", "new bird".into()), doc("c", "fish".into())],
    )
    .unwrap();
    assert_eq!((report.added, report.replaced), (1, 1));
    assert_eq!(
        kb.ordinal_of("a"),
        Some(2),
        "the replacement is the live version"
    );
    assert!(kb.is_deleted(0));
    assert!(
        kb.search_bm25("cat", 10).unwrap().is_empty(),
        "the old version is not found"
    );
    assert_eq!(kb.search_bm25("bird", 10).unwrap()[0].id, "a");
    let (kb, report) =
        KnowledgeBase::delete_documents(&dir, &["b".into(), "zzz".into(), "b".into()]).unwrap();
    assert_eq!(
        (report.deleted, report.missing.clone()),
        (1, vec!["zzz".to_string()])
    );
    assert_eq!(kb.ordinal_of("b"), None);
    assert_eq!(kb.num_live(), 2);
    // Nothing to delete: no new generation.
    let g = kb.generation().to_string();
    let (kb, report) = KnowledgeBase::delete_documents(&dir, &["b".into()]).unwrap();
    assert!(!report.changed && kb.generation() == g && report.missing == ["b"]);
}

#[test]
fn bad_updates_are_refused_and_leave_the_generation_as_it_was() {
    let (_tmp, dir, _) = setup();
    build(&dir, &[doc("a", "cat".into()), doc("b", "dog".into())]);
    let g = KnowledgeBase::open(&dir).unwrap().generation().to_string();

    // Duplicate ids inside one batch: an error naming the id and both records.
    let err = add(
        &dir,
        &[
            doc("x", "one".into()),
            doc("y", "two".into()),
            doc("x", "three".into()),
        ],
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateId { id, first: 1, second: 3 } if id == "x"),
        "{err}"
    );

    // Other analyzer settings: refused, both named.
    let mut other = Bm25Options::default();
    other.params.k1 = 1.2;
    other.analyzer.stemmer = trawl_bm25::Stemmer::None;
    let opts = UpdateOptions {
        bm25: Some(other),
        ..UpdateOptions::default()
    };
    let err = KnowledgeBase::add_documents(&dir, [Ok(doc("c", "fish".into()))], &opts, |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"k1\":0.9") && err.contains("\"k1\":1.2"),
        "{err}"
    );
    assert!(err.contains("porter") || err.contains("Porter"), "{err}");

    // An empty batch.
    let err = add(&dir, &[]).unwrap_err();
    assert!(matches!(err, Error::EmptyCorpus), "{err}");

    // A second writer holding the lock.
    let lock = trawl_store::DirLock::acquire(&dir).unwrap();
    let err = add(&dir, &[doc("c", "fish".into())])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("PID {}", std::process::id())),
        "{err}"
    );
    drop(lock);

    let kb = KnowledgeBase::open(&dir).unwrap();
    assert_eq!(kb.generation(), g, "no refused update wrote a generation");
    assert!(!kb.is_segmented());
    let leftovers: Vec<_> = std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_kb_with_vectors_refuses_updates_naming_the_rebuild() {
    let (_tmp, dir, _) = setup();
    let opts = KbBuildOptions {
        dense: Some(trawl_kb::DenseEmbeddings::new(
            vec![1.0, 0.0, 0.0, 1.0],
            2,
            "m",
        )),
        ..KbBuildOptions::default()
    };
    KnowledgeBase::build(
        [Ok(doc("a", "cat".into())), Ok(doc("b", "dog".into()))],
        &dir,
        &opts,
        |_| {},
    )
    .unwrap();
    let err = add(&dir, &[doc("c", "fish".into())])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dense vectors") && err.contains("--force"),
        "{err}"
    );
    let err = KnowledgeBase::delete_documents(&dir, &["a".into()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("dense vectors"), "{err}");
}
