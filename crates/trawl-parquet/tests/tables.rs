//! Parquet round trips, list columns as RL trainers write them, and the missing-column error.

use std::sync::Arc;

use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde_json::json;
use trawl_parquet::{read_qrels, read_queries, write_table, Column, ColumnData, ParquetTable};

fn strs(v: &[Option<&str>]) -> ColumnData {
    ColumnData::Utf8(v.iter().map(|s| s.map(str::to_string)).collect())
}

#[test]
fn written_columns_read_back_with_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rewards.parquet");
    let cols = vec![
        Column {
            name: "uid".into(),
            data: strs(&[Some("a"), Some("b"), Some("c")]),
        },
        Column {
            name: "reward".into(),
            data: ColumnData::F64(vec![Some(0.5), None, Some(1.0)]),
        },
        Column {
            name: "n".into(),
            data: ColumnData::I64(vec![Some(7), Some(-1), None]),
        },
    ];
    write_table(&path, &cols).unwrap();
    let t = ParquetTable::open(&path).unwrap();
    assert_eq!(t.column_names(), ["uid", "reward", "n"]);
    assert_eq!(t.num_rows(), 3);
    let rows = t.read_columns(&["reward", "uid"]).unwrap();
    assert_eq!(
        rows,
        vec![
            vec![json!(0.5), json!("a")],
            vec![json!(null), json!("b")],
            vec![json!(1.0), json!("c")]
        ]
    );
    assert_eq!(t.read_rows().unwrap()[1]["n"], json!(-1));
}

#[test]
fn a_missing_column_names_the_columns_present() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.parquet");
    write_table(
        &path,
        &[Column {
            name: "prompt".into(),
            data: strs(&[Some("p")]),
        }],
    )
    .unwrap();
    let err = ParquetTable::open(&path)
        .unwrap()
        .read_columns(&["rewrites"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("x.parquet")
            && err.contains("no column `rewrites`")
            && err.contains("`prompt`"),
        "{err}"
    );
    let err = read_qrels(&path).unwrap_err().to_string();
    assert!(err.contains("the columns are `prompt`"), "{err}");
    std::fs::write(&path, b"not parquet at all").unwrap();
    let err = ParquetTable::open(&path).err().unwrap().to_string();
    assert!(
        err.contains("x.parquet") && err.contains("not a readable parquet file"),
        "{err}"
    );
}

/// A list<string> column and a struct column, written the way pyarrow lays them out.
#[test]
fn list_and_struct_columns_read_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rollouts.parquet");
    let schema = parse_message_type(
        "message schema {
            OPTIONAL group rewrites (LIST) { REPEATED group list { OPTIONAL BYTE_ARRAY element (UTF8); } }
            OPTIONAL group extra_info { OPTIONAL BYTE_ARRAY uid (UTF8); }
        }",
    )
    .unwrap();
    let file = std::fs::File::create(&path).unwrap();
    let mut w = SerializedFileWriter::new(
        file,
        Arc::new(schema),
        Arc::new(WriterProperties::default()),
    )
    .unwrap();
    let mut g = w.next_row_group().unwrap();
    // Rows: ["a b", "c"], ["d"].
    let mut c = g.next_column().unwrap().unwrap();
    let vals: Vec<ByteArray> = ["a b", "c", "d"]
        .iter()
        .map(|s| ByteArray::from(*s))
        .collect();
    c.typed::<ByteArrayType>()
        .write_batch(&vals, Some(&[3, 3, 3]), Some(&[0, 1, 0]))
        .unwrap();
    c.close().unwrap();
    let mut c = g.next_column().unwrap().unwrap();
    let vals: Vec<ByteArray> = ["q1", "q2"].iter().map(|s| ByteArray::from(*s)).collect();
    c.typed::<ByteArrayType>()
        .write_batch(&vals, Some(&[2, 2]), None)
        .unwrap();
    c.close().unwrap();
    g.close().unwrap();
    w.close().unwrap();
    let rows = ParquetTable::open(&path)
        .unwrap()
        .read_columns(&["extra_info.uid", "rewrites"])
        .unwrap();
    assert_eq!(
        rows,
        vec![
            vec![json!("q1"), json!(["a b", "c"])],
            vec![json!("q2"), json!(["d"])]
        ]
    );
}

