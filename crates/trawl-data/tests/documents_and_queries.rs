//! Behaviour of the corpus, query and BEIR-folder readers on good and bad input. Each test
//! names the behaviour it proves.

use std::io::Write;
use std::path::Path;

use trawl_data::document::{read_documents, DocumentFormat, DocumentReader};
use trawl_data::query::{read_queries, read_queries_from, QueryFormat};
use trawl_data::{BeirDataset, Document, Error, Query};

fn docs(text: &str, format: DocumentFormat) -> Vec<Result<Document, Error>> {
    DocumentReader::from_reader(
        std::io::Cursor::new(text.as_bytes().to_vec()),
        "c.jsonl",
        format,
    )
    .collect()
}

fn jsonl(text: &str) -> Vec<Result<Document, Error>> {
    docs(text, DocumentFormat::Jsonl)
}

fn one_err(results: Vec<Result<Document, Error>>) -> String {
    results
        .into_iter()
        .find_map(Result::err)
        .expect("an error")
        .to_string()
}

fn queries(text: &str, format: QueryFormat) -> Result<Vec<Query>, Error> {
    read_queries_from(
        std::io::Cursor::new(text.as_bytes().to_vec()),
        "q.jsonl",
        format,
    )
}

#[test]
fn jsonl_numeric_id_becomes_string_and_extra_fields_go_to_metadata() {
    let d = jsonl(r#"{"id": 42, "title": "T", "content": "body", "url": "u", "year": 2020}"#);
    let d = d[0].as_ref().unwrap();
    assert_eq!(
        (d.id.as_str(), d.title.as_str(), d.text.as_str()),
        ("42", "T", "body")
    );
    assert_eq!(d.metadata["url"], "u");
    assert_eq!(d.metadata["year"], 2020);
    assert_eq!(d.metadata.len(), 2);
}

#[test]
fn jsonl_underscore_id_and_text_win_over_id_and_content_which_stay_as_metadata() {
    let d = jsonl(r#"{"_id": "a", "id": "b", "text": "t", "content": "c"}"#);
    let d = d[0].as_ref().unwrap();
    assert_eq!((d.id.as_str(), d.text.as_str()), ("a", "t"));
    assert_eq!(d.metadata["id"], "b");
    assert_eq!(d.metadata["content"], "c");
}

#[test]
fn jsonl_missing_id_or_text_names_line_and_fields_found() {
    let e = one_err(jsonl(
        "{\"_id\":\"1\",\"text\":\"ok\"}\n{\"title\":\"x\",\"text\":\"y\"}\n",
    ));
    assert_eq!(e, "c.jsonl:2: missing document id: expected an `_id` or `id` field; fields found: `text`, `title`");
    let e = one_err(jsonl(r#"{"_id": "1", "body": "x"}"#));
    assert_eq!(e, "c.jsonl:1: missing document text: expected a `text` or `content` field; fields found: `body`");
}

#[test]
fn jsonl_wrong_field_types_are_errors() {
    assert!(one_err(jsonl(r#"{"_id": [1], "text": "x"}"#))
        .contains("expected `_id` to be a string or number, found an array"));
    assert!(one_err(jsonl(r#"{"_id": "1", "text": 5}"#))
        .contains("expected `text` to be a string, found a number"));
    assert!(one_err(jsonl(r#"{"_id": "", "text": "x"}"#)).contains("empty document id"));
}

#[test]
fn jsonl_null_title_and_empty_text_are_allowed() {
    let d = jsonl(r#"{"_id": "1", "title": null, "text": ""}"#);
    let d = d[0].as_ref().unwrap();
    assert_eq!((d.title.as_str(), d.text.as_str()), ("", ""));
}

#[test]
fn jsonl_invalid_json_names_line_and_column_and_reader_continues() {
    let all = jsonl("{\"_id\":\"1\",\"text\":\"a\"}\n{\"_id\": \"2\", \"text\": \"b\"\n{\"_id\":\"3\",\"text\":\"c\"}\n");
    assert_eq!(all.len(), 3);
    let e = all[1].as_ref().unwrap_err().to_string();
    assert!(e.starts_with("c.jsonl:2: invalid JSON at column"), "{e}");
    assert!(e.ends_with("expected one JSON object per line"), "{e}");
    assert_eq!(all[2].as_ref().unwrap().id, "3");
}

#[test]
fn json_array_file_gets_a_hint_and_non_objects_are_errors() {
    let e = one_err(jsonl(r#"[{"_id": "1", "text": "x"}]"#));
    assert!(e.contains("found a JSON array; expected JSON Lines"), "{e}");
    assert!(one_err(jsonl("{\"_id\":\"1\",\"text\":\"x\"}\n\"str\"\n"))
        .contains("c.jsonl:2: expected a JSON object, found a string"));
}

#[test]
fn corpus_bom_crlf_blank_lines_and_unicode_ids_are_handled() {
    let all = jsonl(
        "\u{feff}{\"_id\":\"ü-1\",\"text\":\"a\"}\r\n\r\n{\"_id\":\"文-2\",\"text\":\"b\"}\r\n",
    );
    let ids: Vec<String> = all.into_iter().map(|d| d.unwrap().id).collect();
    assert_eq!(ids, ["ü-1", "文-2"]);
}

#[test]
fn corpus_empty_file_yields_no_documents() {
    assert!(jsonl("").is_empty());
    assert!(docs("", DocumentFormat::Tsv).is_empty());
}

#[test]
fn corpus_invalid_utf8_names_the_line_and_reader_continues() {
    let bytes = b"{\"_id\":\"1\",\"text\":\"a\"}\n{\"_id\":\"2\",\"text\":\"caf\xe9\"}\n{\"_id\":\"3\",\"text\":\"c\"}\n".to_vec();
    let all: Vec<_> = DocumentReader::from_reader(
        std::io::Cursor::new(bytes),
        "c.jsonl",
        DocumentFormat::Jsonl,
    )
    .collect();
    let e = all[1].as_ref().unwrap_err().to_string();
    assert!(
        e.starts_with("c.jsonl:2: invalid UTF-8 (byte 0xe9 at column 23)"),
        "{e}"
    );
    assert_eq!(all[2].as_ref().unwrap().id, "3");
}

#[test]
fn duplicate_document_ids_are_kept_unless_rejected() {
    let text = "{\"_id\":\"1\",\"text\":\"a\"}\n{\"_id\":\"1\",\"text\":\"b\"}\n";
    assert!(jsonl(text).iter().all(Result::is_ok));
    let strict: Vec<_> = DocumentReader::from_reader(
        std::io::Cursor::new(text.as_bytes().to_vec()),
        "c.jsonl",
        DocumentFormat::Jsonl,
    )
    .reject_duplicate_ids()
    .collect();
    assert_eq!(
        strict[1].as_ref().unwrap_err().to_string(),
        "c.jsonl:2: duplicate document id `1` (first on line 1)"
    );
}

#[test]
fn tsv_two_or_three_columns_and_header_order() {
    let all = docs(
        "d1\tplain text\nd2\tA title\tbody text\n",
        DocumentFormat::Tsv,
    );
    let d: Vec<Document> = all.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        (d[0].id.as_str(), d[0].title.as_str(), d[0].text.as_str()),
        ("d1", "", "plain text")
    );
    assert_eq!(
        (d[1].title.as_str(), d[1].text.as_str()),
        ("A title", "body text")
    );
    let d = docs(
        "id\ttext\ttitle\nx\tthe text\tthe title\n",
        DocumentFormat::Tsv,
    );
    let d = d[0].as_ref().unwrap();
    assert_eq!(
        (d.id.as_str(), d.title.as_str(), d.text.as_str()),
        ("x", "the title", "the text")
    );
}

#[test]
fn tsv_wrong_column_count_names_line_and_expected_shape() {
    let e = one_err(docs("d1\ttext\njust-one-column\n", DocumentFormat::Tsv));
    assert_eq!(e, "c.jsonl:2: expected 2 tab-separated columns `id<TAB>text` or 3 `id<TAB>title<TAB>text`, found 1: `just-one-column`");
}

#[test]
fn corpus_format_comes_from_extension_and_gz_is_transparent() {
    let dir = tempfile::tempdir().unwrap();
    let gz_path = dir.path().join("corpus.jsonl.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"{\"_id\":\"1\",\"text\":\"zipped\"}\n")
        .unwrap();
    std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
    let d: Vec<Document> = read_documents(&gz_path)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(d[0].text, "zipped");
    let tsv = dir.path().join("collection.tsv");
    std::fs::write(&tsv, "7\tseven\n").unwrap();
    assert_eq!(
        read_documents(&tsv).unwrap().next().unwrap().unwrap().id,
        "7"
    );
    let e = read_documents(dir.path().join("corpus.csv"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.ends_with("cannot tell the corpus format from the extension `.csv`; expected .jsonl, .json, .ndjson or .tsv (optionally followed by .gz)"), "{e}");
}

#[test]
fn queries_jsonl_accept_query_field_and_numeric_ids() {
    let q = queries(
        "{\"_id\": \"a\", \"text\": \"x\", \"metadata\": {}}\n{\"id\": 5, \"query\": \"y\"}\n",
        QueryFormat::Jsonl,
    )
    .unwrap();
    assert_eq!(
        q,
        vec![
            Query {
                id: "a".into(),
                text: "x".into()
            },
            Query {
                id: "5".into(),
                text: "y".into()
            }
        ]
    );
    let e = queries("{\"_id\": \"a\"}\n", QueryFormat::Jsonl)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "q.jsonl:1: missing query text: expected a `text` or `query` field; fields found: (none)"
    );
}

#[test]
fn queries_tsv_with_optional_header_and_bad_lines() {
    let q = queries("qid\ttext\r\n1\twhat is bm25\n2\t\n", QueryFormat::Tsv).unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(q[0].text, "what is bm25");
    assert_eq!(q[1].text, "", "empty query text is allowed");
    let e = queries("1\tok\nno-tab-here\n", QueryFormat::Tsv)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "q.jsonl:2: expected 2 tab-separated columns `qid<TAB>text`, found 1: `no-tab-here`"
    );
}

#[test]
fn duplicate_query_ids_are_an_error_naming_both_lines() {
    let e = queries("1\ta\n2\tb\n1\tc\n", QueryFormat::Tsv)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "q.jsonl:3: duplicate query id `1` (first on line 1); query ids must be unique"
    );
}

#[test]
fn queries_unknown_extension_is_a_clear_error() {
    let e = read_queries(Path::new("topics.xml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("topics.xml: cannot tell the queries format from the extension `.xml`"),
        "{e}"
    );
}

#[test]
fn beir_missing_folder_file_and_split_errors_say_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let e = BeirDataset::open(&missing).unwrap_err().to_string();
    assert!(e.ends_with("nope: file not found (expected a BEIR folder holding corpus.jsonl, queries.jsonl and qrels/<split>.tsv)"), "{e}");
    std::fs::write(dir.path().join("docs.jsonl"), "").unwrap();
    let e = BeirDataset::open(dir.path()).unwrap_err().to_string();
    assert!(
        e.ends_with("corpus.jsonl: file not found (the folder holds: docs.jsonl)"),
        "{e}"
    );
    std::fs::write(
        dir.path().join("corpus.jsonl"),
        "{\"_id\":\"d\",\"text\":\"t\"}\n",
    )
    .unwrap();
    let ds = BeirDataset::open(dir.path()).unwrap();
    assert_eq!(ds.splits().unwrap(), Vec::<String>::new());
    assert!(ds
        .read_qrels("test")
        .unwrap_err()
        .to_string()
        .contains("(no qrels/<split>.tsv files in"));
    assert!(matches!(ds.read_queries(), Err(Error::MissingFile { .. })));
    std::fs::create_dir(dir.path().join("qrels")).unwrap();
    std::fs::write(
        dir.path().join("qrels/dev.tsv"),
        "query-id\tcorpus-id\tscore\nq\td\t1\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("qrels/test.tsv.gz"), "").unwrap();
    assert_eq!(ds.splits().unwrap(), ["dev", "test"]);
    assert_eq!(ds.read_qrels("dev").unwrap().get("q").unwrap()["d"], 1);
    let e = ds.read_qrels("train").unwrap_err().to_string();
    assert!(
        e.ends_with("train.tsv: file not found (available splits: dev, test)"),
        "{e}"
    );
    assert_eq!(ds.read_corpus().unwrap().count(), 1);
}
