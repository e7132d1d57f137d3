//! The HTTP API end to end over a real socket, with the in-memory retriever: shapes, rewards,
//! cache, limits and JSON errors, budgets, cancellation, shutdown, the HTTP guards and reload.

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
    start_state(AppState::new(vec![mem, hybrid], Some(labels), config).unwrap())
}

fn start_state(state: AppState) -> Server {
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
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    raw_exchange(s, &head, body)
}

/// Sends `head` and `body` on `s`; reads the answer to the end: (status, JSON body).
fn raw_exchange(mut s: TcpStream, head: &str, body: &[u8]) -> (u16, Value) {
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
        (json!({"k": 5}), "query", "missing `query`"),
        (json!({"query": "x", "vector": [1.0]}), "vector", "not both"),
        (json!({"query": "x", "ef": 0}), "ef", "between 1 and"),
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
        .write_all(b"POST /search HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\"")
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

// ---- Hardening: budgets, cancellation, shutdown, HTTP guards, reload ----

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use trawl_retrieve::RetrievedDoc;
use trawl_serve::KbSource;

/// Counts engine calls and the most running at once.
#[derive(Default)]
struct Counters {
    calls: AtomicUsize,
    running: AtomicUsize,
    peak: AtomicUsize,
}

/// The in-memory retriever, 20 ms slower per engine call.
struct Slow {
    inner: InMemoryRetriever,
    c: Arc<Counters>,
}

impl Retriever for Slow {
    fn name(&self) -> &str {
        "bm25"
    }
    fn retrieve_batch(
        &self,
        queries: &[&str],
        k: usize,
    ) -> trawl_retrieve::Result<Vec<Vec<RetrievedDoc>>> {
        let now = self.c.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.c.peak.fetch_max(now, Ordering::SeqCst);
        self.c.calls.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(20));
        let out = self.inner.retrieve_batch(queries, k);
        self.c.running.fetch_sub(1, Ordering::SeqCst);
        out
    }
    fn num_docs(&self) -> usize {
        self.inner.num_docs()
    }
}

fn slow_server(config: ServeConfig) -> (Server, Arc<Counters>) {
    let c = Arc::new(Counters::default());
    // 300 documents: enough that budgets count k hits per list, not the corpus size.
    let ids: Vec<String> = (0..300).map(|i| format!("doc-{i:03}")).collect();
    let docs: Vec<(&str, &str, &str)> = ids
        .iter()
        .map(|id| (id.as_str(), "", "cats and dogs"))
        .collect();
    let slow: Arc<dyn Retriever> = Arc::new(Slow {
        inner: InMemoryRetriever::new("bm25", &docs),
        c: c.clone(),
    });
    let srv = start_state(AppState::new(vec![slow], None, config).unwrap());
    (srv, c)
}

/// `items` items of 64 distinct rewrites each: `items` engine calls of 64 queries (20 ms each).
fn long_batch(items: usize) -> Value {
    let items: Vec<Value> = (0..items)
        .map(|i| json!({"queries": (0..64).map(|j| format!("cats {i} {j}")).collect::<Vec<_>>()}))
        .collect();
    json!({"items": items, "k": 1})
}

/// Any request with extra headers; the answer's (status, JSON body).
fn send(addr: SocketAddr, method: &str, path: &str, headers: &[&str], body: &[u8]) -> (u16, Value) {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    raw_exchange(s, &head, body)
}

/// Stops the server; how long it took to exit.
fn shut_down(mut srv: Server) -> Duration {
    let t = Instant::now();
    let _ = srv.stop.take().unwrap().send(());
    srv.thread.take().unwrap().join().unwrap();
    t.elapsed()
}

