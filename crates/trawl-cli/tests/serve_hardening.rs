//! `trawl serve` against the reproductions of the hardening campaign (issue 11): the oversized
//! batch is refused fast with bounded memory, a KB replaced by `kb build --force` shows as
//! stale and reloads, a public address needs a token.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{ok, sample, serve, trawl_bin};
use serde_json::{json, Value};

fn trawl() -> Command {
    Command::new(trawl_bin())
}

fn build_kb(docs: &Path, out: &Path, force: bool) {
    let mut c = trawl();
    c.args(["kb", "build"]).arg(docs).arg("--out").arg(out);
    if force {
        c.arg("--force");
    }
    ok(&c.output().unwrap());
}

/// Peak resident memory of a process so far, in KiB (Linux).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn the_oversized_batch_of_the_issue_is_refused_fast_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let kb = dir.path().join("kb");
    build_kb(&sample(), &kb, false);
    let srv = serve(&kb);
    // The issue's big.json: 4096 items x 64 rewrites at k=1000 in union mode (3.3 MB).
    let items: Vec<Value> = (0..4096)
        .map(|i| json!({"queries": (0..64).map(|j| format!("cell {i} {j}")).collect::<Vec<_>>()}))
        .collect();
    let body = json!({"items": items, "k": 1000, "mode": "union"}).to_string();
    let before = peak_rss_kib(srv.child.id());
    let t = Instant::now();
    let (s, v) = srv.request("POST", "/retrieve_batch", body.as_bytes());
    let took = t.elapsed();
    assert_eq!(s, 413, "{v}");
    let msg = v["error"].as_str().unwrap();
    // 262,144 rewrites, each ranking at most the sample's 40 documents.
    assert!(
        msg.contains("10485760 hits") && msg.contains("--max-hits"),
        "{msg}"
    );
    assert!(took < Duration::from_secs(5), "refused after {took:?}");
    if let (Some(before), Some(after)) = (before, peak_rss_kib(srv.child.id())) {
        assert!(
            after < before + 100 * 1024,
            "peak RSS grew from {before} KiB to {after} KiB"
        );
    }
    let (s, _) = srv.request("POST", "/search", br#"{"query": "bottom trawling"}"#);
    assert_eq!(s, 200);
}

#[test]
fn a_kb_replaced_by_kb_build_force_shows_stale_and_reload_serves_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let kb = dir.path().join("kb");
    build_kb(&sample(), &kb, false);
    let srv = serve(&kb);
    let health = || srv.request("GET", "/health", b"").1;
    let h = health();
    assert_eq!(
        (h["num_docs"].as_u64(), h["stale"].as_bool()),
        (Some(40), Some(false)),
        "{h}"
    );
    let corpus = std::fs::read_to_string(sample().join("corpus.jsonl")).unwrap();
    let small = dir.path().join("small.jsonl");
    let ten: Vec<&str> = corpus.lines().take(10).collect();
    std::fs::write(&small, ten.join("\n") + "\n").unwrap();
    build_kb(&small, &kb, true);
    let h = health();
    assert_eq!(
        (h["num_docs"].as_u64(), h["stale"].as_bool()),
        (Some(40), Some(true)),
        "the replaced KB is not reported: {h}"
    );
    assert_ne!(h["generation"], h["on_disk_generation"]);
    let (s, v) = srv.request("POST", "/reload", b"");
    assert_eq!((s, v["reloaded"].as_bool()), (200, Some(true)), "{v}");
    let h = health();
    assert_eq!(
        (h["num_docs"].as_u64(), h["stale"].as_bool()),
        (Some(10), Some(false)),
        "{h}"
    );
    let (s, v) = srv.request("POST", "/search", br#"{"query": "bottom trawling"}"#);
    assert_eq!(s, 200, "{v}");
}

#[test]
fn a_public_address_without_a_token_is_refused_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let kb = dir.path().join("kb");
    build_kb(&sample(), &kb, false);
    let out = trawl()
        .arg("serve")
        .arg(&kb)
        .args(["--addr", "0.0.0.0:0"])
        .env_remove("TRAWL_SERVE_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--token") && err.contains("--insecure-public"),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "it listened: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}
