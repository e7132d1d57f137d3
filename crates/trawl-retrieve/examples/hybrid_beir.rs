//! Hybrid vs single retrievers on a BEIR dataset: nDCG@10 and Recall@100 of BM25, dense, and
//! hybrid fusion (RRF k=60, min-max sum, z-score sum; equal weights, 100 candidates each).
//!
//! cargo run --release -p trawl-retrieve --features dense --example hybrid_beir -- \
//!     ../shared/data/beir/scifact models/all-MiniLM-L6-v2 target/kb-scifact-minilm
//!
//! The KB (BM25 + the model's document vectors, `title text`) is built into the third argument
//! once and reused; `trawl serve` can serve it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use trawl_data::beir::BeirDataset;
use trawl_data::Run;
use trawl_eval::{evaluate, EvalOptions, Metric};
use trawl_kb::{DenseEmbeddings, KbBuildOptions, KnowledgeBase};
use trawl_retrieve::{
    Bm25Retriever, Fusion, HybridConfig, HybridRetriever, Normalization, Retriever,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn open_or_build(beir: &BeirDataset, model: &str, dir: &PathBuf) -> Res<KnowledgeBase> {
    if let Ok(kb) = KnowledgeBase::open(dir) {
        if kb.vectors().is_some() {
            eprintln!("reusing {}", dir.display());
            return Ok(kb);
        }
    }
    let docs: Vec<trawl_data::Document> = beir.read_corpus()?.collect::<Result<_, _>>()?;
    let enc = trawl_embed::SentenceEncoder::load(model, &Default::default())?;
    let texts: Vec<String> = docs
        .iter()
        .map(|d| format!("{} {}", d.title, d.text).trim().to_string())
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let t = Instant::now();
    let emb = enc.encode_documents(&refs)?;
    eprintln!(
        "encoded {} documents in {:.1} s",
        emb.n,
        t.elapsed().as_secs_f64()
    );
    let opts = KbBuildOptions {
        dense: Some(DenseEmbeddings::new(emb.data, emb.dim, model)),
        overwrite: true,
        ..KbBuildOptions::default()
    };
    Ok(KnowledgeBase::build(
        docs.into_iter().map(Ok),
        dir,
        &opts,
        |_| {},
    )?)
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [beir, model, kb_dir] = args.as_slice() else {
        return Err("usage: hybrid_beir BEIR_DIR MODEL KB_DIR".into());
    };
    let ds = BeirDataset::open(beir)?;
    let kb = Arc::new(open_or_build(&ds, model, &PathBuf::from(kb_dir))?);
    let qrels = ds.read_qrels("test")?;
    let queries: Vec<_> = ds
        .read_queries()?
        .into_iter()
        .filter(|q| qrels.get(&q.id).is_some())
        .collect();
    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let bm25: Arc<dyn Retriever> = Arc::new(Bm25Retriever::new(kb.clone())?);
    let dense = trawl_retrieve::open_dense(kb.clone(), Some(model))?;
    let hybrid = |name: &str, fusion| -> Res<Arc<dyn Retriever>> {
        Ok(Arc::new(HybridRetriever::new(
            name,
            vec![bm25.clone(), dense.clone()],
            HybridConfig {
                fusion,
                ..HybridConfig::default()
            },
        )?))
    };
    let retrievers = vec![
        bm25.clone(),
        dense.clone(),
        hybrid("hybrid rrf k=60", Fusion::Rrf { k: 60.0 })?,
        hybrid(
            "hybrid min-max sum",
            Fusion::WeightedSum(Normalization::MinMax),
        )?,
        hybrid(
            "hybrid z-score sum",
            Fusion::WeightedSum(Normalization::ZScore),
        )?,
    ];
    let metrics: Vec<Metric> = vec!["ndcg@10".parse()?, "recall@100".parse()?];
    println!(
        "{} ({} test queries, {} docs), dense model {model}",
        beir,
        queries.len(),
        kb.num_docs()
    );
    println!(
        "{:<20} {:>9} {:>11} {:>9}",
        "retriever", "nDCG@10", "Recall@100", "seconds"
    );
    for r in &retrievers {
        let t = Instant::now();
        let rankings = r.retrieve_batch(&texts, 100)?;
        let secs = t.elapsed().as_secs_f64();
        let mut run = Run::new();
        for (q, ranking) in queries.iter().zip(&rankings) {
            for d in ranking {
                run.push(q.id.as_str(), &*d.id, d.score as f64);
            }
        }
        let e = evaluate(&qrels, &run, &metrics, &EvalOptions::default())?;
        println!(
            "{:<20} {:>9.4} {:>11.4} {:>9.2}",
            r.name(),
            e.mean[0],
            e.mean[1],
            secs
        );
    }
    Ok(())
}
