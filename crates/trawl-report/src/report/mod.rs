//! `trawl report`: one self-contained HTML file (inline CSS and SVG, no script, no network)
//! from results folders, training logs and ANN benchmark JSON. Problems that leave a report
//! worth having (a missing run file, different metric sets, a log cut mid-line, a system
//! missing on a dataset) are listed in a visible "Notes" box and returned to the caller.

pub mod inputs;
pub mod svg;

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::geometry::{EmbeddingStats, STATS_FORMAT};
use crate::results::{Results, FORMAT};
use crate::significance::{self, sorted_differences, win_tie_loss};
use crate::table::paper_table;
use inputs::{parse_ann, parse_train_log, AnnRow, TrainLog};
use svg::{esc, num, BoxRow, Series};

/// Win/loss plots show at most this many queries (evenly spaced in the sorted order).
const MAX_DIFF_BARS: usize = 400;
/// Recall@k cut-offs with a hoverable marker.
const CURVE_MARKS: [usize; 10] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

/// The built page and the notes it shows.
#[derive(Debug)]
pub struct Report {
    pub html: String,
    pub notes: Vec<String>,
}

/// Everything read from the command line's inputs.
#[derive(Default)]
struct Inputs {
    results: Vec<(PathBuf, Results)>,
    logs: Vec<(PathBuf, TrainLog)>,
    ann: Vec<(PathBuf, Vec<AnnRow>)>,
    geometry: Vec<(String, EmbeddingStats)>,
    notes: Vec<String>,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn load(paths: &[PathBuf]) -> Result<Inputs> {
    let mut inp = Inputs::default();
    for path in paths {
        if path.is_dir() {
            let r = Results::read(path)?;
            check_runs(path, &r, &mut inp.notes);
            inp.results.push((path.clone(), r));
            continue;
        }
        let text = read(path)?;
        let is_jsonl = path.extension().is_some_and(|e| e == "jsonl");
        if is_jsonl {
            let log = parse_train_log(path, &text)?;
            inp.notes.extend(log.notes.iter().cloned());
            inp.logs.push((path.clone(), log));
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Array(_)) => {
                inp.ann.push((path.clone(), parse_ann(path, &text)?));
            }
            Ok(v) if v.get("format").and_then(|f| f.as_str()) == Some(STATS_FORMAT) => {
                let stats = v.get("stats").cloned().unwrap_or_default();
                let stats: EmbeddingStats =
                    serde_json::from_value(stats).map_err(|e| Error::Parse {
                        path: path.clone(),
                        message: format!("{e}; expected the JSON of `trawl embeddings stats`"),
                    })?;
                let name = v
                    .get("source")
                    .and_then(|s| s.as_str())
                    .map_or_else(|| path.display().to_string(), str::to_string);
                inp.geometry.push((name, stats));
            }
            Ok(v) if v.get("format").and_then(|f| f.as_str()) == Some(FORMAT) => {
                let r = Results::read(path)?;
                if let Some(dir) = path.parent() {
                    check_runs(dir, &r, &mut inp.notes);
                }
                inp.results.push((path.clone(), r));
            }
            _ => {
                return Err(Error::Parse {
                    path: path.clone(),
                    message: "not a results folder or results.json, a train_log.jsonl or ANN benchmark JSON (an array of rows)".into(),
                })
            }
        }
    }
    if inp.results.is_empty()
        && inp.logs.is_empty()
        && inp.ann.is_empty()
        && inp.geometry.is_empty()
    {
        return Err(Error::Invalid("nothing to report: give a results folder of `trawl bench`, a train_log.jsonl or ANN benchmark JSON".into()));
    }
    Ok(inp)
}

/// Notes every run file results.json names that is not in the folder.
fn check_runs(dir: &Path, r: &Results, notes: &mut Vec<String>) {
    for d in &r.datasets {
        for s in &d.systems {
            if !dir.join(&s.run_file).is_file() {
                notes.push(format!(
                    "{}: the run file {} of {} on {} is missing; its numbers are results.json's",
                    dir.display(),
                    s.run_file,
                    s.system,
                    d.name
                ));
            }
        }
    }
}

