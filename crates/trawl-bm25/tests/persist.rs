//! Saved indexes reopen to identical results; damaged ones are refused with clear errors.

use std::path::Path;

use trawl_bm25::{AnalyzerConfig, Bm25Builder, Bm25Index, Bm25Method, Bm25Params, Error, Stemmer};

fn corpus() -> Vec<String> {
    // Deterministic pseudo-text with a skewed vocabulary.
    let words = [
        "protein",
        "cell",
        "gene",
        "the",
        "expression",
        "cancer",
        "tumor",
        "of",
        "patients",
        "mutation",
        "signal",
        "pathway",
        "brain",
        "neurons",
        "growth",
        "factor",
        "immune",
        "virus",
    ];
    let mut x: u64 = 42;
    (0..500)
        .map(|_| {
            let len = 5 + (x % 40) as usize;
            (0..len)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let r = (x >> 33) as usize;
                    words[(r % words.len()).min(r % 7 + r % 11)]
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn build(params: Bm25Params, cfg: AnalyzerConfig) -> Bm25Index {
    let docs = corpus();
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let mut b = Bm25Builder::new(cfg, params).unwrap();
    b.add_documents(&refs);
    b.build().unwrap()
}

const QUERIES: [&str; 6] = [
    "protein expression",
    "cancer tumor mutation",
    "immune virus virus",
    "brain",
    "the of",
    "growth factor signal pathway neurons",
];

#[test]
fn reopened_index_returns_exactly_the_in_memory_results() {
    for method in [Bm25Method::Lucene, Bm25Method::Bm25L, Bm25Method::Atire] {
        let cfg = AnalyzerConfig {
            stemmer: Stemmer::Snowball("english".into()),
            ..AnalyzerConfig::default()
        };
        let params = Bm25Params {
            method,
            ..Bm25Params::default()
        };
        let idx = build(params, cfg.clone());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bm25");
        idx.save(&path).unwrap();
        let re = Bm25Index::open(&path).unwrap();
        assert_eq!(re.num_docs(), idx.num_docs());
        assert_eq!(re.num_terms(), idx.num_terms());
        assert_eq!(re.config(), &cfg);
        assert_eq!(re.params(), &params);
        for q in QUERIES {
            // Bit-identical scores and order.
            assert_eq!(re.search(q, 1000), idx.search(q, 1000), "{method:?} {q}");
        }
        assert_eq!(re.search_batch(&QUERIES, 7), idx.search_batch(&QUERIES, 7));
    }
}

fn saved() -> (tempfile::TempDir, std::path::PathBuf) {
    let idx = build(Bm25Params::default(), AnalyzerConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bm25");
    idx.save(&path).unwrap();
    (dir, path)
}

fn files(path: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn every_truncated_file_is_refused_with_its_name() {
    let (_d, path) = saved();
    for f in files(&path) {
        let orig = std::fs::read(&f).unwrap();
        for cut in [0, orig.len() / 2, orig.len() - 1] {
            std::fs::write(&f, &orig[..cut]).unwrap();
            let err = Bm25Index::open(&path).unwrap_err();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            assert!(err.to_string().contains(&name), "{name} cut {cut}: {err}");
        }
        std::fs::write(&f, &orig).unwrap();
    }
    assert!(Bm25Index::open(&path).is_ok());
}

#[test]
fn every_flipped_byte_is_refused() {
    let (_d, path) = saved();
    for f in files(&path) {
        let orig = std::fs::read(&f).unwrap();
        let mut bad = orig.clone();
        bad[orig.len() / 3] ^= 0x40;
        std::fs::write(&f, &bad).unwrap();
        let err = Bm25Index::open(&path).unwrap_err();
        assert!(matches!(err, Error::Store(_)), "{}: {err}", f.display());
        std::fs::write(&f, &orig).unwrap();
    }
}

#[test]
fn footer_only_open_still_refuses_truncation_and_matches_results() {
    let (_d, path) = saved();
    let full = Bm25Index::open(&path).unwrap();
    let fast = Bm25Index::open_with(&path, trawl_bm25::Verify::FooterOnly).unwrap();
    for q in QUERIES {
        assert_eq!(fast.search(q, 50), full.search(q, 50));
    }
    let f = path.join("postings.bin");
    let orig = std::fs::read(&f).unwrap();
    std::fs::write(&f, &orig[..orig.len() - 5]).unwrap();
    let err = Bm25Index::open_with(&path, trawl_bm25::Verify::FooterOnly).unwrap_err();
    assert!(err.to_string().contains("postings.bin"), "{err}");
}

#[test]
fn missing_dir_and_missing_file_are_clear_errors() {
    let err = Bm25Index::open(Path::new("/nonexistent/bm25")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/bm25"), "{err}");
    let (_d, path) = saved();
    std::fs::remove_file(path.join("block_last.bin")).unwrap();
    let err = Bm25Index::open(&path).unwrap_err();
    assert!(err.to_string().contains("block_last.bin"), "{err}");
}

#[test]
fn files_swapped_between_indexes_are_refused() {
    let (_d1, a) = saved();
    let other = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default())
        .unwrap()
        .build()
        .unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let b = d2.path().join("other");
    other.save(&b).unwrap();
    std::fs::copy(b.join("block_last.bin"), a.join("block_last.bin")).unwrap();
    let err = Bm25Index::open(&a).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
}

#[test]
fn save_replaces_an_existing_index() {
    let (_d, path) = saved();
    let small = {
        let mut b = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default()).unwrap();
        b.add("just one document about proteins");
        b.build().unwrap()
    };
    small.save(&path).unwrap();
    let re = Bm25Index::open(&path).unwrap();
    assert_eq!(re.num_docs(), 1);
    assert_eq!(re.search("protein", 5).len(), 1);
}

#[test]
fn an_index_in_the_previous_format_asks_for_a_rebuild() {
    let (_d, path) = saved();
    // Version 1 stored one f32 score per posting; its meta.json footer says version 1.
    let meta = std::fs::read(path.join("meta.json")).unwrap();
    let payload = &meta[..meta.len() - trawl_store::FOOTER_LEN];
    trawl_store::write_checked(&path.join("meta.json"), b"TB25META", 1, payload).unwrap();
    let err = Bm25Index::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::FormatVersion {
                found: 1,
                expected: 3,
                ..
            }
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("meta.json") && msg.contains("rebuild"),
        "{msg}"
    );
}
