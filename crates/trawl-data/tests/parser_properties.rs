//! Property tests of every reader (documents JSONL/TSV, queries JSONL/TSV, qrels and runs in
//! both dialects): on any input they return Ok or an error that names the file and a line of it,
//! never panic; and the owned readers (`qrels`, `run`) agree with the tables of the one reader
//! (`trec_format`) they are built on. A few hundred cases each: seconds in CI.

use std::io::Cursor;
use std::path::Path;

use proptest::prelude::*;
use trawl_data::document::{DocumentFormat, DocumentReader};
use trawl_data::query::{read_queries_from, QueryFormat};
use trawl_data::run::{DuplicatePolicy, RunReadOptions};
use trawl_data::trec_format::{self, Dialect};
use trawl_data::{qrels, run, Error};

const NAME: &str = "input.txt";

/// An error must be a parse error naming `NAME` and a line between 1 and the last line.
fn check_error(e: &Error, data: &[u8], what: &str) -> Result<(), TestCaseError> {
    let last_line = 1 + data.iter().filter(|&&b| b == b'\n').count();
    match e {
        Error::Parse {
            path,
            line,
            message,
        } => {
            prop_assert_eq!(path, Path::new(NAME), "{}: {}", what, e);
            prop_assert!(
                (1..=last_line).contains(line),
                "{}: line {} outside 1..={}: {}",
                what,
                line,
                last_line,
                e
            );
            prop_assert!(!message.is_empty());
            let prefix = format!("{NAME}:{line}: ");
            prop_assert!(e.to_string().starts_with(&prefix), "{}", e);
        }
        other => prop_assert!(false, "{}: not a parse error: {}", what, other),
    }
    Ok(())
}

fn check_all(data: &[u8]) -> Result<(), TestCaseError> {
    let p = Path::new(NAME);
    for format in [DocumentFormat::Jsonl, DocumentFormat::Tsv] {
        let reader = DocumentReader::from_reader(Cursor::new(data.to_vec()), p, format);
        for item in reader.reject_duplicate_ids().take(10_000) {
            if let Err(e) = item {
                check_error(&e, data, "documents")?;
            }
        }
    }
    for format in [QueryFormat::Jsonl, QueryFormat::Tsv] {
        if let Err(e) = read_queries_from(Cursor::new(data.to_vec()), p, format) {
            check_error(&e, data, "queries")?;
        }
    }
    let text = match std::str::from_utf8(data) {
        Ok(t) => t,
        Err(_) => {
            // Both owned readers check UTF-8 first and name the line.
            let e = qrels::parse_qrels(data, p).unwrap_err();
            check_error(&e, data, "qrels utf-8")?;
            let e = run::parse_run(data, p, &RunReadOptions::default()).unwrap_err();
            return check_error(&e, data, "run utf-8");
        }
    };
    for dialect in [Dialect::Permissive, Dialect::TrecEval] {
        match trec_format::parse_qrels(text, p, dialect) {
            Ok(t) => {
                for n in &t.notes {
                    prop_assert!(n.line >= 1 && n.line <= 1 + text.matches('\n').count());
                }
            }
            Err(e) => check_error(&e, data, "qrels table")?,
        }
        if let Err(e) = trec_format::parse_run(text, p, dialect) {
            check_error(&e, data, "run table")?;
        }
    }
    // The owned readers are the permissive tables, plus a duplicate policy.
    let table = trec_format::parse_qrels(text, p, Dialect::Permissive);
    match (qrels::parse_qrels(data, p), &table) {
        (Ok(owned), Ok(t)) => prop_assert_eq!(owned, t.to_qrels()),
        (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
        (a, b) => prop_assert!(false, "owned {:?} but table {:?}", a, b),
    }
    let table = trec_format::parse_run(text, p, Dialect::Permissive);
    let keep_all = RunReadOptions {
        duplicates: DuplicatePolicy::KeepAll,
    };
    match (run::parse_run(data, p, &keep_all), &table) {
        (Ok(owned), Ok(t)) => {
            prop_assert_eq!(owned.num_queries(), t.queries.len());
            for (q, docs) in &t.queries {
                let got: Vec<(&str, f64)> = owned
                    .get(q)
                    .unwrap()
                    .iter()
                    .map(|d| (d.doc_id.as_str(), d.score))
                    .collect();
                prop_assert_eq!(&got, docs);
            }
        }
        (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
        (a, b) => prop_assert!(false, "owned {:?} but table {:?}", a.is_ok(), b.is_ok()),
    }
    for duplicates in [DuplicatePolicy::Error, DuplicatePolicy::KeepFirst] {
        if let Err(e) = run::parse_run(data, p, &RunReadOptions { duplicates }) {
            check_error(&e, data, "run")?;
        }
    }
    Ok(())
}

/// Pieces real files are made of, so the readers get past their first check.
fn near_valid_line() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("q1".to_string()),
        Just("Q0".to_string()),
        Just("0".to_string()),
        Just("1".to_string()),
        Just("1.0".to_string()),
        Just("d#1".to_string()),
        Just("1.5".to_string()),
        Just("-inf".to_string()),
        Just("NaN".to_string()),
        Just("99999999999".to_string()),
        Just("#".to_string()),
        Just("\u{feff}".to_string()),
        Just("query-id".to_string()),
        Just("score".to_string()),
        Just("{\"_id\":".to_string()),
        Just("\"text\":\"x\"}".to_string()),
        Just("ü文".to_string()),
        "[ -~]{0,6}",
    ];
    let sep = prop_oneof![Just(" "), Just("\t"), Just("  "), Just("\r"), Just("\x0b")];
    prop::collection::vec((token, sep), 0..8).prop_map(|parts| {
        parts
            .into_iter()
            .flat_map(|(t, s)| [t, s.to_string()])
            .collect::<String>()
    })
}

