//! Index behaviour: hand-checked Lucene scores, query semantics, ties, variants, persistence.

use trawl_bm25::{AnalyzerConfig, Bm25Builder, Bm25Index, Bm25Method, Bm25Params, Hit};

const DOCS: [&str; 6] = [
    "the quick brown fox jumps over the lazy dog",
    "quick quick quick foxes",
    "a lazy afternoon with a sleepy dog",
    "",
    "brown bears and brown foxes in the brown forest of brown trees",
    "the the the",
];

fn build(params: Bm25Params) -> Bm25Index {
    let mut b = Bm25Builder::new(AnalyzerConfig::default(), params).unwrap();
    b.add_documents(&DOCS[..3]);
    for d in &DOCS[3..] {
        b.add(d);
    }
    b.build().unwrap()
}

/// Lucene 9 BM25Similarity, written out independently in f64 with the 1-byte length decode.
fn lucene_score(tf: f64, dl: u32, df: f64, n: f64, avgdl: f64) -> f64 {
    let (k1, b) = (0.9, 0.4);
    let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
    let dl = trawl_bm25::params::lucene_doc_length(dl) as f64;
    idf * tf / (tf + k1 * (1.0 - b + b * dl / avgdl))
}

#[test]
fn lucene_scores_match_the_formula() {
    let idx = build(Bm25Params::default());
    assert_eq!(idx.num_docs(), 6);
    // Analysed lengths: 7, 4, 4, 0, 8, 0 -> Lucene counts docs with terms only: N = 4, avgdl = 23/4.
    assert_eq!(
        (0..6)
            .map(|d| idx.doc_length(d).unwrap())
            .collect::<Vec<_>>(),
        vec![7, 4, 4, 0, 8, 0]
    );
    let (n, avgdl) = (4.0, 23.0 / 4.0);
    let hits = idx.search("fox", 10);
    // "fox" and "foxes" both stem to "fox": docs 0, 1, 4.
    let expect = |d: u32, tf: f64, dl: u32| Hit {
        doc: d,
        score: lucene_score(tf, dl, 3.0, n, avgdl) as f32,
    };
    let mut want = vec![expect(0, 1.0, 7), expect(1, 1.0, 4), expect(4, 1.0, 8)];
    want.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc)));
    assert_eq!(hits.len(), 3);
    for (h, w) in hits.iter().zip(&want) {
        assert_eq!(h.doc, w.doc);
        assert!((h.score - w.score).abs() < 1e-6, "{h:?} vs {w:?}");
    }
}

#[test]
fn repeated_query_terms_add_up_and_stopword_queries_are_empty() {
    let idx = build(Bm25Params::default());
    let once = idx.search("brown", 10);
    let twice = idx.search("brown brown", 10);
    assert_eq!(once.len(), twice.len());
    for (a, b) in once.iter().zip(&twice) {
        assert_eq!(a.doc, b.doc);
        assert!((2.0 * a.score - b.score).abs() < 1e-6);
    }
    assert!(idx.search("", 10).is_empty());
    assert!(idx.search("the of and", 10).is_empty());
    assert!(idx.search("zebra", 10).is_empty());
    assert!(idx.search("fox", 0).is_empty());
}

#[test]
fn ties_go_to_the_lower_ordinal() {
    let mut b = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default()).unwrap();
    b.add_documents(&[
        "same words here",
        "other",
        "same words here",
        "same words here",
    ]);
    let idx = b.build().unwrap();
    let hits = idx.search("words", 2);
    assert_eq!(hits.iter().map(|h| h.doc).collect::<Vec<_>>(), vec![0, 2]);
    assert_eq!(hits[0].score, hits[1].score);
}

#[test]
fn every_variant_ranks_the_obvious_document_first() {
    for method in [
        Bm25Method::Lucene,
        Bm25Method::Robertson,
        Bm25Method::Atire,
        Bm25Method::Bm25L,
        Bm25Method::Bm25Plus,
    ] {
        let idx = build(Bm25Params {
            method,
            k1: 1.5,
            b: 0.75,
            delta: 0.5,
        });
        let hits = idx.search("brown forest", 3);
        assert_eq!(hits[0].doc, 4, "{method:?}: {hits:?}");
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    }
}

#[test]
fn bm25plus_adds_the_absent_term_score_like_bm25s() {
    // bm25s BM25+: idf = ln((N+1)/df), tfc = (k1+1) tf/(k1 (1-b+b dl/avgdl) + tf) + delta,
    // and a document lacking a query term still gets idf * delta for it.
    let p = Bm25Params {
        method: Bm25Method::Bm25Plus,
        k1: 1.5,
        b: 0.75,
        delta: 0.5,
    };
    let idx = build(p);
    let (n, avgdl) = (6.0f64, 23.0 / 6.0);
    let idf = |df: f64| ((n + 1.0) / df).ln();
    let tfc = |tf: f64, dl: f64| 2.5 * tf / (1.5 * (0.25 + 0.75 * dl / avgdl) + tf) + 0.5;
    // Query "lazy brown": doc 0 has both (dl 7), doc 2 only lazy (dl 4).
    let (df_lazy, df_brown) = (2.0, 2.0);
    let want0 = idf(df_lazy) * tfc(1.0, 7.0) + idf(df_brown) * tfc(1.0, 7.0);
    let want2 = idf(df_lazy) * tfc(1.0, 4.0) + idf(df_brown) * 0.5;
    let hits = idx.search("lazy brown", 10);
    let score = |d| hits.iter().find(|h| h.doc == d).unwrap().score as f64;
    assert!((score(0) - want0).abs() < 1e-5, "{} vs {want0}", score(0));
    assert!((score(2) - want2).abs() < 1e-5, "{} vs {want2}", score(2));
}

#[test]
fn invalid_params_are_refused() {
    let bad = Bm25Params {
        b: 1.5,
        ..Bm25Params::default()
    };
    let err = Bm25Builder::new(AnalyzerConfig::default(), bad)
        .err()
        .unwrap();
    assert!(err.to_string().contains("b = 1.5"), "{err}");
}

#[test]
fn empty_index_searches_to_nothing_and_roundtrips() {
    let idx = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default())
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(idx.num_docs(), 0);
    assert!(idx.search("anything", 5).is_empty());
    let dir = tempfile::tempdir().unwrap();
    idx.save(&dir.path().join("i")).unwrap();
    let re = Bm25Index::open(&dir.path().join("i")).unwrap();
    assert_eq!(re.num_docs(), 0);
    assert!(re.search("anything", 5).is_empty());
}

#[test]
fn batch_search_equals_single_searches() {
    let idx = build(Bm25Params::default());
    let qs = ["fox", "lazy dog", "", "brown brown forest", "quick"];
    let batch = idx.search_batch(&qs, 3);
    for (q, got) in qs.iter().zip(batch) {
        assert_eq!(got, idx.search(q, 3));
    }
}
