//! `results.json`: everything one `trawl bench` measured, enough to rebuild the paper table and
//! the report without the run files: per-query metric values, means, Recall@k curves, timings
//! with per-query latencies, the KB each system searched (hash and generation), model names, the
//! trawl version and the machine.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The `format` field of a results file.
pub const FORMAT: &str = "trawl-bench-results";
/// The version of the layout below; readers refuse other versions.
pub const FORMAT_VERSION: u32 = 1;
/// The file name inside a results folder.
pub const RESULTS_FILE: &str = "results.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub format: String,
    pub format_version: u32,
    pub trawl_version: String,
    pub created_unix_s: u64,
    pub machine: Machine,
    /// The qrels split evaluated.
    pub split: String,
    /// Documents retrieved per query.
    pub k: usize,
    /// Metric names (BEIR style, e.g. `nDCG@10`): the order of every `per_query` vector.
    pub metrics: Vec<String>,
    pub significance: SignificanceSettings,
    pub datasets: Vec<DatasetResults>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub os: String,
    pub arch: String,
    /// Threads available to trawl.
    pub cpus: usize,
    pub cpu_model: Option<String>,
}

impl Machine {
    /// The machine this process runs on.
    pub fn current() -> Self {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        });
        Machine {
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignificanceSettings {
    /// The system every other one is tested against (its label).
    pub baseline: String,
    /// `t` (paired t-test) or `randomization`.
    pub test: String,
    pub alpha: f64,
    pub permutations: usize,
    pub seed: u64,
    /// Always `holm-bonferroni` (across the datasets, per system and metric).
    pub correction: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetResults {
    /// The dataset's folder name, e.g. `scifact`.
    pub name: String,
    pub path: String,
    /// Queries of the split that have a text (all are searched).
    pub num_queries: usize,
    pub num_docs: usize,
    pub systems: Vec<SystemResults>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemResults {
    /// The label in tables: `bm25`, `dense:all-MiniLM-L6-v2`, `hybrid:all-MiniLM-L6-v2`.
    pub system: String,
    /// `bm25`, `dense` or `hybrid`.
    pub retriever: String,
    /// The embedding model as given on the command line (dense and hybrid).
    pub model: Option<String>,
    /// The run file, relative to the results folder.
    pub run_file: String,
    pub kb: KbInfo,
    /// Metric name -> mean over the evaluated queries (equal to `trawl eval` on the run file).
    pub mean: BTreeMap<String, f64>,
    /// Query id -> values in the order of [`Results::metrics`]; every query of the split,
    /// 0 for a query without hits.
    pub per_query: BTreeMap<String, Vec<f64>>,
    /// Queries the system returned nothing for (absent from the run file; `trawl eval` on the
    /// run file leaves them out, so its means are these times answered / total).
    #[serde(default)]
    pub queries_without_hits: Vec<String>,
    /// Mean Recall@k for k = 1..=len.
    pub recall_curve: Vec<f64>,
    pub timings: Timings,
    /// Metric name -> test against the baseline (absent for the baseline itself).
    #[serde(default)]
    pub significance: BTreeMap<String, Significance>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KbInfo {
    pub dir: String,
    pub corpus_hash: String,
    /// The KB generation id (new on every build or change).
    pub generation: String,
    /// True when a cached KB was reused.
    pub reused: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Seconds spent building the KB (0 when reused).
    pub index_s: f64,
    /// Seconds to find, verify and open (or build) the KB.
    pub open_s: f64,
    /// Seconds to answer every query, one at a time.
    pub search_s: f64,
    pub queries_per_s: f64,
    pub latency_ms: Latency,
    /// Milliseconds per query, in the order of the sorted query ids.
    pub per_query_latency_ms: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub mean: f64,
    pub max: f64,
}

impl Latency {
    /// Percentiles with linear interpolation between order statistics (numpy's default).
    pub fn of(values_ms: &[f64]) -> Self {
        let mut v = values_ms.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            return Latency {
                p50: 0.0,
                p95: 0.0,
                p99: 0.0,
                mean: 0.0,
                max: 0.0,
            };
        }
        let pct = |p: f64| {
            let h = (n - 1) as f64 * p;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            v[lo] + (h - lo as f64) * (v[hi] - v[lo])
        };
        Latency {
            p50: pct(0.5),
            p95: pct(0.95),
            p99: pct(0.99),
            mean: v.iter().sum::<f64>() / n as f64,
            max: v[n - 1],
        }
    }
}

/// The test of one system against the baseline on one dataset and metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Significance {
    /// Mean of the system minus mean of the baseline, over the paired queries.
    pub delta: f64,
    /// The test's two-sided p-value (what `trawl compare` prints for this pair).
    pub p_value: f64,
    /// Holm-Bonferroni adjusted across the datasets the system and the baseline both ran on.
    pub p_holm: f64,
    /// `p_holm < alpha`: the table's dagger.
    pub significant: bool,
}

impl Results {
    /// Reads `results.json` from a results folder (or the file itself), checking its format.
    pub fn read(path: &Path) -> Result<Self> {
        let file = if path.is_dir() {
            path.join(RESULTS_FILE)
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(|source| Error::Read {
            path: file.clone(),
            source,
        })?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Parse {
            path: file.clone(),
            message: format!("not JSON ({e}); expected the results.json of `trawl bench`"),
        })?;
        let format = value.get("format").and_then(|f| f.as_str());
        let version = value.get("format_version").and_then(|f| f.as_u64());
        if format != Some(FORMAT) || version != Some(u64::from(FORMAT_VERSION)) {
            return Err(Error::Parse {
                path: file,
                message: format!(
                    "not a {FORMAT} file of version {FORMAT_VERSION} (format {format:?}, version {version:?}); rerun `trawl bench` with this trawl"
                ),
            });
        }
        let results: Results = serde_json::from_value(value).map_err(|e| Error::Parse {
            path: file.clone(),
            message: format!("{e}; the file does not follow the {FORMAT} layout"),
        })?;
        results.check().map_err(|message| Error::Parse {
            path: file,
            message,
        })?;
        Ok(results)
    }

    /// Internal consistency: every per-query vector has one value per metric.
    fn check(&self) -> std::result::Result<(), String> {
        for d in &self.datasets {
            for s in &d.systems {
                if let Some((q, v)) = s
                    .per_query
                    .iter()
                    .find(|(_, v)| v.len() != self.metrics.len())
                {
                    return Err(format!(
                        "dataset {} system {} query {q}: {} values for {} metrics",
                        d.name,
                        s.system,
                        v.len(),
                        self.metrics.len()
                    ));
                }
            }
        }
        Ok(())
    }

    /// The index of a metric by name (case-insensitive), e.g. `ndcg@10` -> `nDCG@10`.
    pub fn metric_index(&self, name: &str) -> Option<usize> {
        self.metrics
            .iter()
            .position(|m| m.eq_ignore_ascii_case(name))
    }

    /// Every system label in first-seen order over the datasets.
    pub fn system_labels(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in &self.datasets {
            for s in &d.systems {
                if !out.contains(&s.system) {
                    out.push(s.system.clone());
                }
            }
        }
        out
    }
}

impl DatasetResults {
    pub fn system(&self, label: &str) -> Option<&SystemResults> {
        self.systems.iter().find(|s| s.system == label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_numpy_linear_interpolation() {
        // numpy.percentile([1, 2, 3, 4, 10], [50, 95, 99]) = [3.0, 8.8, 9.76]
        let l = Latency::of(&[4.0, 1.0, 10.0, 3.0, 2.0]);
        assert_eq!(l.p50, 3.0);
        assert!((l.p95 - 8.8).abs() < 1e-12, "{l:?}");
        assert!((l.p99 - 9.76).abs() < 1e-12, "{l:?}");
        assert_eq!(l.max, 10.0);
        assert_eq!(l.mean, 4.0);
        assert_eq!(Latency::of(&[]).p99, 0.0);
    }

    #[test]
    fn reading_refuses_other_files_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RESULTS_FILE);
        std::fs::write(&path, "{\"format\": \"something\"}").unwrap();
        let err = Results::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a trawl-bench-results file"), "{err}");
        std::fs::write(&path, "{\"format\": ").unwrap();
        let err = Results::read(&path).unwrap_err().to_string();
        assert!(err.contains("not JSON"), "{err}");
        let err = Results::read(&dir.path().join("none")).unwrap_err();
        assert!(matches!(err, Error::Read { .. }));
    }
}
