//! Bad input against a real `trawl serve` process: every case gets a clear 4xx JSON answer,
//! stalled and dropped clients do not stop the server from serving others, and SIGTERM shuts
//! it down cleanly.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{ok, sample, serve_with, trawl, Server};
use serde_json::{json, Value};

/// A server over a KB of the sample with its labels, and the directory holding the KB.
fn start(extra: &[&str]) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let kb = dir.path().join("kb");
    let (s, k) = (sample(), kb.to_str().unwrap().to_string());
    ok(&trawl(&["kb", "build", s.to_str().unwrap(), "--out", &k]));
    let labels = sample().join("qrels/test.tsv");
    let mut flags = vec!["--labels", labels.to_str().unwrap()];
    flags.extend_from_slice(extra);
    (serve_with(&kb, &flags), dir)
}

fn healthy(srv: &Server) {
    let (s, v) = srv.post("/search", &json!({"query": "bottom trawling", "k": 3}));
    assert_eq!(s, 200, "{v}");
    assert!(!v["hits"].as_array().unwrap().is_empty());
}

#[test]
fn bad_requests_get_4xx_json_and_the_server_keeps_serving() {
    let (srv, _dir) = start(&[
        "--max-batch",
        "8",
        "--max-rewrites",
        "4",
        "--max-body-mib",
        "1",
    ]);
    let item = |q: &str| json!({"uid": "q1", "queries": [q]});
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/search", json!({"query": "x", "k": 0}), "k"),
        ("/search", json!({"query": "x", "k": -3}), "k"),
        (
            "/search",
            json!({"query": "x", "k": 1_000_000_000_000u64}),
            "k",
        ),
        ("/search", json!({"query": ["x"]}), "query"),
        (
            "/search",
            json!({"query": "x", "retriever": "splade"}),
            "retriever",
        ),
        ("/retrieve_batch", json!({"items": "nope"}), "items"),
        (
            "/retrieve_batch",
            json!({"items": [{"queries": []}]}),
            "items[0].queries",
        ),
        (
            "/retrieve_batch",
            json!({"items": [{"queries": ["a", "b", "c", "d", "e"]}]}),
            "items[0].queries",
        ),
        (
            "/retrieve_batch",
            json!({"items": vec![json!({"queries": ["a"]}); 9]}),
            "items",
        ),
        (
            "/retrieve_batch",
            json!({"items": [{"queries": ["a"]}], "mode": "all"}),
            "mode",
        ),
        (
            "/reward",
            json!({"items": [item("a")], "metric": "bleu@4"}),
            "metric",
        ),
        (
            "/reward",
            json!({"items": [{"queries": ["a"], "uid": 7}]}),
            "items[0].uid",
        ),
        ("/reward", json!({"items": [item("a")], "k": 1001}), "k"),
    ];
    for (path, body, field) in &cases {
        let (s, v) = srv.post(path, body);
        assert_eq!(s, 400, "{path} {body} -> {v}");
        assert_eq!(v["field"], *field, "{path} {body} -> {v}");
        assert!(!v["error"].as_str().unwrap().is_empty());
    }
    let (s, v) = srv.post("/search", &json!({"query": "x", "retriever": "splade"}));
    assert!(v["error"].as_str().unwrap().contains("bm25"), "{s} {v}");
    for raw in [&b"{\"query\": \"x\""[..], b"not json", b"", b"[1, 2]"] {
        let (s, v) = srv.request("POST", "/search", raw);
        assert_eq!(s, 400, "{} -> {v}", String::from_utf8_lossy(raw));
        assert!(v["error"].is_string());
    }
    let huge = format!("{{\"query\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let (s, v) = srv.request("POST", "/search", huge.as_bytes());
    assert_eq!(s, 413, "{v}");
    healthy(&srv);
    let (s, v) = srv.request("GET", "/stats", b"");
    assert_eq!(s, 200);
    assert!(
        v["errors"].as_u64().unwrap() >= cases.len() as u64 + 5,
        "{v}"
    );
}

#[test]
fn stalled_and_dropped_clients_do_not_block_others_and_sigterm_stops_cleanly() {
    let (mut srv, _dir) = start(&["--timeout", "2"]);
    let a = srv.addr.as_str();
    // Connects and sends nothing; sends half a header; sends half a body; connects and leaves.
    let idle = TcpStream::connect(a).unwrap();
    let mut half_head = TcpStream::connect(a).unwrap();
    half_head
        .write_all(b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        .unwrap();
    let mut half_body = TcpStream::connect(a).unwrap();
    half_body
        .write_all(b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"query\": ")
        .unwrap();
    drop(TcpStream::connect(a).unwrap());
    let mut dropped = TcpStream::connect(a).unwrap();
    dropped
        .write_all(b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40\r\n\r\n{\"qu")
        .unwrap();
    drop(dropped);
    let t = Instant::now();
    for _ in 0..5 {
        healthy(&srv);
    }
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "others were stalled: {:?}",
        t.elapsed()
    );
    // The half-sent body is answered 408 once the request timeout passes.
    half_body
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut raw = Vec::new();
    let _ = half_body.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    healthy(&srv);
    // SIGTERM: graceful shutdown even with idle connections open, exit status 0.
    let pid = srv.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = srv.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    drop((idle, half_head));
}
