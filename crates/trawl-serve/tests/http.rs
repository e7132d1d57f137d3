//! The HTTP API end to end over a real socket, with the in-memory retriever: shapes, rewards,
//! cache, limits and JSON errors.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use trawl_retrieve::{HybridConfig, HybridRetriever, InMemoryRetriever, Labels, Retriever};
use trawl_serve::{AppState, ServeConfig};

const DOCS: &[(&str, &str, &str)] = &[
    ("d1", "Cats", "cats purr and sleep all day"),
    ("d2", "Dogs", "dogs bark at cats"),
    ("d3", "Birds", "birds sing and fly"),
    ("d4", "Fish", "fish swim, cats watch fish"),
];

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start(config: ServeConfig) -> Server {
    let mem: Arc<dyn Retriever> = Arc::new(InMemoryRetriever::new("bm25", DOCS));
    let hybrid: Arc<dyn Retriever> = Arc::new(
        HybridRetriever::new("hybrid", vec![mem.clone()], HybridConfig::default()).unwrap(),
    );
    let labels = Labels::parse_json(r#"{"q1": ["d2"], "q2": {"d3": 2}}"#, "t".as_ref()).unwrap();
    let state = AppState::new(vec![mem, hybrid], Some(labels), config).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            trawl_serve::serve(listener, Arc::new(state), async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
    });
    Server {
        addr: addr_rx.recv().unwrap(),
        stop: Some(tx),
        thread: Some(thread),
    }
}

/// A minimal HTTP/1.1 client: one request per connection; returns (status, JSON body).
fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let status: u16 = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn post(addr: SocketAddr, path: &str, v: Value) -> (u16, Value) {
    request(addr, "POST", path, v.to_string().as_bytes())
}

#[test]
fn search_and_retrieve_batch_return_the_contract_shapes() {
    let srv = start(ServeConfig::default());
    let (s, v) = post(srv.addr, "/search", json!({"query": "dogs bark", "k": 2}));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["hits"][0]["id"], "d2");
    assert_eq!(v["hits"][0]["title"], "Dogs");
    assert!(v["hits"][0]["score"].as_f64().unwrap() > 0.0);
    assert!(v["hits"].as_array().unwrap().len() <= 2);

    let (s, v) = post(
        srv.addr,
        "/retrieve_batch",
        json!({"items": [{"queries": ["fish", "birds"]}, {"queries": ["cats"]}], "k": 3,
               "mode": "union", "retriever": "hybrid"}),
    );
    assert_eq!(s, 200, "{v}");
    let r = &v["results"];
    assert_eq!(r.as_array().unwrap().len(), 2);
    assert_eq!(r[0]["per_query"].as_array().unwrap().len(), 2);
    let ids: Vec<&str> = r[0]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"d4") && ids.contains(&"d3"), "{ids:?}");
}

