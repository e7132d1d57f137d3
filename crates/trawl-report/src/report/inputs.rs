//! What `trawl report` reads besides results folders: a training log (`train_log.jsonl` of
//! `trawl train`) and ANN benchmark rows (`bench/ann.py --json`). Damage that leaves something
//! plottable (a line cut short, an unknown event) becomes a note; a file with nothing usable is
//! an error naming it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Loss per step and validation metrics per evaluation, from `train_log.jsonl`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TrainLog {
    /// (step, loss)
    pub loss: Vec<(f64, f64)>,
    /// (step, isotropy term) of a run with `--isotropy-weight`.
    pub isotropy: Vec<(f64, f64)>,
    /// metric name -> (step, value)
    pub evals: BTreeMap<String, Vec<(f64, f64)>>,
    pub notes: Vec<String>,
}

/// Parses a training log; lines that are not JSON (e.g. the last one, cut mid-write by a
/// killed run) are skipped with a note naming the line.
pub fn parse_train_log(path: &Path, text: &str) -> Result<TrainLog> {
    let mut log = TrainLog::default();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            bad.push(i + 1);
            continue;
        };
        let step = v.get("step").and_then(|s| s.as_f64());
        match (v.get("event").and_then(|e| e.as_str()), step) {
            (Some("step"), Some(step)) => {
                if let Some(loss) = v.get("loss").and_then(|l| l.as_f64()) {
                    log.loss.push((step, loss));
                }
                if let Some(t) = v.get("isotropy").and_then(|l| l.as_f64()) {
                    log.isotropy.push((step, t));
                }
            }
            (Some("eval"), Some(step)) => {
                for (k, val) in v.as_object().into_iter().flatten() {
                    if matches!(k.as_str(), "event" | "step" | "is_best") {
                        continue;
                    }
                    if let Some(x) = val.as_f64() {
                        log.evals.entry(k.clone()).or_default().push((step, x));
                    }
                }
            }
            _ => {}
        }
    }
    if !bad.is_empty() {
        let shown: Vec<String> = bad.iter().take(5).map(|l| l.to_string()).collect();
        log.notes.push(format!(
            "{}: {} line(s) are not complete JSON and were skipped (line {}{}); a run killed mid-write leaves its last line cut",
            path.display(),
            bad.len(),
            shown.join(", "),
            if bad.len() > 5 { ", ..." } else { "" }
        ));
    }
    if log.loss.is_empty() && log.evals.is_empty() {
        return Err(Error::Parse {
            path: path.to_path_buf(),
            message: "no training step or evaluation records (expected the train_log.jsonl of `trawl train`, one JSON object per line with \"event\": \"step\" or \"eval\")".into(),
        });
    }
    Ok(log)
}

/// One row of `bench/ann.py --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AnnRow {
    pub engine: String,
    pub index: String,
    #[serde(default)]
    pub threads: Option<u64>,
    #[serde(default)]
    pub knob: Option<serde_json::Value>,
    pub recall: f64,
    pub qps: f64,
}

impl AnnRow {
    /// The curve this row belongs to: engine, index and thread count.
    pub fn series(&self) -> String {
        match self.threads {
            Some(t) => format!("{} {} ({t} thr)", self.engine, self.index),
            None => format!("{} {}", self.engine, self.index),
        }
    }
}

/// Parses ANN benchmark rows (a JSON array of objects with engine, index, recall, qps).
pub fn parse_ann(path: &Path, text: &str) -> Result<Vec<AnnRow>> {
    let rows: Vec<AnnRow> = serde_json::from_str(text).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        message: format!(
            "{e}; expected the JSON of `bench/ann.py --json` (an array of rows with engine, index, recall, qps)"
        ),
    })?;
    if rows.is_empty() {
        return Err(Error::Parse {
            path: path.to_path_buf(),
            message: "no benchmark rows".into(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_cut_mid_line_keeps_what_is_complete_and_says_so() {
        let text = "{\"event\":\"start\",\"step\":0}\n{\"event\":\"step\",\"step\":1,\"loss\":2.5,\"isotropy\":4.25}\n{\"event\":\"eval\",\"step\":1,\"is_best\":true,\"nDCG@10\":0.7}\n{\"event\":\"step\",\"step\":2,\"lo";
        let log = parse_train_log(Path::new("t.jsonl"), text).unwrap();
        assert_eq!(log.loss, [(1.0, 2.5)]);
        assert_eq!(log.isotropy, [(1.0, 4.25)]);
        assert_eq!(log.evals["nDCG@10"], [(1.0, 0.7)]);
        assert_eq!(log.notes.len(), 1);
        assert!(log.notes[0].contains("1 line(s) are not complete JSON and were skipped (line 4)"));
        let err = parse_train_log(Path::new("t.jsonl"), "{\"a\":1}\n").unwrap_err();
        assert!(err
            .to_string()
            .contains("no training step or evaluation records"));
    }

    #[test]
    fn ann_rows_need_recall_and_qps() {
        let rows = parse_ann(
            Path::new("a.json"),
            r#"[{"engine":"trawl","index":"hnsw","threads":1,"knob":"ef=64","recall":0.95,"qps":1200.0}]"#,
        )
        .unwrap();
        assert_eq!(rows[0].series(), "trawl hnsw (1 thr)");
        let err = parse_ann(Path::new("a.json"), r#"[{"engine":"x"}]"#).unwrap_err();
        assert!(err.to_string().contains("a.json: missing field"), "{err}");
    }
}
