//! trawl's default analyzer against Lucene's own output (Anserini's DefaultEnglishAnalyzer via
//! Pyserini 0.22.1), on 514 texts: snippets around non-ASCII characters of scifact/nfcorpus,
//! plain ASCII samples, and hand-written edge cases. Regenerate with Pyserini if the analyzer
//! is meant to change.

use trawl_bm25::{Analyzer, AnalyzerConfig};

#[derive(serde::Deserialize)]
struct Case {
    text: String,
    terms: Vec<String>,
}

#[test]
fn default_analyzer_reproduces_lucene_english() {
    let data = include_str!("data/lucene_english.jsonl");
    let analyzer = Analyzer::new(&AnalyzerConfig::default()).unwrap();
    let mut failures = Vec::new();
    let mut total = 0;
    for line in data.lines() {
        let case: Case = serde_json::from_str(line).unwrap();
        total += 1;
        let got = analyzer.analyze(&case.text);
        if got != case.terms {
            failures.push(format!(
                "{:?}\n  lucene: {:?}\n  trawl:  {:?}",
                case.text, case.terms, got
            ));
        }
    }
    assert_eq!(total, 514);
    assert!(
        failures.is_empty(),
        "{} of {total} texts analysed differently from Lucene:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
