//! Analysis behaviour: Porter's published examples, Lucene's English chain, configuration.

use trawl_bm25::analysis::PorterStemmer;
use trawl_bm25::{Analyzer, AnalyzerConfig, Stemmer, Stopwords};

#[test]
fn porter_published_examples() {
    // From Porter (1980) and the reference implementation's vocabulary/output samples.
    let cases = [
        ("caresses", "caress"),
        ("ponies", "poni"),
        ("ties", "ti"),
        ("caress", "caress"),
        ("cats", "cat"),
        ("feed", "feed"),
        ("plastered", "plaster"),
        ("bled", "bled"),
        ("motoring", "motor"),
        ("sing", "sing"),
        ("hopping", "hop"),
        ("tanned", "tan"),
        ("falling", "fall"),
        ("hissing", "hiss"),
        ("fizzed", "fizz"),
        ("failing", "fail"),
        ("filing", "file"),
        ("happy", "happi"),
        ("sky", "sky"),
        ("relational", "relat"),
        ("conditional", "condit"),
        ("rational", "ration"),
        ("digitizer", "digit"),
        ("operator", "oper"),
        ("feudalism", "feudal"),
        ("decisiveness", "decis"),
        ("hopefulness", "hope"),
        ("callousness", "callous"),
        ("formative", "form"),
        ("electrical", "electr"),
        ("goodness", "good"),
        ("revival", "reviv"),
        ("allowance", "allow"),
        ("inference", "infer"),
        ("airliner", "airlin"),
        ("adjustable", "adjust"),
        ("defensible", "defens"),
        ("irritant", "irrit"),
        ("replacement", "replac"),
        ("adjustment", "adjust"),
        ("dependent", "depend"),
        ("adoption", "adopt"),
        ("communism", "commun"),
        ("activate", "activ"),
        ("effective", "effect"),
        ("bowdlerize", "bowdler"),
        ("probate", "probat"),
        ("rate", "rate"),
        ("cease", "ceas"),
        ("controll", "control"),
        ("roll", "roll"),
        ("generalization", "gener"),
        ("generalizations", "gener"),
        ("oscillators", "oscil"),
        ("abilities", "abil"),
        ("absolutely", "absolut"),
        ("accompanied", "accompani"),
        ("according", "accord"),
        ("agreed", "agre"),
        ("conflated", "conflat"),
        ("troubled", "troubl"),
        ("sized", "size"),
        ("meetings", "meet"),
        ("is", "is"),
        ("ion", "ion"),
        ("eed", "eed"),
        ("ies", "i"),
    ];
    let mut p = PorterStemmer::new();
    for (word, stem) in cases {
        assert_eq!(p.stem(word), stem, "stem({word})");
    }
}

#[test]
fn porter_never_panics_on_odd_input() {
    let mut p = PorterStemmer::new();
    for w in [
        "", "s", "ss", "sss", "yyy", "eeeed", "ation", "ousness", "ing", "éés", "ÿing", "bli",
        "logi",
    ] {
        let _ = p.stem(w);
    }
}

#[test]
fn lucene_english_chain() {
    let a = Analyzer::new(&AnalyzerConfig::default()).unwrap();
    assert_eq!(
        a.analyze("The Dog's toys: running, 3.5 mg/kg (1,000 samples) e.g. IL-6 don't"),
        vec!["dog", "toi", "run", "3.5", "mg", "kg", "1,000", "sampl", "e.g", "il", "6", "don't"]
    );
    assert!(a.analyze("the and of to a").is_empty());
    assert_eq!(a.analyze("snake_case WORDS"), vec!["snake_cas", "word"]);
}

#[test]
fn unicode_text_is_tokenised_by_word_boundaries() {
    let a = Analyzer::new(&AnalyzerConfig {
        stemmer: Stemmer::None,
        ..AnalyzerConfig::default()
    })
    .unwrap();
    assert_eq!(
        a.analyze("Ünïcode naïve café—résumé"),
        vec!["ünïcode", "naïve", "café", "résumé"]
    );
    assert_eq!(a.analyze("John’s β-cells"), vec!["john", "β", "cells"]);
    assert_eq!(a.analyze("中文"), vec!["中", "文"]);
}

#[test]
fn configurable_stopwords_stemming_and_case() {
    let none = AnalyzerConfig {
        lowercase: false,
        stopwords: Stopwords::None,
        stemmer: Stemmer::None,
        possessive: false,
    };
    let a = Analyzer::new(&none).unwrap();
    assert_eq!(a.analyze("The Cats's"), vec!["The", "Cats's"]);

    let custom = AnalyzerConfig {
        stopwords: Stopwords::List(vec!["CATS".into()]),
        stemmer: Stemmer::None,
        ..AnalyzerConfig::default()
    };
    assert_eq!(
        Analyzer::new(&custom).unwrap().analyze("the cats sat"),
        vec!["the", "sat"]
    );

    let snowball = AnalyzerConfig {
        stemmer: Stemmer::Snowball("english".into()),
        ..AnalyzerConfig::default()
    };
    // Porter2 differs from Porter here ("generously": Porter -> "gener", Porter2 -> "generous").
    assert_eq!(
        Analyzer::new(&snowball).unwrap().analyze("generously"),
        vec!["generous"]
    );
    assert_eq!(
        Analyzer::new(&AnalyzerConfig::default())
            .unwrap()
            .analyze("generously"),
        vec!["gener"]
    );

    let err = Analyzer::new(&AnalyzerConfig {
        stemmer: Stemmer::Snowball("klingon".into()),
        ..AnalyzerConfig::default()
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("klingon") && err.to_string().contains("english"),
        "{err}"
    );
}

#[test]
fn stopword_file_is_read_into_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("stop.txt");
    std::fs::write(&p, "# comment\nfoo\n\n bar \n").unwrap();
    assert_eq!(
        Stopwords::from_file(&p).unwrap(),
        Stopwords::List(vec!["foo".into(), "bar".into()])
    );
    let err = Stopwords::from_file(&dir.path().join("missing.txt")).unwrap_err();
    assert!(err.to_string().contains("missing.txt"));
}

#[test]
fn configs_roundtrip_through_json() {
    let cfg = AnalyzerConfig {
        stopwords: Stopwords::List(vec!["x".into()]),
        stemmer: Stemmer::Snowball("french".into()),
        ..AnalyzerConfig::default()
    };
    let json = serde_json::to_string(&cfg).unwrap();
    assert_eq!(serde_json::from_str::<AnalyzerConfig>(&json).unwrap(), cfg);
}
