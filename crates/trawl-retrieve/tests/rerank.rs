//! Cross-encoder reranking (feature `rerank`) over BM25 on the sample KB, with the tiny BERT
//! cross-encoder of trawl-embed's fixtures: the reranked head is ordered by the model's own
//! scores of (query, "title text"), the tail keeps BM25's order below it, and `k` cuts after.
#![cfg(feature = "rerank")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trawl_data::beir::BeirDataset;
use trawl_embed::{CrossEncoder, CrossEncoderOptions};
use trawl_kb::{KbBuildOptions, KnowledgeBase};
use trawl_retrieve::{passage_text, Bm25Retriever, RerankRetriever, Reranker, Retriever};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model() -> Arc<CrossEncoder> {
    let dir = repo().join("crates/trawl-embed/tests/fixtures/tiny-bert-cross-encoder");
    Arc::new(CrossEncoder::load(dir.to_str().unwrap(), &CrossEncoderOptions::default()).unwrap())
}

#[test]
fn reranked_head_follows_the_cross_encoder_and_the_tail_keeps_first_stage_order() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = BeirDataset::open(repo().join("data/sample")).unwrap();
    let kb = Arc::new(
        KnowledgeBase::build(
            ds.read_corpus().unwrap(),
            tmp.path().join("kb"),
            &KbBuildOptions::default(),
            |_| {},
        )
        .unwrap(),
    );
    let bm25 = Bm25Retriever::new(kb.clone()).unwrap();
    let queries = [
        "how does bottom trawling damage the seabed and the fish",
        "reducing bycatch in trawl nets of the boat",
        "the net and the fish",
    ];
    let (depth, k) = (4, 7);
    let first = bm25.retrieve_batch(&queries, k).unwrap();
    let ce = model();
    let rr = RerankRetriever::new(bm25, Reranker::new(ce.clone(), depth).unwrap()).unwrap();
    assert_eq!(rr.name(), "bm25+rerank");
    let got = rr.retrieve_batch(&queries, k).unwrap();
    let mut reordered = false;
    for (qi, (first, got)) in first.iter().zip(&got).enumerate() {
        assert!(
            first.len() > depth,
            "the sample KB must give more than {depth} hits"
        );
        assert_eq!(got.len(), first.len().min(k));
        // The head: BM25's first `depth` hits, each scored by the model, best first.
        let head = &first[..depth];
        let passages: Vec<String> = head
            .iter()
            .map(|h| {
                let d = kb.document(h.ordinal).unwrap();
                passage_text(d.title, d.text)
            })
            .collect();
        let pairs: Vec<(&str, &str)> = passages.iter().map(|p| (queries[qi], p.as_str())).collect();
        let scores = ce.predict(&pairs).unwrap();
        let mut want: Vec<(u32, f32)> = head.iter().map(|h| h.ordinal).zip(scores).collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        reordered |= got[..depth]
            .iter()
            .zip(head)
            .any(|(g, h)| g.ordinal != h.ordinal);
        for (g, w) in got[..depth].iter().zip(&want) {
            assert_eq!(g.ordinal, w.0, "query {qi}");
            assert!((g.score - w.1).abs() <= 1e-6);
        }
        // The tail: BM25's order, scored below every reranked hit, scores strictly decreasing.
        let tail: Vec<u32> = got[depth..].iter().map(|h| h.ordinal).collect();
        let want_tail: Vec<u32> = first[depth..k.min(first.len())]
            .iter()
            .map(|h| h.ordinal)
            .collect();
        assert_eq!(tail, want_tail, "query {qi}");
        for w in got.windows(2) {
            assert!(
                w[0].score > w[1].score
                    || (w[0].score == w[1].score && w[0].ordinal < w[1].ordinal)
            );
        }
    }
    assert!(
        reordered,
        "the model must change some BM25 order, or this test proves nothing"
    );
    // k below the depth: the best k of the reranked head.
    let top2 = rr.retrieve_batch(&queries, 2).unwrap();
    for (a, b) in top2.iter().zip(&got) {
        assert_eq!(a[..], b[..2]);
    }
}

#[test]
fn a_zero_depth_and_a_retriever_without_documents_are_refused() {
    let ce = model();
    assert!(Reranker::new(ce.clone(), 0).is_err());
    let mem = trawl_retrieve::InMemoryRetriever::new("mem", &[("d1", "t", "text")]);
    let err = RerankRetriever::new(mem, Reranker::new(ce, 10).unwrap())
        .err()
        .expect("no knowledge base: no passages");
    assert!(err.to_string().contains("no knowledge base"), "{err}");
}