/// One results set from several: datasets appended, metrics reduced to those all share (with
/// a note), significance recomputed over all datasets with the first set's settings.
fn merge(mut all: Vec<(PathBuf, Results)>, notes: &mut Vec<String>) -> Option<Results> {
    if all.is_empty() {
        return None;
    }
    let (_, mut base) = all.remove(0);
    if all.is_empty() {
        return Some(base);
    }
    let common: Vec<String> = base
        .metrics
        .iter()
        .filter(|m| all.iter().all(|(_, r)| r.metrics.contains(m)))
        .cloned()
        .collect();
    for (path, r) in std::iter::once((PathBuf::from("first input"), &base))
        .chain(all.iter().map(|(p, r)| (p.clone(), r)))
    {
        let dropped: Vec<&String> = r.metrics.iter().filter(|m| !common.contains(m)).collect();
        if !dropped.is_empty() {
            notes.push(format!(
                "{}: metrics {} are not in every results set and are left out",
                path.display(),
                dropped
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let project = |r: &mut Results| {
        let idx: Vec<usize> = common
            .iter()
            .map(|m| r.metrics.iter().position(|x| x == m).expect("common"))
            .collect();
        for d in &mut r.datasets {
            for s in &mut d.systems {
                for v in s.per_query.values_mut() {
                    *v = idx.iter().map(|&i| v[i]).collect();
                }
                s.mean.retain(|k, _| common.contains(k));
            }
        }
        r.metrics = common.clone();
    };
    project(&mut base);
    for (_, mut r) in all {
        project(&mut r);
        for mut d in r.datasets {
            let taken = |n: &str| base.datasets.iter().any(|x| x.name == n);
            if taken(&d.name) {
                let mut i = 2;
                while taken(&format!("{} ({i})", d.name)) {
                    i += 1;
                }
                d.name = format!("{} ({i})", d.name);
            }
            base.datasets.push(d);
        }
    }
    if base.metrics.is_empty() {
        notes.push("the results sets share no metric; no table or metric charts".into());
    } else if let Err(e) = significance::apply(&mut base) {
        notes.push(format!("no significance markers: {e}"));
        for d in &mut base.datasets {
            for s in &mut d.systems {
                s.significance.clear();
            }
        }
    }
    Some(base)
}

/// Builds the report from `paths` (results folders or files, train logs, ANN JSON).
pub fn build(paths: &[PathBuf]) -> Result<Report> {
    let mut inp = load(paths)?;
    let results = merge(std::mem::take(&mut inp.results), &mut inp.notes);
    let mut notes = inp.notes;
    let mut body = String::new();
    if let Some(r) = &results {
        for d in &r.datasets {
            for label in r.system_labels() {
                if d.system(&label).is_none() {
                    notes.push(format!("{label} has no results on {}", d.name));
                }
            }
        }
        results_sections(r, &mut body);
    }
    if !inp.logs.is_empty() {
        body.push_str("<h2>Training</h2><div class=\"grid\">");
        for (path, log) in &inp.logs {
            train_charts(path, log, &mut body);
        }
        body.push_str("</div>");
    }
    if !inp.ann.is_empty() {
        body.push_str("<h2>Approximate search: recall vs queries/s</h2><div class=\"grid\">");
        for (path, rows) in &inp.ann {
            ann_chart(path, rows, &mut body);
        }
        body.push_str("</div>");
    }
    if !inp.geometry.is_empty() {
        geometry_section(&inp.geometry, &mut body);
    }
    let html = page(results.as_ref(), &notes, &body);
    Ok(Report { html, notes })
}

fn figure(out: &mut String, svg: &str, caption: &str) {
    let _ = write!(
        out,
        "<figure>{svg}<figcaption>{}</figcaption></figure>",
        esc(caption)
    );
}

fn results_sections(r: &Results, body: &mut String) {
    if r.metrics.is_empty() {
        return;
    }
    body.push_str("<h2>Paper table</h2><div class=\"grid tables\">");
    for m in 0..r.metrics.len() {
        html_table(r, m, body);
    }
    body.push_str("</div>");
    let labels = r.system_labels();
    let datasets: Vec<String> = r.datasets.iter().map(|d| d.name.clone()).collect();

    body.push_str("<h2>Effectiveness per dataset</h2><div class=\"grid\">");
    let shown: Vec<usize> = {
        let pick: Vec<usize> = (0..r.metrics.len())
            .filter(|&i| {
                let m = r.metrics[i].to_ascii_lowercase();
                m.starts_with("ndcg") || m.starts_with("recall")
            })
            .collect();
        if pick.is_empty() {
            (0..r.metrics.len().min(2)).collect()
        } else {
            pick
        }
    };
    for m in shown {
        let metric = &r.metrics[m];
        let values: Vec<Vec<Option<f64>>> = r
            .datasets
            .iter()
            .map(|d| {
                labels
                    .iter()
                    .map(|l| d.system(l).and_then(|s| s.mean.get(metric).copied()))
                    .collect()
            })
            .collect();
        let svg = svg::bars(
            &format!("{metric} by dataset"),
            metric,
            &datasets,
            &labels,
            &values,
        );
        figure(
            body,
            &svg,
            &format!("Mean {metric} per dataset and system; hover a bar for its value."),
        );
    }
    body.push_str("</div>");

    body.push_str("<h2>Recall@k, k = 1..1000</h2><div class=\"grid\">");
    for d in &r.datasets {
        let series: Vec<Series> = d
            .systems
            .iter()
            .map(|s| {
                let at = |k: usize| (k as f64, s.recall_curve[k - 1]);
                Series {
                    name: s.system.clone(),
                    points: log_spaced(s.recall_curve.len())
                        .into_iter()
                        .map(at)
                        .collect(),
                    marked: CURVE_MARKS
                        .iter()
                        .filter(|&&k| k <= s.recall_curve.len())
                        .map(|&k| at(k))
                        .collect(),
                }
            })
            .collect();
        let svg = svg::lines(
            &format!("Recall@k on {}", d.name),
            "k",
            "Recall@k",
            &series,
            true,
            false,
            true,
        );
        figure(
            body,
            &svg,
            &format!(
                "Mean Recall@k on {} ({} queries), log k axis.",
                d.name, d.num_queries
            ),
        );
    }
    body.push_str("</div>");

    let baseline = &r.significance.baseline;
    let metric = &r.metrics[0];
    let _ = write!(
        body,
        "<h2>Per-query {} against {} (win/loss)</h2><div class=\"grid\">",
        esc(metric),
        esc(baseline)
    );
    for (di, d) in r.datasets.iter().enumerate() {
        for s in d.systems.iter().filter(|s| &s.system != baseline) {
            let Some(diffs) = sorted_differences(r, di, &s.system, 0) else {
                continue;
            };
            let (w, t, l) = win_tie_loss(&diffs);
            let shown = downsample(&diffs, MAX_DIFF_BARS);
            let note = if shown.len() < diffs.len() {
                format!(
                    ", {} of {} queries drawn (evenly spaced)",
                    shown.len(),
                    diffs.len()
                )
            } else {
                String::new()
            };
            let svg = svg::differences(
                &format!("{} − {} on {}", s.system, baseline, d.name),
                &format!("Δ {metric}"),
                &shown,
                &format!("{w} wins, {t} ties, {l} losses"),
            );
            figure(body, &svg, &format!("{metric} of {} minus {baseline} per query, sorted{note}; hover a bar for the query.", s.system));
        }
    }
    body.push_str("</div>");

    body.push_str("<h2>Latency per query</h2><div class=\"grid\">");
    for d in &r.datasets {
        let rows: Vec<BoxRow> = d
            .systems
            .iter()
            .filter(|s| !s.timings.per_query_latency_ms.is_empty())
            .map(|s| BoxRow {
                name: s.system.clone(),
                stats: box_stats(&s.timings.per_query_latency_ms),
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let svg = svg::latency_boxes(&format!("Latency on {}", d.name), &rows);
        figure(body, &svg, "Box: p25–p75, thick bar: median, solid tick: p95, dashed tick: p99, whiskers: min–max; one query at a time.");
    }
    body.push_str("</div>");
    timing_table(r, body);
}

fn html_table(r: &Results, m: usize, body: &mut String) {
    let t = paper_table(r, m);
    let _ = write!(
        body,
        "<table class=\"paper\" data-metric=\"{}\"><caption>{}</caption><thead><tr><th>System</th>",
        esc(&t.metric),
        esc(&t.caption)
    );
    for d in &t.datasets {
        let _ = write!(body, "<th>{}</th>", esc(d));
    }
    body.push_str("</tr></thead><tbody>");
    for (system, cells) in &t.rows {
        let _ = write!(body, "<tr><th scope=\"row\">{}</th>", esc(system));
        for (d, cell) in t.datasets.iter().zip(cells) {
            match cell {
                None => body.push_str("<td class=\"missing\">–</td>"),
                Some(c) => {
                    let v = if c.best {
                        format!("<b>{}</b>", c.text())
                    } else {
                        c.text()
                    };
                    let dagger = if c.significant { "<sup>†</sup>" } else { "" };
                    let tip = c.p_holm.map_or(String::new(), |p| {
                        format!(" title=\"Holm-adjusted p = {}\"", num(p))
                    });
                    let _ = write!(
                        body,
                        "<td data-dataset=\"{}\" data-system=\"{}\" data-value=\"{}\"{tip}>{v}{dagger}</td>",
                        esc(d),
                        esc(system),
                        c.value
                    );
                }
            }
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table>");
}

fn timing_table(r: &Results, body: &mut String) {
    body.push_str("<table class=\"timings\"><caption>Timings (one query at a time; KB build time 0 when a cached KB was reused)</caption><thead><tr><th>Dataset</th><th>System</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>queries/s</th><th>KB build s</th><th>KB corpus hash</th></tr></thead><tbody>");
    for d in &r.datasets {
        for s in &d.systems {
            let l = &s.timings.latency_ms;
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&d.name),
                esc(&s.system),
                num(l.p50),
                num(l.p95),
                num(l.p99),
                num(s.timings.queries_per_s),
                num(s.timings.index_s),
                esc(&s.kb.corpus_hash.chars().take(12).collect::<String>())
            );
        }
    }
    body.push_str("</tbody></table>");
}

fn train_charts(path: &Path, log: &TrainLog, body: &mut String) {
    let name = path.display().to_string();
    if !log.loss.is_empty() {
        let s = [Series {
            name: "loss".into(),
            marked: downsample_points(&log.loss, 40),
            points: log.loss.clone(),
        }];
        let svg = svg::lines(
            &format!("Training loss ({name})"),
            "step",
            "loss",
            &s,
            false,
            false,
            false,
        );
        figure(body, &svg, "Loss per optimiser step.");
    }
    if !log.isotropy.is_empty() {
        let s = [Series {
            name: "isotropy term".into(),
            marked: downsample_points(&log.isotropy, 40),
            points: log.isotropy.clone(),
        }];
        let svg = svg::lines(
            &format!("Isotropy term ({name})"),
            "step",
            "term",
            &s,
            false,
            false,
            false,
        );
        figure(
            body,
            &svg,
            "The isotropy regulariser's value per step (unweighted; lower is more isotropic).",
        );
    }
    if !log.evals.is_empty() {
        let s: Vec<Series> = log
            .evals
            .iter()
            .map(|(k, v)| Series {
                name: k.clone(),
                points: v.clone(),
                marked: v.clone(),
            })
            .collect();
        let svg = svg::lines(
            &format!("Validation ({name})"),
            "step",
            "value",
            &s,
            false,
            false,
            false,
        );
        figure(body, &svg, "Validation metrics at each evaluation.");
    }
}

fn ann_chart(path: &Path, rows: &[AnnRow], body: &mut String) {
    let mut names: Vec<String> = Vec::new();
    for r in rows {
        if !names.contains(&r.series()) {
            names.push(r.series());
        }
    }
    let series: Vec<Series> = names
        .iter()
        .map(|n| {
            let mut pts: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| &r.series() == n)
                .map(|r| (r.recall, r.qps))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series {
                name: n.clone(),
                marked: pts.clone(),
                points: pts,
            }
        })
        .collect();
    let svg = svg::lines(
        &format!("Recall@10 vs queries/s ({})", path.display()),
        "recall@10",
        "queries/s",
        &series,
        false,
        true,
        false,
    );
    figure(
        body,
        &svg,
        "Each point one search setting; up and right is better.",
    );
}

fn geometry_section(sets: &[(String, EmbeddingStats)], body: &mut String) {
    body.push_str("<h2>Embedding space</h2><table class=\"timings\"><caption>Effective rank: exp entropy of the singular values; IsoScore 1 = isotropic; uniformity and alignment (Wang &amp; Isola): lower is more uniform / better aligned.</caption><thead><tr><th>Embeddings</th><th>vectors</th><th>dim</th><th>mean cosine</th><th>effective rank</th><th>IsoScore</th><th>uniformity</th><th>alignment</th></tr></thead><tbody>");
    for (name, s) in sets {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.2}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td></tr>",
            esc(name),
            s.num_vectors,
            s.dim,
            s.mean_pairwise_cosine,
            s.effective_rank,
            s.isoscore,
            s.uniformity,
            s.alignment.map_or("–".to_string(), |a| format!("{a:.4}"))
        );
    }
    body.push_str("</tbody></table><div class=\"grid\">");
    let series: Vec<Series> = sets
        .iter()
        .map(|(name, s)| {
            let pts: Vec<(f64, f64)> = s
                .covariance_eigenvalues
                .iter()
                .enumerate()
                .map(|(i, &l)| ((i + 1) as f64, l))
                .collect();
            Series {
                name: name.clone(),
                marked: downsample(&pts, 24),
                points: pts,
            }
        })
        .collect();
    let svg = svg::lines(
        "Covariance eigenvalue spectrum",
        "component",
        "eigenvalue",
        &series,
        true,
        true,
        false,
    );
    figure(body, &svg, "Eigenvalues of the embeddings' covariance, largest first (log-log); a flat spectrum is isotropic.");
    body.push_str("</div>");
}

/// About 120 cut-offs from 1 to n, evenly spaced on a log axis (every cut-off up to 20).
fn log_spaced(n: usize) -> Vec<usize> {
    let mut ks: Vec<usize> = (1..=n.min(20)).collect();
    let mut k = 20.0f64;
    while (k as usize) < n {
        k *= 1.05;
        let ki = (k.round() as usize).min(n);
        if ks.last() != Some(&ki) {
            ks.push(ki);
        }
    }
    ks
}

fn downsample<T: Clone>(v: &[T], max: usize) -> Vec<T> {
    if v.len() <= max {
        return v.to_vec();
    }
    (0..max)
        .map(|i| v[i * (v.len() - 1) / (max - 1)].clone())
        .collect()
}

fn downsample_points(v: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    downsample(v, max)
}

/// min, p25, p50, p75, p95, p99, max with linear interpolation (as `Latency::of`).
fn box_stats(values: &[f64]) -> [f64; 7] {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        let h = (v.len() - 1) as f64 * p;
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(v.len() - 1);
        v[lo] + (h - lo as f64) * (v[hi] - v[lo])
    };
    [
        v[0],
        pct(0.25),
        pct(0.5),
        pct(0.75),
        pct(0.95),
        pct(0.99),
        v[v.len() - 1],
    ]
}

const CSS: &str = "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:24px auto;max-width:1400px;color:#111;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #bbb;padding-bottom:3px}
.meta{color:#444;font-size:13px}.notes{background:#fff4d6;border:1px solid #c9a227;padding:8px 14px;margin:14px 0;font-size:13px}
.notes h2{margin-top:4px;border:none;font-size:15px}
table{border-collapse:collapse;margin:14px 0;font-size:13px}caption{caption-side:bottom;text-align:left;font-size:12px;color:#333;padding-top:6px;max-width:900px}
.tables{gap:28px}.tables table{margin:6px 0}.tables caption{max-width:430px}
th,td{padding:4px 12px;border-bottom:1px solid #ddd;text-align:right}th[scope=row],thead th:first-child,.timings td:nth-child(-n+2){text-align:left}
thead th{border-bottom:2px solid #333}.paper td sup{font-size:11px}
.grid{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;border:1px solid #e3e3e3;padding:6px;break-inside:avoid}
figcaption{font-size:12px;color:#333;max-width:640px;padding:2px 4px}
svg.chart{display:block;max-width:100%;height:auto}svg .ct{font-size:13px;font-weight:bold}svg .tick{font-size:10px;fill:#333}
svg .lab,svg .leg{font-size:11px;fill:#111}svg .grid{stroke:#e4e4e4}svg .axis{stroke:#444}
@media print{body{margin:0;max-width:none}figure{border:none;page-break-inside:avoid}h2{page-break-after:avoid}.notes{border:1px solid #000}}";

fn page(results: Option<&Results>, notes: &[String], body: &str) -> String {
    let mut out = String::from("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>trawl report</title><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    let _ = write!(out, "<style>{CSS}</style></head><body>");
    out.push_str(&svg::defs());
    out.push_str("<h1>trawl report</h1>");
    if let Some(r) = results {
        let m = &r.machine;
        let _ = write!(
            out,
            "<p class=\"meta\">trawl {} · {} split, k = {} · {} dataset(s), {} system(s) · machine: {} {}, {} threads{}</p>",
            esc(&r.trawl_version),
            esc(&r.split),
            r.k,
            r.datasets.len(),
            r.system_labels().len(),
            esc(&m.os),
            esc(&m.arch),
            m.cpus,
            m.cpu_model.as_ref().map_or(String::new(), |c| format!(" ({})", esc(c)))
        );
    }
    if !notes.is_empty() {
        out.push_str("<div class=\"notes\" id=\"notes\"><h2>Notes</h2><ul>");
        for n in notes {
            let _ = write!(out, "<li>{}</li>", esc(n));
        }
        out.push_str("</ul></div>");
    }
    out.push_str(body);
    out.push_str("</body></html>\n");
    out
}
