//! The qrels/run parsers and the evaluation never panic on arbitrary input: they return a
//! result or an error naming the line.

use std::path::Path;

use proptest::prelude::*;
use trawl_eval::trec_format::{parse_qrels, parse_run};
use trawl_eval::{evaluate_table, trec_eval, EvalOptions, Metric, TrecEvalOptions};

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        // Plausible lines with random fields, including odd numbers and unicode ids.
        (
            "[a-z0-9é]{1,3}",
            "[a-z0-9#é]{1,4}",
            prop_oneof![
                Just("1".to_string()),
                Just("-1".into()),
                Just("x".into()),
                Just("1e400".into()),
                Just("nan".into()),
                "-?[0-9]{1,3}(\\.[0-9]{1,3})?"
            ],
        )
            .prop_map(|(q, d, s)| format!("{q} Q0 {d} 1 {s} run")),
        ("[a-z0-9]{1,3}", "[a-z0-9]{1,3}", "-?[0-9]{1,2}")
            .prop_map(|(q, d, g)| format!("{q} 0 {d} {g}")),
        // Anything at all.
        any::<String>(),
        "[ \t#\r]{0,4}",
    ]
}

proptest! {
    #[test]
    fn parsers_and_evaluation_never_panic(qrels in prop::collection::vec(line(), 0..20), run in prop::collection::vec(line(), 0..20)) {
        let qrels_text = qrels.join("\n");
        let run_text = run.join("\n");
        let parsed_qrels = parse_qrels(&qrels_text, Path::new("q"));
        let parsed_run = parse_run(&run_text, Path::new("r"));
        if let (Ok(q), Ok(r)) = (parsed_qrels, parsed_run) {
            let opts = TrecEvalOptions { measures: vec!["all_trec".into()], per_query: true, complete: true, ..Default::default() };
            let _ = trec_eval(&q, &r, &opts);
            let metrics = [Metric::Ndcg(Some(10)), Metric::Map(None), Metric::Mrr(Some(10))];
            let _ = evaluate_table(&q, r, &metrics, &EvalOptions::default());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_qrels(&text, Path::new("q"));
        let _ = parse_run(&text, Path::new("r"));
    }
}
