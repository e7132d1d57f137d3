//! Every parser, fed random bytes or random near-valid lines, returns Ok or Err: never panics.

use std::io::Cursor;
use std::path::Path;

use proptest::prelude::*;
use trawl_data::document::{DocumentFormat, DocumentReader};
use trawl_data::qrels::parse_qrels;
use trawl_data::query::{read_queries_from, QueryFormat};
use trawl_data::run::{parse_run, DuplicatePolicy, RunReadOptions};

fn feed_all(data: &[u8]) {
    let p = Path::new("fuzz");
    let _ = parse_qrels(data, p);
    for duplicates in [
        DuplicatePolicy::Error,
        DuplicatePolicy::KeepFirst,
        DuplicatePolicy::KeepAll,
    ] {
        let _ = parse_run(data, p, &RunReadOptions { duplicates });
    }
    for format in [DocumentFormat::Jsonl, DocumentFormat::Tsv] {
        let reader = DocumentReader::from_reader(Cursor::new(data.to_vec()), p, format);
        for item in reader.reject_duplicate_ids().take(10_000) {
            let _ = item.map(|d| d.id.len());
        }
    }
    for format in [QueryFormat::Jsonl, QueryFormat::Tsv] {
        let _ = read_queries_from(Cursor::new(data.to_vec()), p, format);
    }
}

/// Lines built from the pieces real files are made of, so the parsers get past the first check.
fn near_valid_line() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("q1".to_string()),
        Just("Q0".to_string()),
        Just("0".to_string()),
        Just("d#1".to_string()),
        Just("1.5".to_string()),
        Just("-inf".to_string()),
        Just("NaN".to_string()),
        Just("#".to_string()),
        Just("\u{feff}".to_string()),
        Just("query-id".to_string()),
        Just("{\"_id\":".to_string()),
        Just("\"text\":\"x\"}".to_string()),
        Just("ü文".to_string()),
        "[ -~]{0,6}",
    ];
    let sep = prop_oneof![Just(" "), Just("\t"), Just("  "), Just("\r")];
    prop::collection::vec((token, sep), 0..8).prop_map(|parts| {
        parts
            .into_iter()
            .flat_map(|(t, s)| [t, s.to_string()])
            .collect::<String>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn parsers_never_panic_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..400)) {
        feed_all(&data);
    }

    #[test]
    fn parsers_never_panic_on_near_valid_lines(lines in prop::collection::vec(near_valid_line(), 0..20)) {
        feed_all(lines.join("\n").as_bytes());
    }

    /// Valid runs read back exactly what was written, whatever the ids and scores.
    #[test]
    fn written_runs_read_back_identically(
        entries in prop::collection::vec(("[a-z0-9#ü]{1,5}", "[A-Za-z0-9_.:ü文-]{1,8}", -1e6f64..1e6), 0..50)
    ) {
        let mut run = trawl_data::Run::new();
        let mut seen = std::collections::HashSet::new();
        for (q, d, s) in entries {
            if q.starts_with('#') || !seen.insert((q.clone(), d.clone())) {
                continue;
            }
            run.push(q, d, s);
        }
        let mut out = Vec::new();
        trawl_data::write_trec_run(&run, &mut out, "t").unwrap();
        let mut back = parse_run(&out, Path::new("w"), &RunReadOptions::default()).unwrap();
        let mut expected = run;
        expected.sort_trec_order();
        back.sort_trec_order();
        prop_assert_eq!(back.tag(), (expected.num_queries() > 0).then_some("t"));
        prop_assert_eq!(back, expected);
    }
}
