//! Single-thread analysis throughput on stdin lines (MB/s), per analyzer stage configuration.
//! `cargo run --release -p trawl-bm25 --example analysis_timing < lines.txt`

use std::io::Read;
use std::time::Instant;

use trawl_bm25::analysis::{tokenizer, Scratch};
use trawl_bm25::{Analyzer, AnalyzerConfig, Stemmer, Stopwords};

fn main() {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .expect("UTF-8 stdin");
    let lines: Vec<&str> = text.lines().collect();
    let mb = text.len() as f64 / 1e6;
    let time = |name: &str, f: &dyn Fn() -> usize| {
        let mut best = f64::MAX;
        let mut n = 0;
        for _ in 0..5 {
            let t = Instant::now();
            n = f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{name:<28} {:>8.1} MB/s  ({n} tokens)", mb / best);
    };
    time("tokenize", &|| {
        let mut n = 0;
        for l in &lines {
            tokenizer::tokenize(l, |_| n += 1);
        }
        n
    });
    let configs = [
        ("lowercase", Stopwords::None, Stemmer::None),
        ("lowercase+stop", Stopwords::LuceneEnglish, Stemmer::None),
        (
            "lowercase+stop+porter",
            Stopwords::LuceneEnglish,
            Stemmer::Porter,
        ),
        (
            "lowercase+stop+snowball",
            Stopwords::LuceneEnglish,
            Stemmer::Snowball("english".into()),
        ),
    ];
    for (name, stopwords, stemmer) in configs {
        let a = Analyzer::new(&AnalyzerConfig {
            stopwords,
            stemmer,
            ..AnalyzerConfig::default()
        })
        .unwrap();
        time(name, &|| {
            let mut s = Scratch::default();
            let mut n = 0;
            for l in &lines {
                a.analyze_with(l, &mut s, |_| n += 1);
            }
            n
        });
    }
}
