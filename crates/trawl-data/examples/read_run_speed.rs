//! Times `read_run` / `read_qrels` on a file: `cargo run --release -p trawl-data --example
//! read_run_speed -- RUN [QRELS]`. Prints the median of 3 reads (the machine is noisy).

use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(run_path) = args.first() else {
        return Err("usage: read_run_speed RUN [QRELS]".into());
    };
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let opts = trawl_data::run::RunReadOptions {
            duplicates: if std::env::var_os("KEEP_ALL").is_some() {
                trawl_data::run::DuplicatePolicy::KeepAll
            } else {
                trawl_data::run::DuplicatePolicy::Error
            },
        };
        let run = trawl_data::run::read_run_with(run_path, &opts)?;
        times.push(t.elapsed().as_secs_f64());
        eprintln!(
            "run: {} queries, {} docs",
            run.num_queries(),
            run.num_docs()
        );
    }
    println!("read_run median {:.3}s", median(times));
    if let Some(q) = args.get(1) {
        let t = Instant::now();
        let qrels = trawl_data::read_qrels(q)?;
        println!(
            "read_qrels {:.3}s ({} judgements)",
            t.elapsed().as_secs_f64(),
            qrels.num_judgements()
        );
    }
    Ok(())
}
