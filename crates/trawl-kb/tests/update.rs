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

/// An upsert of 1 to `max` documents: new ones, and about a third replacing live ones (new
/// text under the old id; the new version moves to the end of `live`, as in the KB).
fn upsert_batch(
    rng: &mut Rng,
    live: &mut Vec<Document>,
    max: usize,
    new_doc: &mut impl FnMut(&mut Rng) -> Document,
) -> Vec<Document> {
    let mut batch = Vec::new();
    for _ in 0..1 + rng.below(max) {
        let mut d = new_doc(rng);
        if rng.below(3) == 0 && live.len() > 1 {
            d.id = live.remove(rng.below(live.len())).id;
        }
        batch.push(d);
    }
    live.extend(batch.iter().cloned());
    batch
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
                    let batch = upsert_batch(&mut rng, &mut live, 6, &mut new_doc);
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
fn adding_to_a_kb_with_vectors_without_its_model_is_refused_naming_the_model() {
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
    let before = KnowledgeBase::open(&dir).unwrap().generation().to_string();
    let err = add(&dir, &[doc("c", "fish".into())])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("2-dimensional dense vectors of m") && err.contains("--model"),
        "{err}"
    );
    assert_eq!(KnowledgeBase::open(&dir).unwrap().generation(), before);
    // Deletions need no model.
    let (kb, r) = KnowledgeBase::delete_documents(&dir, &["a".into()]).unwrap();
    assert_eq!(r.deleted, 1);
    let hits = kb.search_dense(&[1.0, 0.0], 2).unwrap();
    let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["b"], "the deleted document is not returned");
}

/// Dimension of the stand-in encoder's vectors.
const DIM: usize = 16;