#[test]
fn an_oversized_request_is_refused_before_any_work_naming_the_limit() {
    let (srv, c) = slow_server(ServeConfig {
        max_hits: 1000,
        max_answer_bytes: 50_000,
        ..ServeConfig::default()
    });
    // 20 items x 10 rewrites x k=10 = 2000 hits.
    let items: Vec<Value> = (0..20)
        .map(|i| json!({"queries": (0..10).map(|j| format!("cats {i} {j}")).collect::<Vec<_>>()}))
        .collect();
    let t = Instant::now();
    let (s, v) = post(
        srv.addr,
        "/retrieve_batch",
        json!({"items": items, "k": 10}),
    );
    assert_eq!(s, 413, "{v}");
    let msg = v["error"].as_str().unwrap();
    assert!(
        msg.contains("2000 hits") && msg.contains("limit of 1000") && msg.contains("--max-hits"),
        "{msg}"
    );
    // 900 hits fit, but 9 items x (1 rewrite + the fused list) x 100 hits of JSON do not.
    let items = vec![json!({"queries": ["cats"]}); 9];
    let (s, v) = post(
        srv.addr,
        "/retrieve_batch",
        json!({"items": items, "k": 100}),
    );
    assert_eq!(s, 413, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("--max-answer-mib"),
        "{v}"
    );
    // Rewards count the retrieval depth: recall@100 with k=10 is 100 hits per rewrite.
    let items = vec![json!({"queries": ["cats"], "relevant": ["d1"]}); 11];
    let (s, v) = post(
        srv.addr,
        "/reward",
        json!({"items": items, "metric": "recall@100"}),
    );
    assert_eq!(s, 413, "{v}");
    assert!(v["error"].as_str().unwrap().contains("1100 hits"), "{v}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(c.calls.load(Ordering::SeqCst), 0, "work started");
    let (s, v) = post(
        srv.addr,
        "/retrieve_batch",
        json!({"items": [{"queries": ["cats"]}], "k": 10}),
    );
    assert_eq!(s, 200, "{v}");
}

#[test]
fn a_reward_cutoff_beyond_k_retrieves_to_the_cutoff_and_says_so() {
    let srv = start(ServeConfig::default());
    let (s, v) = post(
        srv.addr,
        "/reward",
        json!({"items": [{"uid": "q1", "queries": ["cats"]}], "metric": "recall@100"}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["metric"].as_str(), v["depth"].as_u64()),
        (Some("recall@100"), Some(100))
    );
    let (s, v) = post(
        srv.addr,
        "/reward",
        json!({"items": [{"uid": "q1", "queries": ["cats"]}], "k": 20, "metric": "ndcg@5"}),
    );
    assert_eq!((s, v["depth"].as_u64()), (200, Some(20)), "{v}");
    let (s, v) = post(
        srv.addr,
        "/reward",
        json!({"items": [{"uid": "q1", "queries": ["cats"]}], "metric": "recall@5000"}),
    );
    assert_eq!((s, v["field"].as_str()), (400, Some("metric")), "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("largest k of 1000"),
        "{v}"
    );
}

#[test]
fn a_timed_out_request_stops_its_work_and_holds_its_slot_only_while_it_runs() {
    let (srv, c) = slow_server(ServeConfig {
        request_timeout: Duration::from_millis(300),
        max_concurrent_retrievals: 1,
        ..ServeConfig::default()
    });
    // Three requests of 40 engine calls (800 ms of work each) at once, one slot.
    let body = long_batch(40);
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (a, b) = (srv.addr, body.clone());
            std::thread::spawn(move || post(a, "/retrieve_batch", b).0)
        })
        .collect();
    for cl in clients {
        assert_eq!(cl.join().unwrap(), 408);
    }
    std::thread::sleep(Duration::from_millis(100));
    let calls = c.calls.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        c.calls.load(Ordering::SeqCst),
        calls,
        "work went on after the 408"
    );
    assert!(
        calls < 40,
        "{calls} engine calls: not even one request was stopped early"
    );
    assert_eq!(
        c.peak.load(Ordering::SeqCst),
        1,
        "more retrievals ran than slots"
    );
    assert_eq!(c.running.load(Ordering::SeqCst), 0);
    let t = Instant::now();
    let (s, _) = post(srv.addr, "/search", json!({"query": "cats"}));
    assert_eq!(s, 200);
    assert!(
        t.elapsed() < Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn a_client_that_disconnects_stops_its_retrieval() {
    let (srv, c) = slow_server(ServeConfig::default());
    let body = long_batch(40).to_string();
    let mut s = TcpStream::connect(srv.addr).unwrap();
    let head = format!(
        "POST /retrieve_batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    drop(s);
    std::thread::sleep(Duration::from_millis(150));
    let calls = c.calls.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        c.calls.load(Ordering::SeqCst),
        calls,
        "work went on after the client left"
    );
    assert!(calls < 40, "{calls}");
    assert_eq!(c.running.load(Ordering::SeqCst), 0);
}

#[test]
fn shutdown_answers_in_flight_requests_cancels_past_the_grace_and_exits() {
    let (srv, c) = slow_server(ServeConfig {
        shutdown_grace: Duration::from_millis(1000),
        max_concurrent_retrievals: 2,
        ..ServeConfig::default()
    });
    let addr = srv.addr;
    // One request that would take 5 s, one that takes 3 engine calls (60 ms).
    let long = std::thread::spawn(move || post(addr, "/retrieve_batch", long_batch(250)));
    let short = std::thread::spawn(move || post(addr, "/retrieve_batch", long_batch(3)));
    std::thread::sleep(Duration::from_millis(100));
    let took = shut_down(srv);
    let (s, v) = short.join().unwrap();
    assert_eq!(
        s, 200,
        "the short request did not finish within the grace: {v}"
    );
    let (s, v) = long.join().unwrap();
    assert_eq!(s, 503, "the long request got no answer or a wrong one: {v}");
    assert!(v["error"].as_str().unwrap().contains("cancelled"), "{v}");
    assert!(took < Duration::from_millis(3000), "shutdown took {took:?}");
    assert_eq!(
        c.running.load(Ordering::SeqCst),
        0,
        "work outlived the server"
    );
    assert!(c.calls.load(Ordering::SeqCst) < 250);
    assert!(
        TcpStream::connect(addr).is_err(),
        "still accepting connections"
    );
}

#[test]
fn token_host_and_json_content_type_are_required_before_any_handler() {
    let srv = start(ServeConfig {
        token: Some("s3cret".into()),
        allowed_hosts: vec!["search.internal".into()],
        ..ServeConfig::default()
    });
    let a = srv.addr;
    let body = br#"{"query": "cats"}"#;
    let json = "Content-Type: application/json";
    let ok = "Authorization: Bearer s3cret";
    let lo = "Host: 127.0.0.1";
    assert_eq!(send(a, "POST", "/search", &[lo, json], body).0, 401);
    assert_eq!(
        send(
            a,
            "POST",
            "/search",
            &[lo, json, "Authorization: Bearer s3creT"],
            body
        )
        .0,
        401
    );
    assert_eq!(send(a, "GET", "/stats", &[lo], b"").0, 401);
    let (s, v) = send(a, "POST", "/search", &[lo, json, ok], body);
    assert_eq!(s, 200, "{v}");
    assert_eq!(send(a, "GET", "/health", &[lo], b"").0, 200);
    // DNS rebinding: a page served from evil.example resolving to 127.0.0.1.
    let (s, v) = send(
        a,
        "POST",
        "/search",
        &["Host: evil.example:8080", json, ok],
        body,
    );
    assert_eq!(s, 421, "{v}");
    assert!(v["error"].as_str().unwrap().contains("--allow-host"), "{v}");
    for h in ["Host: localhost:1234", "Host: search.internal"] {
        assert_eq!(
            send(a, "POST", "/search", &[h, json, ok], body).0,
            200,
            "{h}"
        );
    }
    // A cross-origin form or fetch without preflight can only send text/plain and the like.
    for ct in [
        "Content-Type: text/plain",
        "Content-Type: application/x-www-form-urlencoded",
    ] {
        let (s, v) = send(a, "POST", "/search", &[lo, ct, ok], body);
        assert_eq!(s, 415, "{ct}: {v}");
    }
    assert_eq!(send(a, "POST", "/search", &[lo, ok], body).0, 415);
    let (s, _) = send(
        a,
        "POST",
        "/search",
        &[lo, "Content-Type: application/json; charset=utf-8", ok],
        body,
    );
    assert_eq!(s, 200);
}

#[test]
fn connections_over_the_cap_get_503_and_idle_or_trickling_ones_are_closed() {
    let srv = start(ServeConfig {
        max_connections: 2,
        header_timeout: Duration::from_millis(400),
        ..ServeConfig::default()
    });
    let a = srv.addr;
    let idle = TcpStream::connect(a).unwrap();
    let mut trickle = TcpStream::connect(a).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let (s, v) = request(a, "GET", "/health", b"");
    assert_eq!(s, 503, "{v}");
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("too many open connections"));
    // Headers trickled a byte every 50 ms never complete: closed at the header timeout.
    let t = Instant::now();
    let head = b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    for b in head.iter().cycle().take(40) {
        if trickle.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let closed_after = t.elapsed();
    assert!(
        closed_after < Duration::from_millis(1500),
        "{closed_after:?}"
    );
    // The idle one was closed too: reading gives EOF (or a reset), not a hang.
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 64];
    let n = (&idle).read(&mut buf).unwrap_or(0);
    assert!(
        n == 0 || buf.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        &buf[..n]
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    // With both gone, new connections are served.
    let (s, _) = request(a, "GET", "/health", b"");
    assert_eq!(s, 200);
}

/// A KB source the test swaps by hand.
struct FakeKb {
    generation: Mutex<String>,
    docs: Mutex<Vec<(&'static str, &'static str, &'static str)>>,
    fail: AtomicBool,
}

struct FakeSource(Arc<FakeKb>);

impl KbSource for FakeSource {
    fn generation(&self) -> Result<String, String> {
        Ok(self.0.generation.lock().unwrap().clone())
    }
    fn open(&self) -> Result<Vec<Arc<dyn Retriever>>, String> {
        if self.0.fail.load(Ordering::SeqCst) {
            return Err("manifest.json: corrupt".into());
        }
        let docs = self.0.docs.lock().unwrap().clone();
        Ok(vec![Arc::new(InMemoryRetriever::new("bm25", &docs))])
    }
}

#[test]
fn a_replaced_kb_shows_stale_in_health_and_reload_swaps_it_or_keeps_the_old_on_error() {
    let kb = Arc::new(FakeKb {
        generation: Mutex::new("g1".into()),
        docs: Mutex::new(DOCS.to_vec()),
        fail: AtomicBool::new(false),
    });
    let source = FakeSource(kb.clone());
    let state = AppState::new(source.open().unwrap(), None, ServeConfig::default())
        .unwrap()
        .with_source(Box::new(source), "g1".into());
    let srv = start_state(state);
    let a = srv.addr;
    let health = || request(a, "GET", "/health", b"").1;
    let h = health();
    assert_eq!(
        (h["stale"].as_bool(), h["num_docs"].as_u64()),
        (Some(false), Some(4)),
        "{h}"
    );
    // Warm the cache: the answer of the old KB must not outlive it.
    assert_eq!(
        post(a, "/search", json!({"query": "otters"})).1["hits"],
        json!([])
    );
    *kb.generation.lock().unwrap() = "g2".into();
    kb.docs
        .lock()
        .unwrap()
        .push(("d5", "Otters", "otters hold hands"));
    let h = health();
    assert_eq!(
        (h["stale"].as_bool(), h["on_disk_generation"].as_str()),
        (Some(true), Some("g2")),
        "{h}"
    );
    assert_eq!(
        (h["generation"].as_str(), h["num_docs"].as_u64()),
        (Some("g1"), Some(4))
    );
    kb.fail.store(true, Ordering::SeqCst);
    let (s, v) = post(a, "/reload", json!({}));
    assert_eq!(s, 500, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("still serving the previous KB"),
        "{v}"
    );
    assert_eq!(health()["num_docs"], 4);
    assert_eq!(post(a, "/search", json!({"query": "cats"})).0, 200);
    kb.fail.store(false, Ordering::SeqCst);
    let (s, v) = request(a, "POST", "/reload", b"");
    assert_eq!((s, v["reloaded"].as_bool()), (200, Some(true)), "{v}");
    let h = health();
    assert_eq!(
        (h["stale"].as_bool(), h["num_docs"].as_u64()),
        (Some(false), Some(5)),
        "{h}"
    );
    assert_eq!(
        post(a, "/search", json!({"query": "otters"})).1["hits"][0]["id"],
        "d5"
    );
    let (s, v) = request(a, "POST", "/reload", b"");
    assert_eq!((s, v["reloaded"].as_bool()), (200, Some(false)), "{v}");
    // A server not started from a KB folder has nothing to reload.
    let plain = start(ServeConfig::default());
    assert_eq!(request(plain.addr, "POST", "/reload", b"").0, 409);
}
