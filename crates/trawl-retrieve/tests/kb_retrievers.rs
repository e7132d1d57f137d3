//! Retrievers over real knowledge bases: BM25 equals the KB's own search, batches equal single
//! queries, rewards on scifact BM25 rankings equal `trawl_eval::evaluate`, and (feature `dense`)
//! dense and hybrid retrieval with all-MiniLM-L6-v2.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trawl_data::beir::BeirDataset;
use trawl_data::Run;
use trawl_eval::{evaluate, EvalOptions, Metric};
use trawl_kb::{KbBuildOptions, KnowledgeBase};
use trawl_retrieve::{
    compute_rewards, open_all, open_named, Bm25Retriever, KbRetrieverOptions, Labels, Retriever,
    RewardItem, RewardSpec, RewriteFusion, RewriteMode, UnknownUidPolicy,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn build_kb(beir: &Path, out: &Path) -> Arc<KnowledgeBase> {
    let ds = BeirDataset::open(beir).unwrap();
    let kb = KnowledgeBase::build(
        ds.read_corpus().unwrap(),
        out,
        &KbBuildOptions::default(),
        |_| {},
    )
    .unwrap();
    Arc::new(kb)
}

#[test]
fn bm25_retriever_equals_the_kb_search_and_batches_equal_single_queries() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = build_kb(&repo().join("data/sample"), &tmp.path().join("kb"));
    let r = Bm25Retriever::new(kb.clone()).unwrap();
    let queries = [
        "bottom trawling seabed",
        "bycatch",
        "rust ownership",
        "zzzz unknown",
    ];
    let batch = r.retrieve_batch(&queries, 5).unwrap();
    for (q, got) in queries.iter().zip(&batch) {
        let want = kb.search_bm25(q, 5).unwrap();
        let got_pairs: Vec<(&str, f32, u32)> =
            got.iter().map(|d| (&*d.id, d.score, d.ordinal)).collect();
        let want_pairs: Vec<(&str, f32, u32)> = want
            .iter()
            .map(|h| (h.id.as_str(), h.score, h.ordinal))
            .collect();
        assert_eq!(got_pairs, want_pairs, "{q}");
        assert_eq!(&r.retrieve_batch(&[q], 5).unwrap()[0], got);
    }
    assert!(batch[3].is_empty());
    let title = r.document_title(batch[0][0].ordinal).unwrap();
    assert_eq!(title, kb.document(batch[0][0].ordinal).unwrap().title);
    // The KB has no vectors: open_all offers BM25 only and says why.
    let opened = open_all(kb.clone(), &KbRetrieverOptions::default()).unwrap();
    assert_eq!(opened.retrievers.len(), 1);
    assert!(
        opened.notes[0].contains("dense unavailable"),
        "{:?}",
        opened.notes
    );
    let err = open_named(kb, "splade", &KbRetrieverOptions::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("use bm25, dense or hybrid"));
}

#[cfg(not(feature = "dense"))]
#[test]
fn dense_without_the_feature_is_a_named_error() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = build_kb(&repo().join("data/sample"), &tmp.path().join("kb"));
    let err = open_named(kb, "dense", &KbRetrieverOptions::default())
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with("trawl was built without dense retrieval"),
        "{err}"
    );
}