/// Well-formed qrels and run lines with random ids, grades and scores.
fn trec_line() -> impl Strategy<Value = String> {
    prop_oneof![
        ("[a-c]{1,2}", "[a-d#]{1,2}", -3i32..4).prop_map(|(q, d, g)| format!("{q} 0 {d} {g}")),
        ("[a-c]{1,2}", "[a-d#]{1,2}", -1e3f64..1e3)
            .prop_map(|(q, d, s)| format!("{q} Q0 {d} 1 {s} run")),
        Just(String::new()),
        Just("# comment".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn readers_return_ok_or_an_error_naming_file_and_line_on_random_bytes(
        data in prop::collection::vec(any::<u8>(), 0..400)
    ) {
        check_all(&data)?;
    }

    #[test]
    fn readers_return_ok_or_an_error_naming_file_and_line_on_near_valid_lines(
        lines in prop::collection::vec(near_valid_line(), 0..20)
    ) {
        check_all(lines.join("\n").as_bytes())?;
    }

    #[test]
    fn readers_agree_on_well_formed_trec_lines(lines in prop::collection::vec(trec_line(), 0..30)) {
        check_all(lines.join("\n").as_bytes())?;
    }

    /// On qrels both dialects accept (4 columns, integer grades, no blank or comment lines) they
    /// read the same judgements.
    #[test]
    fn dialects_agree_where_both_accept(
        lines in prop::collection::vec(("[a-c]{1,2}", "[a-z0-9#]{1,3}", -3i32..5), 1..30)
    ) {
        let text: String = lines.iter().map(|(q, d, g)| format!("{q} 0 {d} {g}\n")).collect();
        let p = Path::new(NAME);
        let permissive = trec_format::parse_qrels(&text, p, Dialect::Permissive);
        let strict = trec_format::parse_qrels(&text, p, Dialect::TrecEval);
        match (permissive, strict) {
            (Ok(a), Ok(b)) => {
                prop_assert!(b.notes.is_empty());
                prop_assert_eq!(a.queries, b.queries);
            }
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
        }
    }
}
