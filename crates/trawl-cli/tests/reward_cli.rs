//! `trawl reward` scores a file of rollouts with the same numbers as the reward library call
//! behind `POST /reward`, from JSONL or parquet to JSONL or parquet.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use trawl_parquet::{write_table, Column, ColumnData, ParquetTable};
use trawl_retrieve::{
    compute_rewards, Bm25Retriever, Labels, RewardItem, RewardSpec, UnknownUidPolicy,
};

fn trawl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(args)
        .output()
        .expect("run trawl")
}

fn sample() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample")
}

/// (uid, rewrites) rows: real sample queries, paraphrases, an unlabelled uid.
fn rollouts() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        (
            "q1",
            vec![
                "how does bottom trawling damage the seabed",
                "seabed damage trawl",
            ],
        ),
        ("q2", vec!["reducing bycatch in trawl nets"]),
        (
            "q3",
            vec!["rust borrow checker", "ownership in rust", "lifetimes"],
        ),
        ("q4", vec!["something unrelated entirely"]),
        ("nope", vec!["a uid without labels"]),
    ]
}

#[test]
fn rewards_equal_the_library_call_for_jsonl_and_parquet() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = tmp.path().join("kb");
    let o = trawl(&[
        "kb",
        "build",
        sample().to_str().unwrap(),
        "--out",
        kb.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let labels = sample().join("qrels/test.tsv");

    // Expected: the library call that POST /reward makes.
    let retriever =
        Bm25Retriever::new(Arc::new(trawl_kb::KnowledgeBase::open(&kb).unwrap())).unwrap();
    let items: Vec<RewardItem> = rollouts()
        .iter()
        .map(|(u, q)| RewardItem {
            uid: u.to_string(),
            queries: q.iter().map(|s| s.to_string()).collect(),
            relevant: None,
        })
        .collect();
    let spec = RewardSpec {
        k: 10,
        mode: "union".parse().unwrap(),
        fusion: Default::default(),
        metric: "ndcg@10".parse().unwrap(),
        unknown_uid: UnknownUidPolicy::Error,
    };
    let want = compute_rewards(
        &retriever,
        &items,
        Some(&Labels::load(&labels).unwrap()),
        &spec,
    )
    .unwrap();
    assert!(
        want.iter().filter_map(|r| r.reward).any(|r| r > 0.0),
        "a test that can fail"
    );

    // JSONL in (list column), parquet out.
    let data = tmp.path().join("rollouts.jsonl");
    let lines: Vec<String> = rollouts()
        .iter()
        .map(|(u, q)| serde_json::json!({"uid": u, "rewrites": q, "prompt": "x"}).to_string())
        .collect();
    std::fs::write(&data, lines.join("\n")).unwrap();
    let out = tmp.path().join("rewards.parquet");
    let args = |data: &Path, out: &Path| -> Vec<String> {
        [
            "reward",
            "--kb",
            kb.to_str().unwrap(),
            "--labels",
            labels.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--column",
            "rewrites",
            "--mode",
            "union",
            "--method",
            "ndcg",
            "-k",
            "10",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a = args(&data, &out);
    let o = trawl(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = ParquetTable::open(&out)
        .unwrap()
        .read_columns(&["uid", "reward", "error"])
        .unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g[0], w.uid.as_str());
        assert_eq!(g[1].as_f64(), w.reward, "uid {}", w.uid);
        assert_eq!(g[2].as_str().is_some(), w.error.is_some());
    }

    // Parquet in (one rewrite per row, string column), JSONL out: the single-rewrite numbers.
    let pq = tmp.path().join("rollouts.parquet");
    write_table(
        &pq,
        &[
            Column {
                name: "uid".into(),
                data: ColumnData::Utf8(
                    rollouts()
                        .iter()
                        .map(|(u, _)| Some(u.to_string()))
                        .collect(),
                ),
            },
            Column {
                name: "rewrites".into(),
                data: ColumnData::Utf8(
                    rollouts()
                        .iter()
                        .map(|(_, q)| Some(q[0].to_string()))
                        .collect(),
                ),
            },
        ],
    )
    .unwrap();
    let out_jsonl = tmp.path().join("rewards.jsonl");
    let a = args(&pq, &out_jsonl);
    let o = trawl(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let firsts: Vec<RewardItem> = items
        .iter()
        .map(|i| RewardItem {
            queries: vec![i.queries[0].clone()],
            ..i.clone()
        })
        .collect();
    let want1 = compute_rewards(
        &retriever,
        &firsts,
        Some(&Labels::load(&labels).unwrap()),
        &spec,
    )
    .unwrap();
    let text = std::fs::read_to_string(&out_jsonl).unwrap();
    assert_eq!(text.lines().count(), want1.len());
    for (line, w) in text.lines().zip(&want1) {
        // Compared as written text: serde_json's default float parsing may be 1 ulp off.
        let reward = serde_json::to_string(&w.reward).unwrap();
        assert!(
            line.contains(&format!("\"reward\":{reward}")),
            "uid {}: {line} vs {reward}",
            w.uid
        );
    }

    // A parquet file without the named column: the columns present are named.
    let mut a = args(&pq, &out_jsonl);
    let col = a.iter().position(|s| s == "rewrites").unwrap();
    a[col] = "responses".into();
    let o = trawl(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success()
            && err.contains("no column `responses`")
            && err.contains("`uid`, `rewrites`"),
        "{err}"
    );
}
