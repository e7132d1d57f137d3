//! `trawl rag-data` through the real binary: the example set, output against the JSON schema in
//! `schemas/`, documents equal to `trawl search`'s, multi-hop and bad input.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::{err, jsonl, ok, trawl};

/// A validator for the JSON Schema keywords `schemas/*.json` use (type, required, properties,
/// additionalProperties, items, minItems, minLength, minimum, const, not, oneOf, $ref to
/// $defs): the `jsonschema` crate would add minutes of compile time to CI for this one check.
mod schema {
    use serde_json::Value;

    pub fn errors(root: &Value, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let name = r.strip_prefix("#/$defs/").expect("only local $defs refs");
            return errors(root, &root["$defs"][name], v, at, out);
        }
        let mut fail = |m: String| out.push(format!("{at}: {m}"));
        if let Some(t) = schema.get("type").and_then(Value::as_str) {
            let okay = match t {
                "object" => v.is_object(),
                "array" => v.is_array(),
                "string" => v.is_string(),
                "number" => v.is_number(),
                "integer" => v.is_i64() || v.is_u64(),
                "boolean" => v.is_boolean(),
                other => panic!("type {other} not supported"),
            };
            if !okay {
                return fail(format!("expected {t}, found {v}"));
            }
        }
        if let Some(c) = schema.get("const") {
            if v != c {
                fail(format!("expected {c}, found {v}"));
            }
        }
        if let Some(n) = schema.get("not") {
            let mut inner = Vec::new();
            errors(root, n, v, at, &mut inner);
            if inner.is_empty() {
                fail(format!("{v} matches a schema it must not"));
            }
        }
        if let Some(m) = schema.get("minLength").and_then(Value::as_u64) {
            if v.as_str().is_some_and(|s| (s.chars().count() as u64) < m) {
                fail(format!("shorter than {m}"));
            }
        }
        if let Some(m) = schema.get("minimum").and_then(Value::as_f64) {
            if v.as_f64().is_some_and(|x| x < m) {
                fail(format!("below {m}"));
            }
        }
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for r in req {
                if v.get(r.as_str().unwrap()).is_none() {
                    fail(format!("missing {r}"));
                }
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        if let (Some(props), Some(obj)) = (props, v.as_object()) {
            for (k, val) in obj {
                match props.get(k) {
                    Some(s) => errors(root, s, val, &format!("{at}.{k}"), out),
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        out.push(format!("{at}: unexpected property {k}"))
                    }
                    None => {}
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
            if let Some(m) = schema.get("minItems").and_then(Value::as_u64) {
                if (arr.len() as u64) < m {
                    out.push(format!("{at}: fewer than {m} items"));
                }
            }
            for (i, x) in arr.iter().enumerate() {
                errors(root, items, x, &format!("{at}[{i}]"), out);
            }
        }
        if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
            let matching = one
                .iter()
                .filter(|s| {
                    let mut e = Vec::new();
                    errors(root, s, v, at, &mut e);
                    e.is_empty()
                })
                .count();
            if matching != 1 {
                out.push(format!(
                    "{at}: matches {matching} of oneOf, not exactly 1: {v}"
                ));
            }
        }
    }
}

fn schema() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/rag_conversation.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn assert_valid(conversations: &[Value]) {
    let s = schema();
    for (i, c) in conversations.iter().enumerate() {
        let mut e = Vec::new();
        schema::errors(&s, &s, c, &format!("line {}", i + 1), &mut e);
        assert!(e.is_empty(), "{e:#?}");
    }
}

#[test]
fn the_schema_check_rejects_what_the_schema_forbids() {
    let s = schema();
    let bad = [
        serde_json::json!({"messages": [{"role": "retrieval", "documents": [{"id": "d", "title": "t", "content": "c"}]}]}),
        serde_json::json!({"messages": [{"role": "retrieval"}]}),
        serde_json::json!({"messages": [{"role": "retrieval", "multi_hop": true, "hops": [{"hop": 0, "query": "q", "why": "w", "documents": []}]}]}),
        serde_json::json!({"conversation": []}),
    ];
    for b in bad {
        let mut e = Vec::new();
        schema::errors(&s, &s, &b, "x", &mut e);
        assert!(!e.is_empty(), "accepted {b}");
    }
}

