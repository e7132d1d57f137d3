//! Exactness of the pruned search (block-max MaxScore): for every query it returns the same
//! hits, bit-identical scores and the same order as the exhaustive search, which scores every
//! document containing a query term.

use proptest::prelude::*;
use trawl_bm25::Strategy as Search;
use trawl_bm25::{AnalyzerConfig, Bm25Builder, Bm25Index, Bm25Method, Bm25Params, Hit};

const PRUNED: [Search; 5] = [
    Search::DocAtATime,
    Search::Windowed,
    Search::BlockMaxWand,
    Search::TermAtATime,
    Search::Auto,
];

/// Hits as (ordinal, score bits): equality means identical ids, scores and order.
fn bits(hits: &[Hit]) -> Vec<(u32, u32)> {
    hits.iter().map(|h| (h.doc, h.score.to_bits())).collect()
}

fn assert_same(index: &Bm25Index, query: &str, k: usize) {
    let exhaustive = index.search_exhaustive(query, k);
    for strategy in PRUNED {
        index.set_strategy(strategy);
        let pruned = index.search(query, k);
        assert_eq!(
            bits(&pruned),
            bits(&exhaustive),
            "{strategy:?} query {query:?} k {k}"
        );
    }
}

/// Words `w0`, `w1`, ... (letters only, so the analyzer keeps them apart).
fn word(i: usize) -> String {
    let mut s = String::from("w");
    let mut r = i;
    loop {
        s.push((b'a' + (r % 26) as u8) as char);
        r /= 26;
        if r == 0 {
            break;
        }
    }
    s
}

fn build(docs: &[Vec<usize>], method: Bm25Method) -> Bm25Index {
    let texts: Vec<String> = docs
        .iter()
        .map(|d| d.iter().map(|&w| word(w)).collect::<Vec<_>>().join(" "))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let params = Bm25Params {
        method,
        ..Bm25Params::default()
    };
    let mut b = Bm25Builder::new(AnalyzerConfig::default(), params).unwrap();
    b.add_documents(&refs);
    b.build().unwrap()
}

/// A skewed vocabulary: low word numbers are frequent (many blocks), high ones rare; short
/// documents make equal scores (ties) common.
fn skewed_word() -> impl Strategy<Value = usize> {
    (0usize..60, 0usize..60, 0usize..4).prop_map(|(a, b, c)| a.min(b) >> c)
}

