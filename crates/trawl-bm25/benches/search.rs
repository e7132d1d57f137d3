//! Search and build throughput on a seeded synthetic corpus with a Zipfian vocabulary.
//! Run: `cargo bench -p trawl-bm25 --bench search`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trawl_bm25::{AnalyzerConfig, Bm25Builder, Bm25Index, Bm25Params};

const VOCAB: usize = 50_000;

/// Words like "w123" drawn from a Zipf(1.0) distribution over `VOCAB` ranks.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Self {
        let mut acc = 0.0;
        let cdf = (1..=n)
            .map(|r| {
                acc += 1.0 / r as f64;
                acc
            })
            .collect::<Vec<_>>();
        let total = acc;
        Zipf {
            cdf: cdf.into_iter().map(|c| c / total).collect(),
        }
    }
    fn sample(&self, rng: &mut ChaCha8Rng) -> usize {
        let u: f64 = rng.random();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

fn word(rank: usize) -> String {
    // Letters only, so the stemmer sees word-like tokens.
    let mut s = String::from("w");
    let mut r = rank;
    loop {
        s.push((b'a' + (r % 26) as u8) as char);
        r /= 26;
        if r == 0 {
            break;
        }
    }
    s
}

fn corpus(docs: usize, seed: u64) -> (Vec<String>, Vec<String>) {
    let z = Zipf::new(VOCAB);
    let words: Vec<String> = (0..VOCAB).map(word).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let texts = (0..docs)
        .map(|_| {
            let len = rng.random_range(30..90);
            (0..len)
                .map(|_| words[z.sample(&mut rng)].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let queries = (0..500)
        .map(|_| {
            let len = rng.random_range(2..8);
            (0..len)
                .map(|_| words[z.sample(&mut rng)].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    (texts, queries)
}

fn build(texts: &[String]) -> Bm25Index {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut b = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default()).unwrap();
    b.add_documents(&refs);
    b.build().unwrap()
}

fn bench(c: &mut Criterion) {
    let (texts, queries) = corpus(100_000, 7);
    let qrefs: Vec<&str> = queries.iter().map(String::as_str).collect();

    let mut g = c.benchmark_group("build");
    g.sample_size(10);
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function("100k_docs", |b| b.iter(|| build(&texts)));
    g.finish();

    let index = build(&texts);
    let mut g = c.benchmark_group("search");
    g.throughput(Throughput::Elements(qrefs.len() as u64));
    for k in [10, 1000] {
        g.bench_function(format!("100k_docs_500q_k{k}_single_thread"), |b| {
            b.iter(|| {
                qrefs
                    .iter()
                    .map(|q| index.search(q, k).len())
                    .sum::<usize>()
            })
        });
        g.bench_function(format!("100k_docs_500q_k{k}_batch"), |b| {
            b.iter(|| index.search_batch(&qrefs, k).len())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
