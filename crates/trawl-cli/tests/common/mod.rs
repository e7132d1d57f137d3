//! What the chunking, RAG-data and diversity tests share: running the binary, reading JSONL,
//! finding the model, and a `trawl serve` child answering JSON posts.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// The binary under test: `TRAWL_TEST_BIN` when set (a shared target dir's `debug/trawl` may
/// be another checkout's latest build), else cargo's.
pub fn trawl_bin() -> PathBuf {
    std::env::var_os("TRAWL_TEST_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_trawl")), PathBuf::from)
}

/// Runs `trawl args`, SIGKILLs it after `delay` (a crash at an arbitrary point) and returns how
/// it ended: success when it finished before the kill.
pub fn kill_after(args: &[&str], delay: std::time::Duration) -> std::process::ExitStatus {
    let mut child = Command::new(trawl_bin())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    child.wait().unwrap()
}

/// The built-in sample dataset (`data/sample`: corpus, queries, qrels).
pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample")
}

pub fn trawl(args: &[&str]) -> Output {
    Command::new(trawl_bin())
        .args(args)
        .output()
        .expect("run trawl")
}

/// `trawl` with extra environment variables (the crash and full-disk hooks of trawl-store,
/// which are removed otherwise so that a caller's environment cannot leak in).
pub fn trawl_env(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(trawl_bin());
    for hook in [
        "TRAWL_STORE_KILL_AT_RENAME",
        "TRAWL_STORE_NO_EXCHANGE",
        "TRAWL_STORE_FAIL_WRITES_AFTER",
    ] {
        cmd.env_remove(hook);
    }
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    cmd.output().expect("run trawl")
}

/// Stdout of a run that must succeed.
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr of a run that must fail.
pub fn err(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "expected a failure: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// all-MiniLM-L6-v2 (`TRAWL_TEST_MODEL` or `models/` above the working directory); `None`
/// skips, except under `TRAWL_REQUIRE_MODEL=1`.
pub fn model_dir() -> Option<PathBuf> {
    let found = std::env::var_os("TRAWL_TEST_MODEL")
        .map(PathBuf::from)
        .or_else(|| {
            let cwd = std::env::current_dir().ok()?;
            cwd.ancestors()
                .map(|a| a.join("models").join("all-MiniLM-L6-v2"))
                .find(|p| p.join("config.json").exists())
        });
    if found.is_none() {
        let msg =
            "all-MiniLM-L6-v2 not installed (run scripts/get-model.sh or set TRAWL_TEST_MODEL)";
        if std::env::var("TRAWL_REQUIRE_MODEL").as_deref() == Ok("1") {
            panic!("{msg}; TRAWL_REQUIRE_MODEL=1 forbids skipping");
        }
        eprintln!("skipped: {msg}");
    }
    found
}

/// A `trawl serve KB` on a free loopback port, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(kb: &Path) -> Server {
    serve_with(kb, &[])
}

/// [`serve`] with more flags (`--labels L`, `--rerank M`).
pub fn serve_with(kb: &Path, flags: &[&str]) -> Server {
    let mut child = Command::new(trawl_bin())
        .arg("serve")
        .arg(kb)
        .args(["--addr", "127.0.0.1:0"])
        .args(flags)
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
        .to_string();
    Server { child, addr }
}

impl Server {
    /// POSTs `body` as JSON to `path`; the status and the JSON answer.
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.request("POST", path, body.to_string().as_bytes())
    }

    /// Sends `body` as it is (bad JSON included); the status (0 when no status line came
    /// back) and the answer parsed as JSON (`Null` when it is not JSON).
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        // The server may answer (413, 400) before reading the whole body and close.
        let _ = s.write_all(body);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw);
        let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map_or("", |x| x.1);
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    /// GETs `path` (e.g. `/health`); the status and the JSON answer.
    pub fn get(&self, path: &str) -> (u16, Value) {
        self.request("GET", path, b"")
    }
}