fn method() -> impl Strategy<Value = Bm25Method> {
    prop_oneof![
        Just(Bm25Method::Lucene),
        Just(Bm25Method::Robertson),
        Just(Bm25Method::Atire),
        Just(Bm25Method::Bm25Plus),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn pruned_equals_exhaustive_on_random_corpora(
        docs in prop::collection::vec(prop::collection::vec(skewed_word(), 0..30), 1..1500),
        queries in prop::collection::vec(prop::collection::vec(skewed_word(), 1..8), 1..12),
        method in method(),
    ) {
        let index = build(&docs, method);
        for q in &queries {
            let text = q.iter().map(|&w| word(w)).collect::<Vec<_>>().join(" ");
            for k in [1, 2, 3, 10, 100, 1000] {
                let exhaustive = index.search_exhaustive(&text, k);
                for strategy in PRUNED {
                    index.set_strategy(strategy);
                    let pruned = index.search(&text, k);
                    prop_assert_eq!(
                        bits(&pruned), bits(&exhaustive), "{:?} query {:?} k {}", strategy, text, k
                    );
                }
            }
        }
    }

    #[test]
    fn term_at_a_time_in_chunks_of_64_documents_equals_exhaustive(
        docs in prop::collection::vec(prop::collection::vec(skewed_word(), 0..30), 1..1500),
        queries in prop::collection::vec(prop::collection::vec(skewed_word(), 1..8), 1..12),
    ) {
        // Chunks are for indexes of millions of documents; 64 makes small ones cross many
        // chunk edges (blocks straddling them, θ carried over, lists read in one chunk and
        // probed in the next). Other tests of this binary may run chunked meanwhile: the
        // results must not change either way.
        trawl_bm25::set_taat_chunk_for_tests(64);
        let index = build(&docs, Bm25Method::Lucene);
        index.set_strategy(Search::TermAtATime);
        for q in &queries {
            let text = q.iter().map(|&w| word(w)).collect::<Vec<_>>().join(" ");
            for k in [1, 3, 10, 100] {
                prop_assert_eq!(
                    bits(&index.search(&text, k)),
                    bits(&index.search_exhaustive(&text, k)),
                    "query {:?} k {}", text, k
                );
            }
        }
    }

    #[test]
    fn the_exhaustive_search_in_chunks_of_64_documents_equals_the_one_pass_search(
        docs in prop::collection::vec(prop::collection::vec(skewed_word(), 0..30), 1..1500),
        queries in prop::collection::vec(prop::collection::vec(skewed_word(), 1..8), 1..12),
    ) {
        // Chunked exhaustive search is for indexes of millions of documents; 64 makes small
        // ones cross many chunk edges (blocks straddling them, lists resumed mid-block).
        let index = build(&docs, Bm25Method::Lucene);
        for q in &queries {
            let text = q.iter().map(|&w| word(w)).collect::<Vec<_>>().join(" ");
            for k in [1, 10, 1000] {
                trawl_bm25::set_exhaustive_chunk_for_tests_on_this_thread(0);
                let one_pass = bits(&index.search_exhaustive(&text, k));
                trawl_bm25::set_exhaustive_chunk_for_tests_on_this_thread(64);
                let chunked = bits(&index.search_exhaustive(&text, k));
                trawl_bm25::set_exhaustive_chunk_for_tests_on_this_thread(0);
                prop_assert_eq!(chunked, one_pass, "query {:?} k {}", text, k);
            }
        }
    }

    #[test]
    fn weighted_terms_prune_exactly(
        docs in prop::collection::vec(prop::collection::vec(skewed_word(), 1..10), 200..700),
        terms in prop::collection::vec((skewed_word(), 0.05f32..4.0), 1..6),
    ) {
        let index = build(&docs, Bm25Method::Lucene);
        let words: Vec<(String, f32)> = terms.iter().map(|&(w, x)| (word(w), x)).collect();
        let refs: Vec<(&str, f32)> = words.iter().map(|(w, x)| (w.as_str(), *x)).collect();
        for k in [1, 5, 50] {
            for strategy in PRUNED {
                index.set_strategy(strategy);
                prop_assert_eq!(
                    bits(&index.search_terms(&refs, k)),
                    bits(&index.search_terms_exhaustive(&refs, k)),
                    "{:?}", strategy
                );
            }
        }
    }
}

#[test]
fn ties_across_many_blocks_keep_the_lowest_ordinals() {
    // 1000 identical documents: every score ties; the top k must be ordinals 0..k.
    let docs: Vec<Vec<usize>> = (0..1000).map(|i| vec![0, 1 + i % 2]).collect();
    let index = build(&docs, Bm25Method::Lucene);
    for k in [1, 10, 129, 1000] {
        assert_same(&index, "wa wb", k);
        index.set_strategy(Search::DocAtATime);
        let hits = index.search("wa", k);
        assert_eq!(
            hits.iter().map(|h| h.doc).collect::<Vec<_>>(),
            (0..k as u32).collect::<Vec<_>>()
        );
    }
}

#[test]
fn exhaustive_switch_changes_the_path_not_the_results() {
    let docs: Vec<Vec<usize>> = (0..600).map(|i| vec![i % 7, i % 13, i % 3]).collect();
    let index = build(&docs, Bm25Method::Lucene);
    index.set_strategy(Search::DocAtATime);
    let pruned = index.search("wa wb wc", 10);
    index.set_exhaustive(true);
    assert_eq!(bits(&index.search("wa wb wc", 10)), bits(&pruned));
    index.set_exhaustive(false);
    assert_eq!(bits(&index.search("wa wb wc", 10)), bits(&pruned));
}

#[test]
fn auto_prunes_only_when_postings_are_many_per_hit() {
    // Which path ran is visible only in time: check that Auto is the default and that its
    // answers equal the exhaustive ones at any k (this index is below AUTO_MIN_DOCS, so Auto
    // is exhaustive here; the DocAtATime and Windowed rows of assert_same prune).
    assert_eq!(Search::default(), Search::Auto);
    let docs: Vec<Vec<usize>> = (0..5000).map(|i| vec![i % 2, i % 5, i % 11]).collect();
    let index = build(&docs, Bm25Method::Lucene);
    for k in [1, 2, 1000] {
        assert_same(&index, "wa wb wc", k);
    }
}

#[test]
fn term_at_a_time_probes_a_frequent_list_only_at_the_candidates() {
    // A rare word in 20 documents spread over 20,000 and a word in all of them: once the rare
    // list has fixed θ, the frequent list cannot bring in a new document, and with 20
    // candidates against its 157 blocks it is probed (a block decoded per candidate at most),
    // not read whole. The counters report the blocks decoded by probes.
    let docs: Vec<Vec<usize>> = (0..20_000)
        .map(|i| {
            let mut d = vec![0, 2 + i % 50, 2 + i % 53];
            if i % 1000 == 7 {
                d.push(1);
            }
            d
        })
        .collect();
    let index = build(&docs, Bm25Method::Lucene);
    index.set_strategy(Search::TermAtATime);
    for k in [1, 5, 10] {
        assert_same(&index, "wa wb", k);
        trawl_bm25::take_counters();
        let hits = index.search("wa wb", k);
        let (decoded, _) = trawl_bm25::take_counters();
        assert_eq!(hits.len(), k);
        assert!(hits.iter().all(|h| h.doc % 1000 == 7), "{hits:?}");
        assert!(
            decoded <= 20 * 128 + 128,
            "k {k}: {decoded} postings decoded by probes, the frequent list has 20000"
        );
    }
}
