//! Where search time goes in a KB: the engine alone vs. the KB (ids attached).
//! `cargo run --release -p trawl-kb --example search_cost -- KB_DIR QUERIES.jsonl [K]`

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let kb = trawl_kb::KnowledgeBase::open(&args[1])?;
    let queries = trawl_data::read_queries(&args[2])?;
    let k: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let index = kb.bm25().ok_or("no bm25")?;
    let (mut be, mut bw, mut br) = (f64::MAX, f64::MAX, f64::MAX);
    for round in 0..10 {
        let t = Instant::now();
        let engine = index.search_batch(&texts, k);
        let e = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let with_ids = kb.search_bm25_batch(&texts, k)?;
        let w = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let refs = kb.search_bm25_batch_refs(&texts, k)?;
        let r = t.elapsed().as_secs_f64();
        assert!(refs.iter().zip(&with_ids).all(|(a, b)| a
            .iter()
            .map(|h| trawl_kb::KbHit::from(*h))
            .eq(b.iter().cloned())));
        (be, bw, br) = (be.min(e), bw.min(w), br.min(r));
        let hits: usize = engine.iter().map(Vec::len).sum();
        assert_eq!(hits, with_ids.iter().map(Vec::len).sum::<usize>());
        println!(
            "round {round}: {} queries, {hits} hits: engine {:.1} ms ({:.0} q/s), kb {:.1} ms ({:.0} q/s), kb refs {:.1} ms ({:.0} q/s)",
            texts.len(),
            e * 1e3,
            texts.len() as f64 / e,
            w * 1e3,
            texts.len() as f64 / w,
            r * 1e3,
            texts.len() as f64 / r
        );
    }
    let n = texts.len() as f64;
    println!(
        "best of 10: engine {:.0} q/s, kb (owned ids) {:.0} q/s, kb refs {:.0} q/s",
        n / be,
        n / bw,
        n / br
    );
    Ok(())
}