#[test]
fn rewards_follow_the_mode_and_unknown_uids_are_per_item_errors() {
    let srv = start(ServeConfig::default());
    let (s, v) = post(
        srv.addr,
        "/reward",
        json!({"items": [{"uid": "q1", "queries": ["dogs bark", "birds"]},
                         {"uid": "nope", "queries": ["cats"]},
                         {"queries": ["birds"], "relevant": ["d3"]}],
               "k": 10, "mode": "single", "metric": "hit@1"}),
    );
    assert_eq!(s, 200, "{v}");
    let r = &v["results"];
    assert_eq!(r[0]["uid"], "q1");
    assert_eq!(r[0]["per_query"], json!([1.0, 0.0]));
    assert_eq!(r[0]["reward"], 0.5);
    assert_eq!(r[0]["error"], Value::Null);
    assert_eq!(r[1]["reward"], Value::Null);
    assert!(r[1]["error"]
        .as_str()
        .unwrap()
        .contains("unknown uid `nope`"));
    assert_eq!(r[2]["reward"], 1.0);

    let (s, v) = post(
        srv.addr,
        "/reward",
        json!({"items": [{"uid": "q1", "queries": ["dogs", "birds"]}], "mode": "intersection", "metric": "ndcg@10"}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["results"][0]["doc_ids"], json!([]));
    assert_eq!(v["results"][0]["reward"], 0.0);
}

#[test]
fn repeated_queries_hit_the_cache_and_stats_count_them() {
    let srv = start(ServeConfig::default());
    for _ in 0..3 {
        let (s, _) = post(srv.addr, "/search", json!({"query": "cats", "k": 5}));
        assert_eq!(s, 200);
    }
    let _ = post(srv.addr, "/search", json!({"query": "cats", "k": 0}));
    let (s, v) = request(srv.addr, "GET", "/stats", b"");
    assert_eq!(s, 200);
    assert_eq!(v["cache"]["hits"], 2);
    assert_eq!(v["cache"]["misses"], 1);
    assert_eq!(v["requests"], 4);
    assert_eq!(v["errors"], 1);
    assert!(v["latency_ms"]["p99"].as_f64().unwrap() >= v["latency_ms"]["p50"].as_f64().unwrap());
    let (s, v) = request(srv.addr, "GET", "/health", b"");
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")));
    assert_eq!(v["retrievers"], json!(["bm25", "hybrid"]));
    let (s, v) = request(srv.addr, "GET", "/openapi.json", b"");
    assert_eq!(s, 200);
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    assert!(v["paths"]["/reward"]["post"].is_object());
}

#[test]
fn bad_input_gets_json_400s_naming_the_field() {
    let cfg = ServeConfig {
        max_batch: 3,
        max_body_bytes: 4096,
        ..ServeConfig::default()
    };
    let srv = start(cfg);
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"query": "x", "k": 0}), "k", "between 1 and 1000"),
        (json!({"query": "x", "k": 5000}), "k", "between 1 and 1000"),
        (json!({"query": "x", "k": "ten"}), "k", "invalid type"),
        (json!({"query": 5}), "query", "invalid type"),
        (json!({"k": 5}), "body", "missing field `query`"),
        (
            json!({"query": "x", "retriever": "splade"}),
            "retriever",
            "bm25, hybrid",
        ),
    ];
    for (body, field, msg) in cases {
        let (s, v) = post(srv.addr, "/search", body.clone());
        assert_eq!(s, 400, "{body} -> {v}");
        assert_eq!(v["field"], field, "{body} -> {v}");
        assert!(v["error"].as_str().unwrap().contains(msg), "{body} -> {v}");
    }
    let (s, v) = request(srv.addr, "POST", "/search", b"{\"query\": ");
    assert_eq!(s, 400);
    assert!(
        v["error"].as_str().unwrap().starts_with("malformed JSON"),
        "{v}"
    );
    let batch = |items: Value| json!({"items": items, "uid": "q1"});
    let (s, v) = post(srv.addr, "/retrieve_batch", batch(json!([{"queries": []}])));
    assert_eq!(
        (s, v["field"].as_str()),
        (400, Some("items[0].queries")),
        "{v}"
    );
    let (s, v) = post(srv.addr, "/retrieve_batch", batch(json!([])));
    assert_eq!((s, v["field"].as_str()), (400, Some("items")));
    let four =
        json!([{"queries": ["a"]}, {"queries": ["a"]}, {"queries": ["a"]}, {"queries": ["a"]}]);
    let (s, v) = post(srv.addr, "/retrieve_batch", batch(four));
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().contains("limit of 3"), "{v}");
    let (s, v) = post(
        srv.addr,
        "/retrieve_batch",
        json!({"items": [{"queries": ["a"]}], "mode": "both"}),
    );
    assert_eq!((s, v["field"].as_str()), (400, Some("mode")));
    let (s, v) = post(
        srv.addr,
        "/reward",
        json!({"items": [{"uid": "q1", "queries": ["a"]}], "metric": "map"}),
    );
    assert_eq!((s, v["field"].as_str()), (400, Some("metric")), "{v}");
    let (s, v) = post(srv.addr, "/reward", json!({"items": [{"queries": ["a"]}]}));
    assert_eq!((s, v["field"].as_str()), (400, Some("items[0].uid")), "{v}");
    let big = vec![b' '; 10_000];
    let (s, v) = request(srv.addr, "POST", "/search", &big);
    assert_eq!(s, 413, "{v}");
    let (s, _) = request(srv.addr, "GET", "/nowhere", b"");
    assert_eq!(s, 404);
    // The server still answers normally afterwards.
    let (s, _) = post(srv.addr, "/search", json!({"query": "cats"}));
    assert_eq!(s, 200);
}

#[test]
fn a_stalled_upload_times_out_without_blocking_others() {
    let cfg = ServeConfig {
        request_timeout: Duration::from_millis(500),
        ..ServeConfig::default()
    };
    let srv = start(cfg);
    let mut stalled = TcpStream::connect(srv.addr).unwrap();
    stalled
        .write_all(b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"query\"")
        .unwrap();
    let (s, _) = post(srv.addr, "/search", json!({"query": "cats"}));
    assert_eq!(s, 200);
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut raw = Vec::new();
    let _ = stalled.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}