#[test]
fn queries_and_qrels_with_beir_column_names() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("queries.parquet");
    write_table(
        &q,
        &[
            Column {
                name: "_id".into(),
                data: strs(&[Some("q1"), Some("q2")]),
            },
            Column {
                name: "text".into(),
                data: strs(&[Some("first"), Some("second")]),
            },
        ],
    )
    .unwrap();
    let queries = read_queries(&q).unwrap();
    assert_eq!(
        (queries[1].id.as_str(), queries[1].text.as_str()),
        ("q2", "second")
    );
    let r = dir.path().join("qrels.parquet");
    write_table(
        &r,
        &[
            Column {
                name: "query-id".into(),
                data: strs(&[Some("q1"), Some("q1"), Some("q2")]),
            },
            Column {
                name: "corpus-id".into(),
                data: strs(&[Some("d1"), Some("d2"), Some("d1")]),
            },
            Column {
                name: "score".into(),
                data: ColumnData::I64(vec![Some(2), Some(0), Some(1)]),
            },
        ],
    )
    .unwrap();
    let qrels = read_qrels(&r).unwrap();
    assert_eq!(qrels.get("q1").unwrap()["d1"], 2);
    assert_eq!(qrels.get("q2").unwrap()["d1"], 1);
    write_table(
        &r,
        &[
            Column {
                name: "query-id".into(),
                data: strs(&[Some("q1")]),
            },
            Column {
                name: "corpus-id".into(),
                data: strs(&[Some("d1")]),
            },
            Column {
                name: "score".into(),
                data: ColumnData::F64(vec![Some(1.5)]),
            },
        ],
    )
    .unwrap();
    let err = read_qrels(&r).unwrap_err().to_string();
    assert!(
        err.contains("row 1") && err.contains("integer grade"),
        "{err}"
    );
}

/// A table written batch by batch: full row groups go out as soon as they fill (only the rest
/// is held), the rows read back streamed equal the rows written, and an unfinished writer
/// leaves no file.
#[test]
fn tables_stream_in_and_out_by_row_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("streamed.parquet");
    let batch = |from: usize, n: usize| {
        vec![
            Column {
                name: "uid".into(),
                data: ColumnData::Utf8((from..from + n).map(|i| Some(format!("u{i}"))).collect()),
            },
            Column {
                name: "reward".into(),
                data: ColumnData::F64(
                    (from..from + n)
                        .map(|i| (i % 3 != 0).then_some(i as f64))
                        .collect(),
                ),
            },
        ]
    };
    let mut w = trawl_parquet::TableWriter::create(&path, &batch(0, 0))
        .unwrap()
        .with_row_group_rows(4);
    for from in (0..10).step_by(2) {
        w.append(&batch(from, 2)).unwrap();
    }
    w.append(&batch(10, 9)).unwrap();
    let wrong = vec![batch(0, 1)[1].clone(), batch(0, 1)[0].clone()];
    let err = w.append(&wrong).unwrap_err().to_string();
    assert!(
        err.contains("does not match the table's column `uid`"),
        "{err}"
    );
    assert!(!path.exists(), "nothing at the path before finish");
    w.finish().unwrap();

    let t = ParquetTable::open(&path).unwrap();
    assert_eq!((t.num_rows(), t.num_row_groups()), (19, 5));
    let mut rows = t.iter_columns(&["uid", "reward"]).unwrap();
    let first = rows.next().unwrap().unwrap();
    assert_eq!(first, vec![json!("u0"), json!(null)]);
    let rest: Vec<Vec<serde_json::Value>> = rows.map(Result::unwrap).collect();
    assert_eq!(rest.len(), 18);
    for (i, r) in rest.iter().enumerate() {
        let i = i + 1;
        assert_eq!(r[0], json!(format!("u{i}")));
        assert_eq!(r[1].as_f64(), (i % 3 != 0).then_some(i as f64));
    }
    assert_eq!(t.iter_rows().unwrap().count(), 19);

    let dropped = dir.path().join("dropped.parquet");
    let mut w = trawl_parquet::TableWriter::create(&dropped, &batch(0, 0)).unwrap();
    w.append(&batch(0, 3)).unwrap();
    drop(w);
    assert!(!dropped.exists(), "an unfinished table leaves no file");
}
