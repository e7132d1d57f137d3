//! Pruned vs exhaustive search on one thread, in one process, over a BEIR folder (all queries)
//! or a generated Zipfian corpus; checks that both return identical hits. For tuning; the
//! benchmark with peers is bench/bm25_scale.sh.
//! `cargo run --release -p trawl-bm25 --example prune_timing -- (DIR | --generate DOCS) [QUERIES]`
//! (`PRUNE_TIMING_OPEN=BM25_DIR` searches that saved index with DIR's queries instead of
//! building one from DIR's corpus; `PRUNE_TIMING_QUERY_STATS=1` prints where the queries'
//! postings are instead of timing).

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trawl_bm25::{AnalyzerConfig, Bm25Builder, Bm25Index, Bm25Params, Strategy};
use trawl_data::beir::BeirDataset;

// The generated-corpus tests' words, so the timings describe the corpus those tests prune.
#[path = "../tests/common/mod.rs"]
mod common;
use common::word;

/// Zipf(1.1) over 300k words, ~56 words per document; queries of 2-10 words without the 20
/// most frequent (as bench/bm25_scale.py).
fn generate(docs: usize, queries: usize) -> (Vec<String>, Vec<String>) {
    let vocab = 300_000;
    let mut acc = 0.0;
    let cdf: Vec<f64> = (1..=vocab)
        .map(|r| {
            acc += 1.0 / (r as f64).powf(1.1);
            acc
        })
        .collect();
    let cdf: Vec<f64> = cdf.iter().map(|c| c / acc).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let sample = |rng: &mut ChaCha8Rng, lo: f64| {
        let u: f64 = rng.random_range(lo..1.0);
        cdf.partition_point(|&c| c < u).min(vocab - 1)
    };
    let texts = (0..docs)
        .map(|_| {
            let n = rng.random_range(28..84);
            (0..n)
                .map(|_| word(sample(&mut rng, 0.0)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let qs = (0..queries)
        .map(|_| {
            let n = rng.random_range(2..=10);
            (0..n)
                .map(|_| word(sample(&mut rng, cdf[19])))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    (texts, qs)
}

/// Postings in the lists of the query's terms.
fn postings_of(index: &Bm25Index, query: &str) -> u64 {
    index
        .analyzer()
        .analyze(query)
        .iter()
        .map(|t| index.doc_freq(t))
        .sum()
}

type Bits = Vec<Vec<(u32, u32)>>;

fn time(index: &Bm25Index, queries: &[String], k: usize, strategy: Strategy) -> (f64, Bits) {
    index.set_strategy(strategy);
    let start = Instant::now();
    let out: Vec<_> = queries
        .iter()
        .map(|q| {
            let hits = index.search(q, k);
            hits.iter().map(|h| (h.doc, h.score.to_bits())).collect()
        })
        .collect();
    (queries.len() as f64 / start.elapsed().as_secs_f64(), out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let nq: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let (texts, queries) = if args.first().map(String::as_str) == Some("--generate") {
        generate(args.get(1).ok_or("--generate DOCS")?.parse()?, nq)
    } else {
        let beir = BeirDataset::open(args.first().ok_or("usage: DIR | --generate DOCS")?)?;
        let texts = if std::env::var_os("PRUNE_TIMING_OPEN").is_some() {
            Vec::new()
        } else {
            beir.read_corpus()?
                .map(|d| d.map(|d| format!("{}\n{}", d.title, d.text)))
                .collect::<Result<_, _>>()?
        };
        let qs = beir.read_queries()?.into_iter().map(|q| q.text).collect();
        (texts, qs)
    };
    if let Ok(c) = std::env::var("PRUNE_TIMING_TAAT_CHUNK") {
        // Term-at-a-time in chunks of this many documents (a multiple of 64), for tuning.
        trawl_bm25::set_taat_chunk_for_tests(c.parse()?);
    }
    if let Ok(c) = std::env::var("PRUNE_TIMING_EX_CHUNK") {
        // The exhaustive search in chunks of this many documents (a multiple of 64), for tuning.
        trawl_bm25::set_exhaustive_chunk_for_tests_on_this_thread(c.parse()?);
    }
    let start = Instant::now();
    let index = if let Some(dir) = std::env::var_os("PRUNE_TIMING_OPEN") {
        // A saved index over the same corpus (e.g. a KB's bm25 folder built by
        // bench/bm25_scale.sh) instead of building one.
        Bm25Index::open(std::path::Path::new(&dir))?
    } else {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut b = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default())?;
        b.add_documents(&refs);
        b.build()?
    };
    eprintln!(
        "{} docs, {} postings, built in {:.1?}",
        index.num_docs(),
        index.num_postings(),
        start.elapsed()
    );
    if std::env::var_os("PRUNE_TIMING_QUERY_STATS").is_some() {
        // Where a query's postings are: its terms grouped by the share of documents holding
        // them, postings per query in each group (what a pruned search cannot skip: the lists
        // whose bounds add up to θ or more must be read whole).
        let n = index.num_docs() as f64;
        let groups = [0.001, 0.01, 0.03, 1.0 / 16.0, f64::INFINITY];
        let names = ["< 0.1%", "0.1-1%", "1-3%", "3-6.25%", ">= 6.25%"];
        let mut postings = [0f64; 5];
        for q in &queries {
            for term in index.analyzer().analyze(q) {
                let df = index.doc_freq(&term) as f64;
                let g = groups.iter().position(|&g| df / n < g).unwrap_or(4);
                postings[g] += df;
            }
        }
        let nq = queries.len() as f64;
        let total: f64 = postings.iter().sum();
        println!("postings per query: {:.0}", total / nq);
        for (name, p) in names.iter().zip(postings) {
            println!(
                "  terms in {name:>8} of documents: {:>8.0} ({:.0}%)",
                p / nq,
                100.0 * p / total
            );
        }
        return Ok(());
    }
    if let Ok(k) = std::env::var("PRUNE_TIMING_PER_QUERY") {
        // For tuning Auto: per query, DAAT's time over the exhaustive one (best of 3 each),
        // grouped by the query's postings per wanted hit.
        let k: usize = k.parse()?;
        let best = |q: &str, s: Strategy| {
            index.set_strategy(s);
            (0..3)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(index.search(q, k));
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min)
        };
        let mut rows: Vec<(f64, f64, f64)> = queries
            .iter()
            .map(|q| {
                let postings = postings_of(&index, q);
                (
                    postings as f64 / k as f64,
                    best(q, Strategy::Exhaustive),
                    best(q, Strategy::DocAtATime),
                )
            })
            .collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        for chunk in rows.chunks(rows.len().div_ceil(10).max(1)) {
            let (ex, daat): (f64, f64) =
                chunk.iter().fold((0.0, 0.0), |a, r| (a.0 + r.1, a.1 + r.2));
            let wins = chunk.iter().filter(|r| r.2 < r.1).count();
            println!(
                "postings/k {:>9.0}-{:<9.0}: exhaustive {:.3} ms, DAAT {:.3} ms per query ({:.2}x); DAAT faster on {wins}/{}",
                chunk[0].0,
                chunk[chunk.len() - 1].0,
                ex * 1e3 / chunk.len() as f64,
                daat * 1e3 / chunk.len() as f64,
                ex / daat,
                chunk.len()
            );
        }
        return Ok(());
    }
    if let Ok(k) = std::env::var("PRUNE_TIMING_COMPARE") {
        // For choosing Auto: per query, every strategy's time (best of 2), summed per tenth of
        // the queries ordered by postings (all terms' document frequencies) per wanted hit.
        let k: usize = k.parse()?;
        let strategies = [
            Strategy::Exhaustive,
            Strategy::DocAtATime,
            Strategy::Windowed,
            Strategy::BlockMaxWand,
            Strategy::TermAtATime,
            Strategy::Auto,
        ];
        // PRUNE_TIMING_ONLY=Exhaustive,TermAtATime: those strategies only.
        let only = std::env::var("PRUNE_TIMING_ONLY").unwrap_or_default();
        let strategies: Vec<Strategy> = strategies
            .into_iter()
            .filter(|s| only.is_empty() || only.split(',').any(|o| o == format!("{s:?}")))
            .collect();
        let mut rows: Vec<(f64, Vec<f64>)> = Vec::new();
        let mut work = vec![(0u64, 0u64); strategies.len()];
        let mut all_postings = 0u64;
        let mut differing = 0;
        for q in &queries {
            let postings = postings_of(&index, q);
            all_postings += postings;
            let want = index.search_exhaustive(q, k);
            let times = strategies
                .iter()
                .zip(work.iter_mut())
                .map(|(&s, w)| {
                    index.set_strategy(s);
                    let mut best = f64::INFINITY;
                    for _ in 0..2 {
                        let t = Instant::now();
                        let got = std::hint::black_box(index.search(q, k));
                        best = best.min(t.elapsed().as_secs_f64());
                        if got != want {
                            differing += 1;
                        }
                    }
                    let (decoded, scored) = trawl_bm25::take_counters();
                    w.0 += decoded / 2;
                    w.1 += scored / 2;
                    best
                })
                .collect();
            rows.push((postings as f64 / k as f64, times));
        }
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        println!("k={k}: ms per query ({strategies:?}); differing {differing}");
        let mut total = vec![0.0; strategies.len()];
        for chunk in rows.chunks(rows.len().div_ceil(10).max(1)) {
            let mut sum = vec![0.0; strategies.len()];
            for r in chunk {
                for (s, t) in sum.iter_mut().zip(&r.1) {
                    *s += t;
                }
            }
            for (t, s) in total.iter_mut().zip(&sum) {
                *t += s;
            }
            let cells: Vec<String> = sum
                .iter()
                .map(|s| format!("{:7.3}", s * 1e3 / chunk.len() as f64))
                .collect();
            println!(
                "postings/k {:>9.0}-{:<9.0}: {}",
                chunk[0].0,
                chunk[chunk.len() - 1].0,
                cells.join(" ")
            );
        }
        let cells: Vec<String> = total
            .iter()
            .map(|s| format!("{:7.0}", rows.len() as f64 / s))
            .collect();
        println!("queries/s (sum of per-query bests): {}", cells.join(" "));
        let nqf = rows.len() as f64;
        println!(
            "per query: {:.0} postings in the query's lists; pruned strategies decoded / scored: {}",
            all_postings as f64 / nqf,
            work.iter()
                .map(|w| format!("{:.0} / {:.0}", w.0 as f64 / nqf, w.1 as f64 / nqf))
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(());
    }
    if let Ok(k) = std::env::var("PRUNE_TIMING_DAAT_ONLY") {
        // For profiling one path: repeated searches at this k, DAAT MaxScore or the strategy of
        // PRUNE_TIMING_STRATEGY (taat, exhaustive, auto, windowed).
        let k: usize = k.parse()?;
        let strategy = match std::env::var("PRUNE_TIMING_STRATEGY").as_deref() {
            Ok("taat") => Strategy::TermAtATime,
            Ok("exhaustive") => Strategy::Exhaustive,
            Ok("auto") => Strategy::Auto,
            Ok("windowed") => Strategy::Windowed,
            _ => Strategy::DocAtATime,
        };
        for _ in 0..5 {
            let (qps, _) = time(&index, &queries, k, strategy);
            println!("k={k}: {strategy:?} {qps:.0} q/s");
        }
        return Ok(());
    }
    for k in [10, 1000] {
        let (ex_qps, ex) = time(&index, &queries, k, Strategy::Exhaustive);
        let (daat_qps, daat) = time(&index, &queries, k, Strategy::DocAtATime);
        let (win_qps, win) = time(&index, &queries, k, Strategy::Windowed);
        println!(
            "k={k}: exhaustive {ex_qps:.0} q/s; block-max MaxScore DAAT {daat_qps:.0} q/s ({:.2}x, \
             identical: {}), windowed {win_qps:.0} q/s ({:.2}x, identical: {})",
            daat_qps / ex_qps,
            daat == ex,
            win_qps / ex_qps,
            win == ex
        );
    }
    Ok(())
}