#[test]
fn scifact_bm25_rewards_equal_evaluate() {
    let Some(dir) = trawl_data::shared_data::locate("beir/scifact") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let kb = build_kb(&dir, &tmp.path().join("kb"));
    let ds = BeirDataset::open(&dir).unwrap();
    let qrels = ds.read_qrels("test").unwrap();
    let queries: Vec<_> = ds
        .read_queries()
        .unwrap()
        .into_iter()
        .filter(|q| qrels.get(&q.id).is_some())
        .collect();
    assert_eq!(queries.len(), 300);
    let r = Bm25Retriever::new(kb).unwrap();
    let labels = Labels::from_qrels(qrels.clone());
    let items: Vec<RewardItem> = queries
        .iter()
        .map(|q| RewardItem {
            uid: q.id.clone(),
            queries: vec![q.text.clone()],
            relevant: None,
        })
        .collect();
    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let rankings = r.retrieve_batch(&texts, 100).unwrap();
    let mut run = Run::new();
    for (q, ranking) in queries.iter().zip(&rankings) {
        for d in ranking {
            run.push(q.id.as_str(), &*d.id, d.score as f64);
        }
    }
    for metric in ["ndcg@10", "recall@100", "mrr@10", "hit@1", "precision@5"] {
        let spec = RewardSpec {
            k: 100,
            mode: RewriteMode::Single,
            fusion: RewriteFusion::Rrf,
            metric: metric.parse().unwrap(),
            unknown_uid: UnknownUidPolicy::Error,
        };
        let rewards = compute_rewards(&r, &items, Some(&labels), &spec).unwrap();
        let m: Metric = metric.replace("precision", "p").parse().unwrap();
        let eval = evaluate(&qrels, &run, &[m], &EvalOptions::default()).unwrap();
        let mut sum = 0.0;
        for (q, got) in queries.iter().zip(&rewards) {
            let want = eval.per_query.get(&q.id).map_or(0.0, |v| v[0]);
            assert!(
                (got.reward.unwrap() - want).abs() < 1e-12,
                "{metric} {}: {:?} vs {want}",
                q.id,
                got.reward
            );
            sum += got.reward.unwrap();
        }
        let mean = sum / queries.len() as f64;
        assert!(
            (mean - eval.mean[0]).abs() < 1e-9,
            "{metric}: mean {mean} vs {}",
            eval.mean[0]
        );
        if metric == "ndcg@10" {
            // Pyserini's BM25 flat on scifact: 0.679 (BEIR); trawl's BM25 should be close.
            assert!((mean - 0.679).abs() < 0.02, "scifact BM25 nDCG@10 {mean}");
        }
    }
}

#[cfg(feature = "dense")]
#[test]
fn dense_and_hybrid_retrieve_with_minilm_on_the_sample() {
    let model = repo().join("models/all-MiniLM-L6-v2");
    if !model.join("config.json").exists() {
        eprintln!(
            "skipped: {} not found (scripts/get-model.sh)",
            model.display()
        );
        return;
    }
    let model = model.to_string_lossy().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let ds = BeirDataset::open(repo().join("data/sample")).unwrap();
    let docs: Vec<trawl_data::Document> = ds.read_corpus().unwrap().map(Result::unwrap).collect();
    let enc = trawl_embed::SentenceEncoder::load(&model, &Default::default()).unwrap();
    let texts: Vec<String> = docs
        .iter()
        .map(|d| format!("{} {}", d.title, d.text))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let emb = enc.encode_documents(&refs).unwrap();
    let opts = KbBuildOptions {
        dense: Some(trawl_kb::DenseEmbeddings::new(
            emb.data.clone(),
            emb.dim,
            model.clone(),
        )),
        ..KbBuildOptions::default()
    };
    let kb = Arc::new(
        KnowledgeBase::build(
            docs.clone().into_iter().map(Ok),
            tmp.path().join("kb"),
            &opts,
            |_| {},
        )
        .unwrap(),
    );
    let opened = open_all(kb.clone(), &KbRetrieverOptions::default()).unwrap();
    let names: Vec<&str> = opened.retrievers.iter().map(|r| r.name()).collect();
    assert_eq!(names, ["bm25", "dense", "hybrid"]);
    let dense = &opened.retrievers[1];
    // A document's own text finds the document first.
    let out = dense.retrieve_batch(&refs[..5], 3).unwrap();
    for (i, ranking) in out.iter().enumerate() {
        assert_eq!(&*ranking[0].id, docs[i].id.as_str());
        assert!(
            (ranking[0].score - 1.0).abs() < 1e-3,
            "cosine of a text with itself"
        );
    }
    let hybrid = &opened.retrievers[2];
    let h = hybrid
        .retrieve_batch(&["bottom trawling damage to the seabed"], 5)
        .unwrap();
    assert_eq!(h[0].len(), 5);
    let err = open_named(
        kb,
        "dense",
        &KbRetrieverOptions {
            model: Some("/nonexistent/model".into()),
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("dense retrieval failed"), "{err}");
}
