//! The trec_eval 10.0 driver: evaluate a run against qrels with trec_eval's measures and print
//! its exact output format (`%-22s\t%s\t%6.4f`).
//!
//! Queries are those of the qrels (sorted by id) that also have results; with `complete` (`-c`)
//! every qrels query counts, and a query without results is scored on a one-document dummy
//! ranking exactly as trec_eval does. Queries are evaluated in parallel; output order is fixed,
//! and sums run over the queries in sorted id order (the qrels order), so summaries are
//! bit-identical from run to run. Under `-c`, `num_rel all` is trec_eval 10.0's recount of the
//! qrels (see [`Measure::complete_summary`]).

use std::fmt::Write as _;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::measures::{parse_measures, Context, Measure, RecallRounding, Summary};
use crate::ranking::{grade_ranking, sort_ranking, RankedRels};
use trawl_data::trec_format::{QrelsTable, QueryJudgements, RunTable};

/// trec_eval's command-line options that change results.
#[derive(Debug, Clone)]
pub struct TrecEvalOptions {
    /// `-m` arguments (empty: `official`).
    pub measures: Vec<String>,
    /// `-q`: print per-query values.
    pub per_query: bool,
    /// `-c`: average over all qrels queries, scoring missing ones.
    pub complete: bool,
    /// `-l`: minimum grade that counts as relevant.
    pub relevance_level: i32,
    /// `-M`: evaluate only the first N documents of each query.
    pub max_docs: Option<usize>,
    /// `-n` turns this off: print the summary.
    pub summary: bool,
    /// `-N`: number of documents in the collection (utility only).
    pub num_docs_in_coll: i64,
}

impl Default for TrecEvalOptions {
    fn default() -> Self {
        TrecEvalOptions {
            measures: Vec::new(),
            per_query: false,
            complete: false,
            relevance_level: 1,
            max_docs: None,
            summary: true,
            num_docs_in_coll: 0,
        }
    }
}

struct QueryResult {
    values: Vec<f64>,
    relstrings: Vec<String>,
}

/// A qrels query and its results (`None`: missing from the run, scored only under `-c`).
type Selected<'q, 'r> = (&'q QueryJudgements, Option<&'q Vec<(&'r str, f64)>>);

const BOGUS_DOC: &str = "ceci_nest_pas_un_docno";

/// `%6.4f` as C prints it, including `nan`/`-nan`/`inf`.
fn fmt_float(v: f64) -> String {
    if v.is_nan() {
        let s = if v.is_sign_negative() { "-nan" } else { "nan" };
        format!("{s:>6}")
    } else if v.is_infinite() {
        let s = if v < 0.0 { "-inf" } else { "inf" };
        format!("{s:>6}")
    } else {
        format!("{v:6.4}")
    }
}

fn evaluate_query(
    judged: &QueryJudgements,
    docs: Option<&Vec<(&str, f64)>>,
    measures: &[Measure],
    ctx: &Context,
    max_docs: usize,
    width: usize,
) -> Result<QueryResult> {
    let mut ranking: Vec<(&str, f64)> = match docs {
        Some(d) => d.clone(),
        None => vec![(BOGUS_DOC, 1.0)],
    };
    sort_ranking(&mut ranking, max_docs);
    let grades = grade_ranking(
        &judged.query_id,
        &ranking,
        judged.docs.iter().map(|(d, g)| (d.as_str(), *g)),
    )?;
    let rr = RankedRels::new(
        grades.into_iter(),
        judged.docs.iter().map(|(_, g)| *g),
        ctx.relevance_level,
    );
    let mut values = vec![0.0; width];
    let mut relstrings = Vec::new();
    let mut at = 0;
    for m in measures {
        let n = m.value_names.len();
        m.compute(&rr, ctx, &mut values[at..at + n]);
        if m.is_relstring() {
            relstrings.push(if docs.is_some() {
                m.relstring(&rr)
            } else {
                String::new()
            });
        }
        if docs.is_none() && m.zeroed_when_missing() {
            values[at..at + n].fill(0.0);
        }
        at += n;
    }
    Ok(QueryResult { values, relstrings })
}

/// Evaluates `run` against `qrels` and returns trec_eval's output text.
pub fn trec_eval(qrels: &QrelsTable, run: &RunTable<'_>, opts: &TrecEvalOptions) -> Result<String> {
    let measures = parse_measures(&opts.measures)?;
    let ctx = Context {
        relevance_level: opts.relevance_level,
        num_docs_in_coll: opts.num_docs_in_coll,
        recall_rounding: RecallRounding::Nearest,
    };
    let width: usize = measures.iter().map(|m| m.value_names.len()).sum();
    let index = run.index();
    let selected: Vec<Selected<'_, '_>> = qrels
        .queries
        .iter()
        .filter_map(|q| {
            let docs = index.get(q.query_id.as_str()).map(|&i| &run.queries[i].1);
            (docs.is_some() || opts.complete).then_some((q, docs))
        })
        .collect();
    if selected.is_empty() {
        return Err(Error::NoQueries);
    }
    let max_docs = opts.max_docs.unwrap_or(usize::MAX);
    let results: Vec<QueryResult> = selected
        .par_iter()
        .map(|(q, docs)| evaluate_query(q, *docs, &measures, &ctx, max_docs, width))
        .collect::<Result<_>>()?;

    let mut out = String::new();
    let mut sums = vec![0.0; width];
    for ((q, _), res) in selected.iter().zip(&results) {
        let mut at = 0;
        let mut rs = res.relstrings.iter();
        for m in &measures {
            for (k, name) in m.value_names.iter().enumerate() {
                let v = res.values[at + k];
                sums[at + k] += v;
                if !opts.per_query {
                    continue;
                }
                let qid = &q.query_id;
                match m.summary {
                    Summary::RunId | Summary::Count | Summary::GeoMean => {}
                    Summary::None => {
                        let s = rs.next().map(String::as_str).unwrap_or("");
                        let _ = writeln!(out, "{name:<22}\t{qid}\t'{s}'");
                    }
                    Summary::Sum => {
                        let _ = writeln!(out, "{name:<22}\t{qid}\t{}", v as i64);
                    }
                    Summary::Mean => {
                        let _ = writeln!(out, "{name:<22}\t{qid}\t{}", fmt_float(v));
                    }
                }
            }
            at += m.value_names.len();
        }
    }
    if opts.summary {
        let n = selected.len() as f64;
        let mut at = 0;
        for m in &measures {
            for (k, name) in m.value_names.iter().enumerate() {
                let s = sums[at + k];
                match m.summary {
                    Summary::RunId => {
                        let _ = writeln!(out, "{name:<22}\tall\t{}", run.run_id);
                    }
                    Summary::Count => {
                        let _ = writeln!(out, "{name:<22}\tall\t{}", selected.len());
                    }
                    Summary::Sum => {
                        let s = match opts.complete {
                            true => m.complete_summary(qrels).unwrap_or(s),
                            false => s,
                        };
                        let _ = writeln!(out, "{name:<22}\tall\t{}", s as i64);
                    }
                    Summary::Mean => {
                        let _ = writeln!(out, "{name:<22}\tall\t{}", fmt_float(s / n));
                    }
                    Summary::GeoMean => {
                        let _ = writeln!(out, "{name:<22}\tall\t{}", fmt_float((s / n).exp()));
                    }
                    Summary::None => {}
                }
            }
            at += m.value_names.len();
        }
    }
    Ok(out)
}
