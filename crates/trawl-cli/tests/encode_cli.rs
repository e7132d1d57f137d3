//! `trawl encode`: a .npy that numpy's header rules accept, ids beside it, clear errors.

use std::process::Command;

fn trawl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trawl"))
}

mod common;
use common::model_dir;

#[test]
fn encodes_documents_and_queries_into_npy_with_ids() {
    let Some(model) = model_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs.jsonl");
    std::fs::write(
        &docs,
        "{\"_id\": \"d1\", \"title\": \"Cats\", \"text\": \"Cats sleep a lot.\"}\n{\"_id\": \"d2\", \"text\": \"\"}\n{\"_id\": \"d3\", \"text\": \"東京 🧬\"}\n",
    )
    .unwrap();
    for (f16, descr, width) in [(false, "<f4", 4), (true, "<f2", 2)] {
        let out = tmp.path().join(format!("e{width}.npy"));
        let mut cmd = trawl();
        cmd.arg("encode")
            .arg(&model)
            .arg(&docs)
            .arg("--out")
            .arg(&out);
        if f16 {
            cmd.arg("--f16");
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let h = trawl_vector::npy::read_npy_header(&out).unwrap();
        assert_eq!(
            (h.descr.as_str(), h.shape.clone(), h.fortran_order),
            (descr, vec![3, 384], false)
        );
        assert_eq!(
            std::fs::metadata(&out).unwrap().len() as usize,
            h.data_offset + 3 * 384 * width
        );
        let ids = std::fs::read_to_string(tmp.path().join(format!("e{width}.ids.txt"))).unwrap();
        assert_eq!(ids.lines().collect::<Vec<_>>(), vec!["d1", "d2", "d3"]);
    }
    let queries = tmp.path().join("q.tsv");
    std::fs::write(&queries, "q1\twhy do cats sleep\nq2\tdogs\n").unwrap();
    let out = tmp.path().join("q.npy");
    let o = trawl()
        .arg("encode")
        .arg(&model)
        .arg(&queries)
        .arg("--out")
        .arg(&out)
        .arg("--queries")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        trawl_vector::npy::read_npy_header(&out).unwrap().shape,
        vec![2, 384]
    );
    // The same queries from parquet (`_id`, `text`): the same vectors and ids.
    let pq = tmp.path().join("q.parquet");
    let strs = |v: &[&str]| {
        trawl_parquet::ColumnData::Utf8(v.iter().map(|s| Some(s.to_string())).collect())
    };
    trawl_parquet::write_table(
        &pq,
        &[
            trawl_parquet::Column {
                name: "_id".into(),
                data: strs(&["q1", "q2"]),
            },
            trawl_parquet::Column {
                name: "text".into(),
                data: strs(&["why do cats sleep", "dogs"]),
            },
        ],
    )
    .unwrap();
    let out_pq = tmp.path().join("qp.npy");
    let o = trawl()
        .arg("encode")
        .arg(&model)
        .arg(&pq)
        .arg("--out")
        .arg(&out_pq)
        .arg("--queries")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&out_pq).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("q.ids.txt")).unwrap(),
        std::fs::read_to_string(tmp.path().join("qp.ids.txt")).unwrap()
    );
}

#[test]
fn a_missing_model_is_a_runtime_error_that_says_how_to_get_one() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs.jsonl");
    std::fs::write(&docs, "{\"_id\": \"d1\", \"text\": \"x\"}\n").unwrap();
    let out = tmp.path().join("x.npy");
    let o = trawl()
        .args(["encode", "nobody/no-such-model"])
        .arg(&docs)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not found") && err.contains("scripts/get-model.sh"),
        "{err}"
    );
    assert!(!out.exists(), "no output on failure");
}
