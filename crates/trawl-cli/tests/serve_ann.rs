//! `trawl serve` with approximate indexes: `"vector": [...]` on POST /search (no model needed),
//! per-request `index`/`ef`/`nprobe`/`refine`, and the 400s of bad vectors, names and knobs.

mod common;

use serde_json::{json, Value};
use trawl_data::Document;
use trawl_kb::{AnnParams, DenseEmbeddings, KbBuildOptions, KnowledgeBase, SearchParams};

const N: usize = 300;
const DIM: usize = 16;

/// Clustered unit vectors from a SplitMix-style hash (no RNG crate).
fn vectors() -> Vec<f32> {
    let h = |x: u64| {
        let mut z = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut out = Vec::with_capacity(N * DIM);
    for i in 0..N {
        let c = (i % 12) as u64;
        let row: Vec<f32> = (0..DIM)
            .map(|d| h(1_000_000 + c * 1000 + d as u64) + 0.5 * h((i * DIM + d) as u64))
            .collect();
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        out.extend(row.iter().map(|x| x / norm));
    }
    out
}

/// A BM25 + dense KB whose model is not installed (only vector search can reach its vectors),
/// with an HNSW index `h` and an IVF index `ivf` of 8 lists.
fn kb(dir: &std::path::Path) -> (KnowledgeBase, Vec<f32>) {
    let docs = (0..N).map(|i| {
        Ok(Document {
            id: format!("d{i}"),
            title: format!("title {i}"),
            text: format!("document number {i}"),
            metadata: Default::default(),
        })
    });
    let v = vectors();
    let options = KbBuildOptions {
        dense: Some(DenseEmbeddings::new(v.clone(), DIM, "no-such-model")),
        ..Default::default()
    };
    let mut kb = KnowledgeBase::build(docs, dir, &options, |_| {}).unwrap();
    let hnsw = AnnParams::Hnsw {
        m: 8,
        ef_construction: 100,
        ef_search: 16,
        seed: 1,
        storage: Default::default(),
    };
    kb.add_ann("h", hnsw).unwrap();
    let ivf = AnnParams::Ivf {
        nlist: 8,
        nprobe: 1,
        train_size: None,
        seed: 1,
    };
    kb.add_ann("ivf", ivf).unwrap();
    (kb, v)
}

fn ids(v: &Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits: {v}"))
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn search_by_vector_through_each_index_answers_like_the_kb_and_rejects_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kb");
    let (kb, v) = kb(&dir);
    let srv = common::serve(&dir);
    let row = |i: usize| v[i * DIM..(i + 1) * DIM].to_vec();

    for (index, extra) in [
        ("exact", json!({})),
        ("h", json!({"ef": 64})),
        ("ivf", json!({"nprobe": 8})),
    ] {
        for i in [0, 7, 123, 299] {
            let mut body = json!({"vector": row(i), "k": 5, "index": index});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let (s, got) = srv.post("/search", &body);
            assert_eq!(s, 200, "{index}: {got}");
            let p = SearchParams {
                ef: extra["ef"].as_u64().map(|x| x as usize),
                nprobe: extra["nprobe"].as_u64().map(|x| x as usize),
                refine: None,
            };
            let want = kb
                .search_vectors(Some(index), &row(i), 1, 5, &p)
                .unwrap()
                .remove(0);
            let want_ids: Vec<String> = want.iter().map(|h| h.id.clone()).collect();
            assert_eq!(ids(&got), want_ids, "{index}, row {i}");
            assert_eq!(
                ids(&got)[0],
                format!("d{i}"),
                "{index}: a document finds itself"
            );
            let score = got["hits"][0]["score"].as_f64().unwrap();
            assert!(
                (score - want[0].score as f64).abs() < 1e-6,
                "{index}: {got}"
            );
            assert_eq!(got["hits"][0]["title"], format!("title {i}"));
        }
    }
    // No index named: the exact index, the same as "exact"; probing every IVF list is exact.
    let (_, plain) = srv.post("/search", &json!({"vector": row(42), "k": 10}));
    let (_, exact) = srv.post(
        "/search",
        &json!({"vector": row(42), "k": 10, "index": "exact"}),
    );
    let (_, ivf_all) = srv.post(
        "/search",
        &json!({"vector": row(42), "k": 10, "index": "ivf", "nprobe": 8}),
    );
    assert_eq!(ids(&plain), ids(&exact));
    assert_eq!(ids(&plain), ids(&ivf_all));
    // The per-request knob is honoured: one probed list (the index's default) misses some of
    // the 50 nearest, all 8 lists find them.
    let top50 = |extra: Value| {
        let mut body = json!({"vector": row(42), "k": 50, "index": "ivf"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        ids(&srv.post("/search", &body).1)
    };
    let (_, exact50) = srv.post("/search", &json!({"vector": row(42), "k": 50}));
    assert_ne!(top50(json!({})), ids(&exact50));
    assert_eq!(top50(json!({"nprobe": 8})), ids(&exact50));

    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "/search",
            json!({"vector": [0.5, 0.5, 0.5]}),
            "vector",
            "vector has 3 values but the `exact` index holds 16-dimensional vectors",
        ),
        (
            "/search",
            json!({"vector": vec![1e39f64; DIM], "index": "h"}),
            "vector[0]",
            "number out of range",
        ),
        (
            "/search",
            json!({"vector": row(1), "index": "nope"}),
            "index",
            "no vector index named `nope` (it has: exact, h, ivf)",
        ),
        (
            "/search",
            json!({"vector": row(1), "ef": 0}),
            "ef",
            "between 1 and",
        ),
        (
            "/search",
            json!({"vector": row(1), "retriever": "bm25"}),
            "retriever",
            "`vector` searches the KB's vector index",
        ),
        (
            "/search",
            json!({"vector": row(1), "query": "document"}),
            "vector",
            "not both",
        ),
        ("/search", json!({"k": 3}), "query", "missing `query`"),
        (
            "/search",
            json!({"query": "document", "index": "h"}),
            "index",
            "uses the `bm25` retriever",
        ),
        (
            "/reward",
            json!({"items": [{"queries": ["document"], "relevant": ["d1"]}], "nprobe": 4}),
            "index",
            "uses the `bm25` retriever",
        ),
    ];
    for (path, body, field, message) in &cases {
        let (s, got) = srv.post(path, body);
        assert_eq!(s, 400, "{path} {body} -> {got}");
        assert_eq!(got["field"], *field, "{path} {body} -> {got}");
        assert!(
            got["error"].as_str().unwrap().contains(message),
            "{path} {body} -> {got}"
        );
    }
    // Text queries without index fields still work as before.
    let (s, got) = srv.post("/search", &json!({"query": "document number 5", "k": 3}));
    assert_eq!(s, 200, "{got}");
}