/// A stand-in for a sentence encoder (deterministic, so a fresh build and an update encode a
/// text to the same bits): a fixed pseudo-random vector per word, summed, plus a little of the
/// whole text's hash; unit length.
fn embed(text: &str) -> Vec<f32> {
    let h = |x: u64, d: usize| {
        let mut z = x ^ (d as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let word = |w: &str| {
        w.bytes().fold(0xCBF2_9CE4_8422_2325u64, |a, b| {
            (a ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
        })
    };
    let mut v = [0f32; DIM];
    for w in text.split_whitespace() {
        for (d, x) in v.iter_mut().enumerate() {
            *x += h(word(w), d);
        }
    }
    for (d, x) in v.iter_mut().enumerate() {
        *x += 0.1 * h(word(text), d + DIM);
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter().map(|x| x / norm).collect()
}

fn embed_all(texts: &[&str]) -> Vec<f32> {
    texts.iter().flat_map(|t| embed(t)).collect()
}

/// How the dense KBs of a run store and compare their vectors, and the indexes they carry.
#[derive(Clone)]
struct DenseSetup {
    dtype: trawl_kb::DenseDtype,
    metric: trawl_kb::DenseMetric,
    ann: Vec<(&'static str, trawl_kb::AnnParams)>,
}

/// An HNSW index, an IVF index probing every list and an sq8 index (exact when refined over
/// every candidate).
fn exhaustive_and_hnsw() -> Vec<(&'static str, trawl_kb::AnnParams)> {
    use trawl_kb::{AnnParams, VectorStorage};
    vec![
        (
            "hnsw",
            AnnParams::Hnsw {
                m: 8,
                ef_construction: 40,
                ef_search: 16,
                seed: 7,
                storage: VectorStorage::F32,
            },
        ),
        (
            "ivf",
            AnnParams::Ivf {
                nlist: 4,
                nprobe: 4,
                train_size: None,
                seed: 3,
            },
        ),
        ("sq8", AnnParams::Sq8),
    ]
}

/// A KB built from scratch the way `kb build --dense M --index ...` builds one: documents
/// stored, each encoded from its stored text, then the approximate indexes.
fn build_dense(dir: &Path, docs: &[Document], s: &DenseSetup) -> KnowledgeBase {
    let opts = KbBuildOptions {
        overwrite: true,
        ..KbBuildOptions::default()
    };
    let mut staged =
        KnowledgeBase::build_staged(docs.iter().cloned().map(Ok), dir, &opts, |_| {}).unwrap();
    let texts: Vec<String> = (0..staged.kb().num_docs() as u32)
        .map(|o| staged.kb().document(o).unwrap().embedding_text())
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut e = trawl_kb::DenseEmbeddings::new(embed_all(&refs), DIM, "stand-in");
    e.dtype = s.dtype;
    e.metric = s.metric;
    staged.add_dense(&e).unwrap();
    for (name, params) in &s.ann {
        staged.add_ann(name, *params).unwrap();
    }
    staged.commit().unwrap()
}

fn add_dense(
    dir: &Path,
    batch: &[Document],
) -> trawl_kb::Result<(KnowledgeBase, trawl_kb::UpdateReport)> {
    let mut encode = |texts: &[&str]| -> Result<Vec<f32>, String> { Ok(embed_all(texts)) };
    KnowledgeBase::add_documents_encoded(
        dir,
        batch.iter().cloned().map(Ok),
        &UpdateOptions::default(),
        Some(&mut encode),
        |_| {},
    )
}

/// (id, score) lists of every query through `index`.
fn vector_hits(
    kb: &KnowledgeBase,
    index: Option<&str>,
    queries: &[f32],
    k: usize,
    params: &trawl_kb::SearchParams,
) -> Vec<Vec<(String, f32)>> {
    kb.search_vectors(index, queries, queries.len() / DIM, k, params)
        .unwrap()
        .into_iter()
        .map(|hits| hits.into_iter().map(|h| (h.id, h.score)).collect())
        .collect()
}

/// Same ids in the same order, scores within `tol`. The kernels round a score a little
/// differently depending on where a row sits in its block (an added segment's row sits
/// elsewhere than in a fresh build), so documents whose scores lie within `tol` of each other
/// (equal texts, here) may trade places, also across the cut at k: a hit that differs from the
/// fresh build's at its rank must score within `tol` of it in both KBs. `scores` holds every
/// document's score in the fresh build, per query.
fn assert_same_hits(
    got: &[Vec<(String, f32)>],
    want: &[Vec<(String, f32)>],
    scores: &[std::collections::HashMap<String, f32>],
    tol: f32,
    what: &str,
) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (qi, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.len(), w.len(), "{what}: query {qi}: number of hits");
        let mut seen = std::collections::HashSet::new();
        for (rank, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(seen.insert(&a.0), "{what}: query {qi}: {} twice", a.0);
            let near = |x: f32, y: f32| (x - y).abs() <= tol;
            let fresh = scores[qi].get(&a.0).copied();
            assert!(
                near(a.1, b.1) && (a.0 == b.0 || fresh.is_some_and(|f| near(f, b.1))),
                "{what}: query {qi} rank {rank}: {a:?} where a fresh build has {b:?} ({} there: {fresh:?})",
                a.0
            );
        }
    }
}

/// Every document's score per query in `kb` (exact search).
fn all_scores(kb: &KnowledgeBase, queries: &[f32]) -> Vec<std::collections::HashMap<String, f32>> {
    vector_hits(kb, None, queries, usize::MAX, &Default::default())
        .into_iter()
        .map(|hits| hits.into_iter().collect())
        .collect()
}

/// The bytes of every file under `sub` of a KB, by relative path.
fn files_under(dir: &Path, sub: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join(sub)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The bar for dense KBs: after every step of random adds, replacements, deletes and
/// compactions, exact vector search returns what a KB built from scratch over the live
/// documents returns (ids, order, scores within 1e-6); an IVF index probing every list and an
/// sq8 index refined over every candidate (exact answers over the base) merged with the added
/// segments do too; HNSW and IVF-PQ return only live documents, k of them; and after a
/// compaction the vectors and every approximate index are byte for byte a fresh build's.
#[test]
fn dense_kbs_updated_at_random_search_like_a_fresh_build_and_compact_to_its_bytes() {
    use trawl_kb::{AnnParams, DenseDtype, DenseMetric, SearchParams};
    let mut ann = exhaustive_and_hnsw();
    ann.push((
        "pq",
        AnnParams::IvfPq {
            nlist: 2,
            m: 4,
            nprobe: 1,
            train_size: None,
            seed: 5,
            refine_vectors: true,
        },
    ));
    let setups = [
        (DenseDtype::F32, DenseMetric::InnerProduct),
        (DenseDtype::F16, DenseMetric::Cosine),
        (DenseDtype::F32, DenseMetric::L2),
    ];
    for (seed, (dtype, metric)) in setups.into_iter().enumerate() {
        let s = DenseSetup {
            dtype,
            metric,
            ann: ann.clone(),
        };
        let (_tmp, dir, fresh_dir) = setup();
        let mut rng = Rng(0x5851_F42D_4C95_7F2D ^ seed as u64);
        let mut next_id = 0usize;
        let mut new_doc = |rng: &mut Rng| {
            next_id += 1;
            let mut d = doc(&format!("d{next_id}"), random_text(rng));
            if rng.below(3) == 0 {
                d.title = VOCAB[rng.below(VOCAB.len())].to_string();
            }
            d
        };
        // IVF-PQ trains 256 sub-centroids: keep more live documents than that.
        let mut live: Vec<Document> = (0..280).map(|_| new_doc(&mut rng)).collect();
        build_dense(&dir, &live, &s);
        let texts: Vec<String> = (0..12).map(|_| random_text(&mut rng)).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let queries = embed_all(&refs);
        let mut compacted = 0;
        for step in 0..12 {
            let op = rng.below(4);
            let name = format!("{dtype:?} {metric:?} step {step} op {op}");
            let kb = match op {
                0 | 1 => {
                    let batch = upsert_batch(&mut rng, &mut live, 8, &mut new_doc);
                    let (kb, r) = add_dense(&dir, &batch).unwrap();
                    assert_eq!(r.added + r.replaced, batch.len() as u64, "{name}");
                    kb
                }
                2 => {
                    let ids: Vec<String> = (0..1 + rng.below(6))
                        .map(|_| live.remove(rng.below(live.len())).id)
                        .collect();
                    KnowledgeBase::delete_documents(&dir, &ids).unwrap().0
                }
                _ => {
                    compacted += 1;
                    let (kb, _) = KnowledgeBase::compact(&dir, 64, |_| {}).unwrap();
                    assert!(!kb.is_segmented(), "{name}");
                    kb
                }
            };
            let fresh = build_dense(&fresh_dir, &live, &s);
            assert_eq!(kb.num_live(), live.len(), "{name}");
            assert_eq!(
                kb.manifest().content_hash,
                fresh.manifest().content_hash,
                "{name}"
            );
            let exact = SearchParams::default();
            let scores = all_scores(&fresh, &queries);
            let all = SearchParams {
                refine: Some(10_000),
                ..SearchParams::default()
            };
            for k in [1, 5, 1000] {
                let want = vector_hits(&fresh, None, &queries, k, &exact);
                let got = vector_hits(&kb, None, &queries, k, &exact);
                assert_same_hits(&got, &want, &scores, 1e-6, &format!("{name} exact k={k}"));
                if !kb.is_segmented() {
                    // Compacted: the fresh build's very files, so the very bits.
                    assert_eq!(got, want, "{name} compacted k={k}");
                }
                let one = kb.search_dense(&queries[..DIM], k).unwrap();
                let one: Vec<(String, f32)> = one.into_iter().map(|h| (h.id, h.score)).collect();
                assert_same_hits(
                    &[one],
                    &want[..1],
                    &scores,
                    1e-6,
                    &format!("{name} search_dense k={k}"),
                );
                // Exhaustive through the approximate indexes: exact answers, merged. (IVF keeps
                // its own f32 copy of the rows, normalised again for cosine: f16 rows' scores
                // move by up to ~1e-4.)
                let ivf = vector_hits(&kb, Some("ivf"), &queries, k, &exact);
                assert_same_hits(&ivf, &want, &scores, 2e-4, &format!("{name} ivf k={k}"));
                let sq8 = vector_hits(&kb, Some("sq8"), &queries, k, &all);
                assert_same_hits(
                    &sq8,
                    &want,
                    &scores,
                    1e-6,
                    &format!("{name} sq8 refined k={k}"),
                );
                for index in ["hnsw", "pq"] {
                    for hits in vector_hits(&kb, Some(index), &queries, k, &exact) {
                        let mut seen = std::collections::HashSet::new();
                        for (id, _) in &hits {
                            assert!(
                                live.iter().any(|d| &d.id == id) && seen.insert(id.clone()),
                                "{name} {index} k={k}: {id} is deleted, replaced or repeated"
                            );
                        }
                        if index == "hnsw" {
                            assert_eq!(hits.len(), k.min(live.len()), "{name} {index} k={k}");
                        }
                    }
                }
            }
            if !kb.is_segmented() {
                for sub in ["dense", "ann"] {
                    assert!(
                        files_under(&dir, sub) == files_under(&fresh_dir, sub),
                        "{name}: {sub}/ of the compacted KB and of the fresh build differ"
                    );
                }
                assert_eq!(kb.manifest().ann, fresh.manifest().ann, "{name}");
                assert_eq!(kb.manifest().dense, fresh.manifest().dense, "{name}");
            }
            let reopened = KnowledgeBase::open(&dir).unwrap();
            assert_same_hits(
                &vector_hits(&reopened, None, &queries, 5, &exact),
                &vector_hits(&fresh, None, &queries, 5, &exact),
                &scores,
                1e-6,
                &format!("{name} reopened"),
            );
        }
        assert!(compacted > 0, "the sequence compacts at least once");
    }
}

#[test]
fn adding_vectors_of_another_dimension_is_refused_naming_both() {
    let (_tmp, dir, _) = setup();
    let s = DenseSetup {
        dtype: trawl_kb::DenseDtype::F32,
        metric: trawl_kb::DenseMetric::InnerProduct,
        ann: Vec::new(),
    };
    build_dense(&dir, &[doc("a", "cat".into()), doc("b", "dog".into())], &s);
    let before = KnowledgeBase::open(&dir).unwrap().generation().to_string();
    let mut wrong = |texts: &[&str]| -> Result<Vec<f32>, String> { Ok(vec![0.5; texts.len() * 8]) };
    let err = KnowledgeBase::add_documents_encoded(
        &dir,
        [Ok(doc("c", "fish".into()))],
        &UpdateOptions::default(),
        Some(&mut wrong),
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("8-dimensional") && err.contains("16-dimensional") && err.contains("stand-in"),
        "{err}"
    );
    let mut failing = |_: &[&str]| -> Result<Vec<f32>, String> { Err("model gone".into()) };
    let err = KnowledgeBase::add_documents_encoded(
        &dir,
        [Ok(doc("c", "fish".into()))],
        &UpdateOptions::default(),
        Some(&mut failing),
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("model gone"), "{err}");
    let kb = KnowledgeBase::open(&dir).unwrap();
    assert_eq!(
        kb.generation(),
        before,
        "refused updates leave the KB as it was"
    );
    assert_eq!(kb.num_docs(), 2);
}

/// A compaction that cannot rebuild an index from its recorded parameters (IVF-PQ trains 256
/// sub-centroids; fewer live vectors remain) is refused like the fresh build would be, and the
/// KB keeps its generation, its segments and its answers.
#[test]
fn a_compaction_whose_index_cannot_be_rebuilt_leaves_the_kb_as_it_was() {
    let (_tmp, dir, _) = setup();
    let s = DenseSetup {
        dtype: trawl_kb::DenseDtype::F32,
        metric: trawl_kb::DenseMetric::InnerProduct,
        ann: vec![(
            "pq",
            trawl_kb::AnnParams::IvfPq {
                nlist: 2,
                m: 4,
                nprobe: 2,
                train_size: None,
                seed: 1,
                refine_vectors: false,
            },
        )],
    };
    let docs: Vec<Document> = (0..260)
        .map(|i| doc(&format!("d{i}"), format!("cat {i}")))
        .collect();
    build_dense(&dir, &docs, &s);
    let gone: Vec<String> = (0..10).map(|i| format!("d{i}")).collect();
    let (kb, _) = KnowledgeBase::delete_documents(&dir, &gone).unwrap();
    let q = embed("cat 12");
    let before = (kb.generation().to_string(), kb.search_dense(&q, 5).unwrap());
    drop(kb);
    let err = KnowledgeBase::compact(&dir, 64, |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ivfpq index `pq`") && err.contains("256") && err.contains("250"),
        "{err}"
    );
    let kb = KnowledgeBase::open(&dir).unwrap();
    assert!(kb.is_segmented());
    assert_eq!(
        (kb.generation().to_string(), kb.search_dense(&q, 5).unwrap()),
        before
    );
}

/// When a query's best base documents are all deleted, the approximate indexes are asked again
/// for more and still return k live documents: an exhaustive IVF and a refined sq8 index give
/// the exact answer, HNSW k live ones.
#[test]
fn approximate_indexes_return_k_live_hits_when_their_best_are_deleted() {
    use trawl_kb::SearchParams;
    let (_tmp, dir, fresh_dir) = setup();
    let s = DenseSetup {
        dtype: trawl_kb::DenseDtype::F32,
        metric: trawl_kb::DenseMetric::InnerProduct,
        ann: exhaustive_and_hnsw(),
    };
    let mut rng = Rng(11);
    let mut live: Vec<Document> = (0..300)
        .map(|i| doc(&format!("d{i}"), random_text(&mut rng)))
        .collect();
    let kb = build_dense(&dir, &live, &s);
    let q = embed("cat dog river");
    // The query's 40 best documents go.
    let best: Vec<String> = kb
        .search_dense(&q, 40)
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    drop(kb);
    let (kb, _) = KnowledgeBase::delete_documents(&dir, &best).unwrap();
    live.retain(|d| !best.contains(&d.id));
    let fresh = build_dense(&fresh_dir, &live, &s);
    let scores = all_scores(&fresh, &q);
    let exact = SearchParams::default();
    let refined = SearchParams {
        refine: Some(10_000),
        ..SearchParams::default()
    };
    for k in [1, 5, 20] {
        let want = vector_hits(&fresh, None, &q, k, &exact);
        for (index, p, tol) in [("ivf", exact, 1e-5), ("sq8", refined, 1e-6)] {
            let got = vector_hits(&kb, Some(index), &q, k, &p);
            assert_same_hits(&got, &want, &scores, tol, &format!("{index} k={k}"));
        }
        let got = vector_hits(&kb, Some("hnsw"), &q, k, &exact);
        assert_eq!(got[0].len(), k, "hnsw k={k}");
        assert!(
            got[0].iter().all(|(id, _)| !best.contains(id)),
            "hnsw k={k}"
        );
    }
}
