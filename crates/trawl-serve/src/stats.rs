//! Request counters and latency percentiles for `GET /stats`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Latencies kept for percentiles: the most recent this many requests.
const WINDOW: usize = 50_000;

#[derive(Default)]
struct Inner {
    requests: u64,
    errors: u64,
    by_endpoint: BTreeMap<String, (u64, u64)>,
    latencies_ms: Vec<f64>,
    next: usize,
}

/// Thread-safe request statistics.
#[derive(Default)]
pub struct Stats {
    inner: Mutex<Inner>,
}

/// Latency percentiles in milliseconds over the recent window.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub window: usize,
}

/// A copy of the counters.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Snapshot {
    pub requests: u64,
    pub errors: u64,
    /// endpoint -> {requests, errors}
    pub endpoints: BTreeMap<String, serde_json::Value>,
    pub latency_ms: Percentiles,
}

impl Stats {
    /// Records one answered request; `error` is true for 4xx/5xx answers.
    pub fn record(&self, endpoint: &str, error: bool, took: Duration) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.requests += 1;
        s.errors += u64::from(error);
        let e = s.by_endpoint.entry(endpoint.to_string()).or_default();
        e.0 += 1;
        e.1 += u64::from(error);
        let ms = took.as_secs_f64() * 1000.0;
        if s.latencies_ms.len() < WINDOW {
            s.latencies_ms.push(ms);
        } else {
            let i = s.next;
            s.latencies_ms[i] = ms;
        }
        s.next = (s.next + 1) % WINDOW;
    }

    pub fn snapshot(&self) -> Snapshot {
        let s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut sorted = s.latencies_ms.clone();
        let endpoints = s
            .by_endpoint
            .iter()
            .map(|(k, (r, e))| (k.clone(), serde_json::json!({"requests": r, "errors": e})))
            .collect();
        let (requests, errors) = (s.requests, s.errors);
        drop(s);
        sorted.sort_by(f64::total_cmp);
        Snapshot {
            requests,
            errors,
            endpoints,
            latency_ms: Percentiles {
                p50: percentile(&sorted, 0.50),
                p90: percentile(&sorted, 0.90),
                p99: percentile(&sorted, 0.99),
                max: sorted.last().copied().unwrap_or(0.0),
                window: sorted.len(),
            },
        }
    }
}

/// Nearest-rank percentile of sorted values (0 when empty).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_errors_and_nearest_rank_percentiles() {
        let s = Stats::default();
        for ms in 1..=100 {
            s.record("/search", ms % 10 == 0, Duration::from_millis(ms));
        }
        let snap = s.snapshot();
        assert_eq!((snap.requests, snap.errors), (100, 10));
        assert_eq!(snap.latency_ms.p50.round(), 50.0);
        assert_eq!(snap.latency_ms.p90.round(), 90.0);
        assert_eq!(snap.latency_ms.p99.round(), 99.0);
        assert_eq!(snap.endpoints["/search"]["errors"], 10);
    }
}
