//! DARLING-style diversity on `POST /reward` of a real `trawl serve` with all-MiniLM-L6-v2:
//! identical rewrites form one class, unrelated ones separate classes, and the combined rewards
//! are the per-rewrite rewards times the share of other rewrites in another class.

use serde_json::{json, Value};

mod common;
use common::{model_dir, ok, trawl};

#[test]
fn reward_diversity_groups_rewrites_and_combines_as_darling() {
    let Some(model) = model_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs.jsonl");
    std::fs::write(
        &docs,
        r#"{"_id": "cats", "title": "Cats", "text": "Cats purr and chase mice around the house."}
{"_id": "volcano", "title": "Volcanoes", "text": "A volcano erupts lava and ash when magma rises."}
{"_id": "bread", "title": "Bread", "text": "Bake bread with flour, water, yeast and salt."}
"#,
    )
    .unwrap();
    let kb = tmp.path().join("kb");
    ok(&trawl(&[
        "kb",
        "build",
        docs.to_str().unwrap(),
        "--out",
        kb.to_str().unwrap(),
        "--bm25",
        "--dense",
        model.to_str().unwrap(),
    ]));
    let server = common::serve(&kb);
    let post = |body: &Value| server.post("/reward", body);
    let rewrites = [
        "why do cats purr",
        "why do cats purr",
        "how to bake bread with yeast",
        "volcanic eruption of lava",
    ];
    let (status, v) = post(&json!({
        "items": [{"relevant": ["cats"], "queries": rewrites}],
        "k": 3, "retriever": "bm25",
        "diversity": {"method": "embedding", "threshold": 0.5},
    }));
    assert_eq!(status, 200, "{v}");
    let r = &v["results"][0];
    let d = &r["diversity"];
    assert_eq!(d["classes"], json!([0, 0, 1, 2]), "{d}");
    assert_eq!(d["num_classes"], 3);
    let q: Vec<f64> = r["per_query"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(
        q[0], 1.0,
        "the cats rewrites find the relevant document first"
    );
    let div = [2.0 / 3.0, 2.0 / 3.0, 1.0, 1.0];
    let rewards: Vec<f64> = d["rewards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    for i in 0..4 {
        assert!(
            (rewards[i] - q[i] * div[i]).abs() < 1e-9,
            "{rewards:?} {q:?}"
        );
    }
    let mean = rewards.iter().sum::<f64>() / 4.0;
    assert!((d["reward"].as_f64().unwrap() - mean).abs() < 1e-9);

    let (status, v) = post(&json!({
        "items": [{"relevant": ["cats"], "queries": rewrites}],
        "diversity": {"method": "embedding", "threshold": 0.5, "combine": "classes"},
    }));
    assert_eq!(status, 200, "{v}");
    let d = &v["results"][0]["diversity"];
    assert!(
        (d["rewards"][0].as_f64().unwrap() - 0.75).abs() < 1e-9,
        "1.0 x 3 classes / 4 rewrites: {d}"
    );

    let (status, v) = post(&json!({
        "items": [{"relevant": ["cats"], "queries": rewrites}],
        "diversity": {"method": "cross-encoder"},
    }));
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("use \"embedding\""),
        "{v}"
    );
}