fn example(dir: &Path) -> PathBuf {
    let d = dir.join("ex");
    let printed = ok(&trawl(&[
        "rag-data",
        "--example",
        d.to_str().unwrap(),
        "--seed",
        "7",
    ]));
    assert!(printed.contains("20 conversations"), "{printed}");
    d
}

/// The query of each retrieval message: the user turn that follows it.
fn retrievals(conv: &Value) -> Vec<(&Value, &str)> {
    let m = conv["messages"].as_array().unwrap();
    m.iter()
        .enumerate()
        .filter(|(_, x)| x["role"] == "retrieval")
        .map(|(i, x)| {
            assert_eq!(
                m[i + 1]["role"],
                "user",
                "a retrieval message precedes a user turn"
            );
            (x, m[i + 1]["content"].as_str().unwrap())
        })
        .collect()
}

#[test]
fn example_output_validates_and_documents_equal_trawl_search() {
    let tmp = tempfile::tempdir().unwrap();
    let d = example(tmp.path());
    let input = jsonl(&d.join("conversations.jsonl"));
    let out = jsonl(&d.join("rag.jsonl"));
    assert_eq!(out.len(), input.len());
    assert_valid(&out);
    assert_valid(&jsonl(&d.join("rag_multihop.jsonl")));
    let kb = d.join("kb");
    let mut checked = 0;
    for (inp, conv) in input.iter().zip(&out) {
        let users = inp["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "user")
            .count();
        let r = retrievals(conv);
        assert_eq!(r.len(), users, "one retrieval message per user turn");
        for (msg, query) in r {
            let search: Value = serde_json::from_str(&ok(&trawl(&[
                "search",
                kb.to_str().unwrap(),
                query,
                "--json",
                "-k",
                "5",
            ])))
            .unwrap();
            let docs = msg["documents"].as_array().unwrap();
            let hits = search["hits"].as_array().unwrap();
            assert_eq!(docs.len(), hits.len(), "{query}");
            assert!(!docs.is_empty(), "{query}");
            for (doc, hit) in docs.iter().zip(hits) {
                assert_eq!(doc["id"], hit["id"], "{query}");
                assert_eq!(doc["score"], hit["score"], "{query}");
                assert_eq!(doc["title"], hit["title"], "{query}");
                assert!(!doc["content"].as_str().unwrap().is_empty());
            }
            checked += 1;
        }
    }
    assert!(checked >= 20);
    // Seeded: the same seed writes the same bytes.
    let again = tmp.path().join("again");
    ok(&trawl(&[
        "rag-data",
        "--example",
        again.to_str().unwrap(),
        "--seed",
        "7",
    ]));
    for f in [
        "docs.jsonl",
        "conversations.jsonl",
        "rag.jsonl",
        "rag_multihop.jsonl",
    ] {
        assert_eq!(
            std::fs::read(d.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn last_turn_only_and_word_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let d = example(tmp.path());
    let out = tmp.path().join("last.jsonl");
    let printed = ok(&trawl(&[
        "rag-data",
        "--kb",
        d.join("kb").to_str().unwrap(),
        "--conversations",
        d.join("conversations.jsonl").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--turns",
        "last",
        "--top-k",
        "2",
        "--max-doc-words",
        "4",
    ]));
    assert!(printed.contains("conversations/s"), "{printed}");
    let out = jsonl(&out);
    assert_valid(&out);
    for conv in &out {
        let m = conv["messages"].as_array().unwrap();
        let r = retrievals(conv);
        assert_eq!(r.len(), 1);
        let last_user = m.iter().rposition(|x| x["role"] == "user").unwrap();
        assert_eq!(m[last_user - 1]["role"], "retrieval");
        for doc in r[0].0["documents"].as_array().unwrap() {
            assert!(doc["content"].as_str().unwrap().split_whitespace().count() <= 4);
        }
        assert!(r[0].0["documents"].as_array().unwrap().len() <= 2);
    }
}

#[test]
fn multi_hop_queries_change_and_bring_new_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let d = example(tmp.path());
    let out = jsonl(&d.join("rag_multihop.jsonl"));
    let log = jsonl(&d.join("hop_log.jsonl"));
    let mut second_hops = 0;
    for conv in &out {
        for (msg, question) in retrievals(conv) {
            assert_eq!(msg["multi_hop"], true);
            let hops = msg["hops"].as_array().unwrap();
            assert_eq!(hops[0]["query"], question);
            let mut seen = std::collections::HashSet::new();
            for (i, h) in hops.iter().enumerate() {
                assert_eq!(h["hop"], i + 1);
                let docs = h["documents"].as_array().unwrap();
                assert!(!docs.is_empty() && docs.len() <= 3);
                for doc in docs {
                    assert!(
                        seen.insert(doc["id"].as_str().unwrap().to_string()),
                        "a document repeated across hops"
                    );
                }
            }
            if hops.len() >= 2 {
                second_hops += 1;
                let (q1, q2) = (
                    hops[0]["query"].as_str().unwrap(),
                    hops[1]["query"].as_str().unwrap(),
                );
                assert_ne!(q1, q2);
                assert!(
                    q2.starts_with(q1),
                    "feedback adds terms to the question: {q2}"
                );
                assert!(hops[1]["why"]
                    .as_str()
                    .unwrap()
                    .contains("pseudo-relevance feedback"));
                let terms = hops[1]["expansion_terms"].as_array().unwrap();
                assert_eq!(terms.len(), 5);
                // hop 2's documents are new (checked above) and found by its own query.
                let search: Value = serde_json::from_str(&ok(&trawl(&[
                    "search",
                    d.join("kb").to_str().unwrap(),
                    q2,
                    "--json",
                    "-k",
                    "20",
                ])))
                .unwrap();
                let ids: Vec<&Value> = search["hits"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| &h["id"])
                    .collect();
                for doc in hops[1]["documents"].as_array().unwrap() {
                    assert!(ids.contains(&&doc["id"]));
                }
            }
        }
    }
    assert!(second_hops > 10, "{second_hops} turns made a second hop");
    assert!(log
        .iter()
        .any(|l| l["hop"] == 2 && l["why"].as_str().is_some()));
    assert!(log.iter().any(|l| l["stopped"].as_str().is_some()));
}

#[test]
fn an_external_command_can_write_the_next_query() {
    let tmp = tempfile::tempdir().unwrap();
    let d = example(tmp.path());
    let out = tmp.path().join("cmd.jsonl");
    let seen = tmp.path().join("stdin.json");
    let cmd = format!("cat > {}; echo glacier meltwater fjord", seen.display());
    ok(&trawl(&[
        "rag-data",
        "--kb",
        d.join("kb").to_str().unwrap(),
        "--conversations",
        d.join("conversations.jsonl").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--turns",
        "last",
        "--max-hops",
        "2",
        "--next-query-cmd",
        &cmd,
    ]));
    let out = jsonl(&out);
    assert_valid(&out);
    let (msg, _) = retrievals(&out[0])[0];
    assert_eq!(msg["hops"][1]["query"], "glacier meltwater fjord");
    assert!(msg["hops"][1]["why"]
        .as_str()
        .unwrap()
        .contains("next-query command"));
    let input: Value = serde_json::from_str(&std::fs::read_to_string(&seen).unwrap()).unwrap();
    assert_eq!(input["hop"], 1);
    assert!(input["documents"].as_array().is_some_and(|d| !d.is_empty()));
    let failing = trawl(&[
        "rag-data",
        "--kb",
        d.join("kb").to_str().unwrap(),
        "--conversations",
        d.join("conversations.jsonl").to_str().unwrap(),
        "--out",
        tmp.path().join("f.jsonl").to_str().unwrap(),
        "--max-hops",
        "2",
        "--next-query-cmd",
        "echo broken >&2; exit 3",
    ]);
    let e = err(&failing);
    assert!(
        e.contains("--next-query-cmd") && e.contains("broken"),
        "{e}"
    );
}

#[test]
fn conversations_without_a_user_turn_or_json_are_errors_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let d = example(tmp.path());
    let conv = tmp.path().join("conv.jsonl");
    let out = tmp.path().join("out.jsonl");
    let run = |text: &str| {
        std::fs::write(&conv, text).unwrap();
        trawl(&[
            "rag-data",
            "--kb",
            d.join("kb").to_str().unwrap(),
            "--conversations",
            conv.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let good = r#"{"messages": [{"role": "user", "content": "glacier"}]}"#;
    let e = err(&run(&format!(
        "{good}\n{{\"messages\": [{{\"role\": \"assistant\", \"content\": \"hi\"}}]}}\n"
    )));
    assert!(
        e.contains("conv.jsonl:2: the conversation has no user turn"),
        "{e}"
    );
    let e = err(&run(&format!("{good}\n\n{{\"messages\": [\n")));
    assert!(e.contains("conv.jsonl:3: not a JSON object"), "{e}");
    let e = err(&run(&format!("{good}\n{{\"turns\": []}}\n")));
    assert!(
        e.contains("conv.jsonl:2: expected an object with a \"messages\" array"),
        "{e}"
    );
    assert!(!out.exists(), "no half-written output");
}

/// `POST /multihop` on `trawl serve` gives the hops `rag-data --max-hops` writes for the same
/// question, and refuses out-of-range settings.
#[test]
fn serve_multihop_equals_rag_data_multi_hop() {
    let tmp = tempfile::tempdir().unwrap();
    let d = example(tmp.path());
    let server = common::serve(&d.join("kb"));
    let post = |body: &Value| server.post("/multihop", body);
    let out = jsonl(&d.join("rag_multihop.jsonl"));
    let (msg, question) = retrievals(&out[0])[0];
    let (status, v) =
        post(&serde_json::json!({"query": question, "max_hops": 3, "top_k_per_hop": 3}));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["hops"], msg["hops"]);
    assert!(v["stopped"].as_str().is_some());
    let (status, v) = post(&serde_json::json!({"query": question, "max_hops": 0}));
    assert_eq!(status, 400, "{v}");
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("max_hops must be between 1 and 10"));
}

/// A parquet file of conversations (a `messages` list of {role, content} structs, written by
/// pyarrow: tests/data/rag_conversations.parquet) gives the same output as the same
/// conversations in JSONL.
#[test]
fn parquet_conversations_equal_jsonl_conversations() {
    let tmp = tempfile::tempdir().unwrap();
    let d = example(tmp.path());
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut outs = Vec::new();
    for ext in ["jsonl", "parquet"] {
        let out = tmp.path().join(format!("from-{ext}.jsonl"));
        ok(&trawl(&[
            "rag-data",
            "--kb",
            d.join("kb").to_str().unwrap(),
            "--conversations",
            data.join(format!("rag_conversations.{ext}"))
                .to_str()
                .unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]));
        outs.push(jsonl(&out));
    }
    assert_eq!(outs[0].len(), 3);
    assert_valid(&outs[1]);
    assert_eq!(outs[0], outs[1]);
    assert_eq!(
        retrievals(&outs[1][0]).len(),
        2,
        "one retrieval per user turn"
    );
    // A parquet file without a `messages` column: the columns present are named.
    let other = tmp.path().join("prompts.parquet");
    trawl_parquet::write_table(
        &other,
        &[trawl_parquet::Column {
            name: "prompt".into(),
            data: trawl_parquet::ColumnData::Utf8(vec![Some("hi".into())]),
        }],
    )
    .unwrap();
    let out = tmp.path().join("none.jsonl");
    let e = err(&trawl(&[
        "rag-data",
        "--kb",
        d.join("kb").to_str().unwrap(),
        "--conversations",
        other.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(
        e.contains("no column `messages`") && e.contains("`prompt`"),
        "{e}"
    );
    assert!(!out.exists(), "no half-written output");
}
