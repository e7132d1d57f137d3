//! A small closed-loop HTTP/1.1 load generator (standard library only, so it builds with a
//! bare `rustc -O`): N clients on keep-alive connections POST bodies taken in turn from a
//! file (one JSON body per line) for D seconds; prints one JSON line with requests/s, non-200
//! answers, and latency percentiles. Used by bench/serve_rps.sh.
//!
//! Usage: serve_rps ADDR PATH BODIES_FILE CLIENTS SECONDS

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Outcome {
    latencies_us: Vec<u64>,
    non_200: u64,
    io_errors: u64,
}

fn one_client(addr: &str, path: &str, bodies: &[String], first: usize, until: Instant) -> Outcome {
    let mut out = Outcome { latencies_us: Vec::new(), non_200: 0, io_errors: 0 };
    let mut i = first;
    let mut conn: Option<BufReader<TcpStream>> = None;
    while Instant::now() < until {
        let body = &bodies[i % bodies.len()];
        i += 1;
        if conn.is_none() {
            match TcpStream::connect(addr) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
                    conn = Some(BufReader::new(s));
                }
                Err(_) => {
                    out.io_errors += 1;
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            }
        }
        let r = conn.as_mut().expect("connected");
        let t = Instant::now();
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        match exchange(r, req.as_bytes()) {
            Ok((status, close)) => {
                out.latencies_us.push(t.elapsed().as_micros() as u64);
                if status != 200 {
                    out.non_200 += 1;
                }
                if close {
                    conn = None;
                }
            }
            Err(_) => {
                out.io_errors += 1;
                conn = None;
            }
        }
    }
    out
}

/// Sends a request and reads one answer: (status, server closes the connection).
fn exchange(r: &mut BufReader<TcpStream>, req: &[u8]) -> std::io::Result<(u16, bool)> {
    r.get_mut().write_all(req)?;
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line.get(9..12).and_then(|s| s.parse().ok()).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("status line {line:?}"))
    })?;
    let (mut len, mut close) = (0usize, false);
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        } else if lower.starts_with("connection:") && lower.contains("close") {
            close = true;
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok((status, close))
}

fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 6 {
        eprintln!("usage: serve_rps ADDR PATH BODIES_FILE CLIENTS SECONDS");
        std::process::exit(2);
    }
    let bodies: Vec<String> = std::fs::read_to_string(&a[3])
        .expect("bodies file")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let bodies = Arc::new(bodies);
    let clients: usize = a[4].parse().expect("clients");
    let seconds: f64 = a[5].parse().expect("seconds");
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(seconds);
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (addr, path, bodies) = (a[1].clone(), a[2].clone(), bodies.clone());
            std::thread::spawn(move || one_client(&addr, &path, &bodies, c * 7919, until))
        })
        .collect();
    let mut lat = Vec::new();
    let (mut non_200, mut io_errors) = (0, 0);
    for h in handles {
        let o = h.join().expect("client thread");
        lat.extend(o.latencies_us);
        non_200 += o.non_200;
        io_errors += o.io_errors;
    }
    let wall = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    println!(
        "{{\"path\": \"{}\", \"clients\": {clients}, \"seconds\": {wall:.1}, \"requests\": {}, \"req_per_s\": {:.1}, \"p50_ms\": {:.2}, \"p99_ms\": {:.2}, \"non_200\": {non_200}, \"io_errors\": {io_errors}}}",
        a[2],
        lat.len(),
        lat.len() as f64 / wall,
        percentile(&lat, 0.50),
        percentile(&lat, 0.99)
    );
}
