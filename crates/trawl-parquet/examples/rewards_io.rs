//! Writes and reads back an N-row rewards table (`uid`, `reward`, `error`) with trawl-parquet,
//! printing the median seconds of each as JSON. Used by bench/parquet_rewards.sh.
//! Usage: cargo run --release -p trawl-parquet --example rewards_io -- OUT.parquet [ROWS] [REPEAT]

use std::time::Instant;

use trawl_parquet::{write_table, Column, ColumnData, ParquetTable};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = std::path::PathBuf::from(args.get(1).expect("OUT.parquet"));
    let rows: usize = args.get(2).map_or(1_000_000, |s| s.parse().expect("ROWS"));
    let repeat: usize = args.get(3).map_or(3, |s| s.parse().expect("REPEAT"));
    // Same values as bench/parquet_rewards.py: uid "q{i}", reward (i % 1000) / 1000, no errors.
    let columns = vec![
        Column {
            name: "uid".into(),
            data: ColumnData::Utf8((0..rows).map(|i| Some(format!("q{i}"))).collect()),
        },
        Column {
            name: "reward".into(),
            data: ColumnData::F64(
                (0..rows)
                    .map(|i| Some((i % 1000) as f64 / 1000.0))
                    .collect(),
            ),
        },
        Column {
            name: "error".into(),
            data: ColumnData::Utf8(vec![None; rows]),
        },
    ];
    let (mut writes, mut reads) = (Vec::new(), Vec::new());
    let mut checksum = 0.0;
    for _ in 0..repeat {
        let t = Instant::now();
        write_table(&path, &columns).expect("write");
        writes.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let table = ParquetTable::open(&path).expect("open");
        let cells = table.read_columns(&["uid", "reward"]).expect("read");
        reads.push(t.elapsed().as_secs_f64());
        checksum = cells.iter().filter_map(|r| r[1].as_f64()).sum::<f64>();
        assert_eq!(cells.len(), rows);
    }
    println!(
        "{}",
        serde_json::json!({"rows": rows, "write_s": median(writes), "read_s": median(reads),
                           "bytes": std::fs::metadata(&path).unwrap().len(), "reward_sum": checksum})
    );
}
