//! Bad input against a real `trawl serve` process: every case gets a clear 4xx JSON answer,
//! stalled and dropped clients do not stop the server from serving others, and SIGTERM shuts
//! it down cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample")
}

fn start(extra: &[&str]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let kb = dir.path().join("kb");
    let st = Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(["kb", "build"])
        .arg(sample())
        .arg("--out")
        .arg(&kb)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_trawl"))
        .arg("serve")
        .arg(&kb)
        .arg("--labels")
        .arg(sample().join("qrels/test.tsv"))
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    Server {
        child,
        addr,
        _dir: dir,
    }
}

fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn post(addr: SocketAddr, path: &str, v: &Value) -> (u16, Value) {
    request(addr, "POST", path, v.to_string().as_bytes())
}

fn healthy(addr: SocketAddr) {
    let (s, v) = post(
        addr,
        "/search",
        &json!({"query": "bottom trawling", "k": 3}),
    );
    assert_eq!(s, 200, "{v}");
    assert!(!v["hits"].as_array().unwrap().is_empty());
}

#[test]
fn bad_requests_get_4xx_json_and_the_server_keeps_serving() {
    let srv = start(&[
        "--max-batch",
        "8",
        "--max-rewrites",
        "4",
        "--max-body-mib",
        "1",
    ]);
    let a = srv.addr;
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
        let (s, v) = post(a, path, body);
        assert_eq!(s, 400, "{path} {body} -> {v}");
        assert_eq!(v["field"], *field, "{path} {body} -> {v}");
        assert!(!v["error"].as_str().unwrap().is_empty());
    }
    let (s, v) = post(a, "/search", &json!({"query": "x", "retriever": "splade"}));
    assert!(v["error"].as_str().unwrap().contains("bm25"), "{s} {v}");
    for raw in [&b"{\"query\": \"x\""[..], b"not json", b"", b"[1, 2]"] {
        let (s, v) = request(a, "POST", "/search", raw);
        assert_eq!(s, 400, "{} -> {v}", String::from_utf8_lossy(raw));
        assert!(v["error"].is_string());
    }
    let huge = format!("{{\"query\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let (s, v) = request(a, "POST", "/search", huge.as_bytes());
    assert_eq!(s, 413, "{v}");
    healthy(a);
    let (s, v) = request(a, "GET", "/stats", b"");
    assert_eq!(s, 200);
    assert!(
        v["errors"].as_u64().unwrap() >= cases.len() as u64 + 5,
        "{v}"
    );
}

#[test]
fn stalled_and_dropped_clients_do_not_block_others_and_sigterm_stops_cleanly() {
    let mut srv = start(&["--timeout", "2"]);
    let a = srv.addr;
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
        healthy(a);
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
    healthy(a);
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
