//! `trawl check KB [--labels QRELS] [--model MODEL]`: the preflight run before a training job.
//! Every step prints one checklist line (✓ or ✗); any ✗ makes the exit code 1.
//! `trawl check --faiss-index X --id-mapping Y --labels Z` checks a FAISS triple instead
//! (see `check_faiss`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use trawl_kb::KnowledgeBase;
use trawl_retrieve::{
    compute_rewards, retrieve_rewrites, Labels, Retriever, RewardItem, RewardSpec, RewriteFusion,
    RewriteMode, UnknownUidPolicy,
};

use super::serve::{load_labels, open_kb, RetrieverArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Knowledge base directory.
    #[arg(required_unless_present = "faiss_index")]
    pub kb: Option<PathBuf>,
    /// Reward labels: TREC qrels, BEIR qrels TSV, JSON {uid: [doc ids]} / {uid: {doc: grade}},
    /// or a pickle of the same (dict uid -> list / set of doc ids, or -> {doc id: grade}).
    #[arg(long, value_name = "QRELS")]
    pub labels: Option<PathBuf>,
    /// Check a FAISS index file with --id-mapping and --labels instead of a KB.
    #[arg(
        long,
        value_name = "INDEX",
        conflicts_with = "kb",
        requires = "id_mapping"
    )]
    pub faiss_index: Option<PathBuf>,
    /// With --faiss-index: doc ids in index order (pickle / JSON list or dict, or one a line).
    #[arg(long, value_name = "ID_MAPPING")]
    pub id_mapping: Option<PathBuf>,

    /// Query texts (JSONL, TSV or parquet) for the labelled uids; without it, each uid is queried with
    /// the opening words of one of its relevant documents.
    #[arg(long, value_name = "QUERIES")]
    pub queries: Option<PathBuf>,
    #[command(flatten)]
    pub retriever: RetrieverArgs,
    /// Labelled uids to compute rewards for.
    #[arg(long, default_value_t = 16)]
    pub sample: usize,
    /// Largest share of labelled doc ids allowed to be missing from the KB (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub max_missing: f64,
    /// Print the checklist as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) struct Checklist {
    pub(super) lines: Vec<(String, bool, String)>,
}

impl Checklist {
    pub(super) fn add(&mut self, name: &str, ok: bool, detail: impl Into<String>) -> bool {
        self.lines.push((name.to_string(), ok, detail.into()));
        ok
    }
    pub(super) fn ok(&self) -> bool {
        self.lines.iter().all(|l| l.1)
    }
    /// Prints to stdout, ignoring a closed pipe (`trawl check ... | head`).
    pub(super) fn print(&self, json: bool) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        if json {
            let checks: Vec<_> = self
                .lines
                .iter()
                .map(|(n, ok, d)| serde_json::json!({"check": n, "ok": ok, "detail": d}))
                .collect();
            let v = serde_json::json!({"ok": self.ok(), "checks": checks});
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&v).unwrap_or_default()
            );
            return;
        }
        let width = self
            .lines
            .iter()
            .map(|l| l.0.chars().count())
            .max()
            .unwrap_or(0);
        for (name, ok, detail) in &self.lines {
            let mark = if *ok { "✓" } else { "✗" };
            let _ = writeln!(out, "{mark} {name:<width$}  {detail}");
        }
        let failed = self.lines.iter().filter(|l| !l.1).count();
        if failed == 0 {
            let _ = writeln!(out, "all {} checks passed", self.lines.len());
        } else {
            let _ = writeln!(out, "{failed} of {} checks failed", self.lines.len());
        }
    }
}

pub(super) fn ms(t: Instant) -> String {
    format!("{:.1} ms", t.elapsed().as_secs_f64() * 1000.0)
}

/// The ordinal of document `id`; on a chunked KB, of its first chunk (labels name documents).
fn doc_ordinal(kb: &KnowledgeBase, id: &str) -> Option<u32> {
    kb.ordinal_of(id).or_else(|| {
        kb.manifest().chunks.as_ref()?;
        kb.ordinal_of(&trawl_chunk::chunk_id(id, 0))
    })
}

/// Opening words of a document, used as a query that should find it.
fn pseudo_query(kb: &KnowledgeBase, id: &str) -> Option<String> {
    let doc = kb.document(doc_ordinal(kb, id)?).ok()?;
    let words: Vec<&str> = doc
        .title
        .split_whitespace()
        .chain(doc.text.split_whitespace())
        .take(16)
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let (Some(index), Some(ids)) = (&args.faiss_index, &args.id_mapping) {
        return Ok(super::check_faiss::run(index, ids, &args));
    }
    let Some(kb_path) = args.kb.clone() else {
        anyhow::bail!("give a knowledge base directory, or --faiss-index with --id-mapping");
    };
    let mut c = Checklist { lines: Vec::new() };
    let code = |c: &Checklist| {
        if c.ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    };
    let t = Instant::now();
    let (kb, opened) = match open_kb(&kb_path, &args.retriever) {
        Ok(x) => x,
        Err(e) => {
            c.add("knowledge base", false, format!("{e:#}"));
            c.print(args.json);
            return Ok(code(&c));
        }
    };
    let indexes: Vec<String> = [
        kb.bm25().map(|_| "bm25".to_string()),
        kb.dense_model().map(|m| format!("dense ({m})")),
    ]
    .into_iter()
    .flatten()
    .collect();
    c.add(
        "knowledge base",
        true,
        format!(
            "{}: {} documents, indexes: {} ({})",
            kb_path.display(),
            kb.num_live(),
            indexes.join(", "),
            ms(t)
        ),
    );
    let names: Vec<&str> = opened.retrievers.iter().map(|r| r.name()).collect();
    let dense_wanted = kb.vectors().is_some() || args.retriever.model.is_some();
    let dense_ok = names.contains(&"dense");
    let detail = if opened.notes.is_empty() {
        names.join(", ")
    } else {
        format!("{} ({})", names.join(", "), opened.notes.join("; "))
    };
    c.add("retrievers", !dense_wanted || dense_ok, detail);

    let labels: Option<Labels> = match args.labels.as_deref().map(load_labels).transpose() {
        Ok(l) => l,
        Err(e) => {
            c.add("labels", false, format!("{e:#}"));
            None
        }
    };
    if let Some(l) = &labels {
        let judgements: usize = l.qrels().iter().map(|(_, d)| d.len()).sum();
        c.add(
            "labels",
            l.num_queries() > 0,
            format!(
                "{} uids, {judgements} judgements, {} uids with a relevant doc",
                l.num_queries(),
                l.labelled_uids().len()
            ),
        );
        check_labelled_docs(&mut c, l, "KB", args.max_missing, |d| {
            doc_ordinal(&kb, d).is_some()
        });
    }

    // Queries: real texts for labelled uids when given, else pseudo-queries from their docs.
    let texts: HashMap<String, String> = match &args.queries {
        Some(p) => match super::serve::load_queries(p) {
            Ok(qs) => qs.into_iter().map(|q| (q.id, q.text)).collect(),
            Err(e) => {
                c.add("queries", false, e.to_string());
                HashMap::new()
            }
        },
        None => HashMap::new(),
    };
    let mut sample: Vec<(String, String)> = Vec::new();
    if let Some(l) = &labels {
        for uid in l.labelled_uids() {
            let text = texts.get(uid).cloned().or_else(|| {
                let judged = l.get(uid)?;
                let mut rel: Vec<&String> = judged
                    .iter()
                    .filter(|(_, &g)| g > 0)
                    .map(|(d, _)| d)
                    .collect();
                rel.sort();
                rel.iter().find_map(|d| pseudo_query(&kb, d))
            });
            if let Some(text) = text {
                sample.push((uid.to_string(), text));
            }
            if sample.len() >= args.sample.max(1) {
                break;
            }
        }
    }
    if sample.is_empty() {
        sample = (0..kb.num_docs().min(8) as u32)
            .filter_map(|o| Some((String::new(), pseudo_query(&kb, kb.id(o).ok()?)?)))
            .collect();
    }
    let queries: Vec<&str> = sample.iter().map(|s| s.1.as_str()).collect();

    for r in &opened.retrievers {
        let t = Instant::now();
        match r.retrieve_batch(&queries, 10) {
            Ok(out) => {
                let found = out.iter().filter(|h| !h.is_empty()).count();
                let ok = out.len() == queries.len() && found > 0;
                c.add(
                    &format!("retrieve {}", r.name()),
                    ok,
                    format!(
                        "batch of {} queries in {} ({found} with hits)",
                        queries.len(),
                        ms(t)
                    ),
                );
            }
            Err(e) => {
                c.add(&format!("retrieve {}", r.name()), false, e.to_string());
            }
        }
    }
    let Some(main) = opened.retrievers.last().cloned() else {
        c.print(args.json);
        return Ok(code(&c));
    };
    check_modes(&mut c, &*main, &queries);
    if let Some(l) = &labels {
        check_rewards(&mut c, &opened.retrievers, l, &sample);
    }
    c.print(args.json);
    Ok(code(&c))
}

/// One checklist line: the share of relevant doc ids (`where_` names the collection) that
/// `present` does not know must stay within `max_missing`.
pub(super) fn check_labelled_docs(
    c: &mut Checklist,
    l: &Labels,
    where_: &str,
    max_missing: f64,
    present: impl Fn(&str) -> bool,
) {
    let mut positive = 0usize;
    let mut missing: Vec<&str> = Vec::new();
    for (_, docs) in l.qrels().iter() {
        for (d, &g) in docs {
            if g > 0 {
                positive += 1;
                if !present(d) {
                    missing.push(d);
                }
            }
        }
    }
    let share = if positive == 0 {
        0.0
    } else {
        missing.len() as f64 / positive as f64
    };
    missing.sort_unstable();
    let example = missing
        .first()
        .map_or(String::new(), |m| format!(", e.g. `{m}`"));
    c.add(
        &format!("labelled docs in {where_}"),
        share <= max_missing,
        format!(
            "{} of {positive} relevant doc ids missing from the {where_}{example}",
            missing.len()
        ),
    );
}

/// Union holds every rewrite's documents; intersection only documents common to all.
fn check_modes(c: &mut Checklist, r: &dyn Retriever, queries: &[&str]) {
    let items: Vec<Vec<String>> = queries
        .windows(2)
        .take(4)
        .map(|w| w.iter().map(|q| q.to_string()).collect())
        .collect();
    if items.is_empty() {
        c.add(
            "union / intersection",
            false,
            "need at least two queries to combine",
        );
        return;
    }
    let k = 10;
    let t = Instant::now();
    let run = |mode| retrieve_rewrites(r, &items, k, mode, RewriteFusion::Rrf);
    match (run(RewriteMode::Union), run(RewriteMode::Intersection)) {
        (Ok(u), Ok(i)) => {
            let mut ok = true;
            for (u, i) in u.iter().zip(&i) {
                let sets: Vec<std::collections::HashSet<u32>> = u
                    .per_query
                    .iter()
                    .map(|q| q.iter().map(|d| d.ordinal).collect())
                    .collect();
                let all: std::collections::HashSet<u32> = sets.iter().flatten().copied().collect();
                ok &= u.fused.len() == all.len().min(k)
                    && u.fused.iter().all(|d| all.contains(&d.ordinal));
                ok &= i
                    .fused
                    .iter()
                    .all(|d| sets.iter().all(|s| s.contains(&d.ordinal)));
            }
            let sizes = |x: &[trawl_retrieve::RewriteResult]| {
                x.iter()
                    .map(|r| r.fused.len().to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            };
            c.add(
                "union / intersection",
                ok,
                format!(
                    "{} ({} items x 2 rewrites): union sizes {}, intersection sizes {} ({})",
                    r.name(),
                    items.len(),
                    sizes(&u),
                    sizes(&i),
                    ms(t)
                ),
            );
        }
        (Err(e), _) | (_, Err(e)) => {
            c.add("union / intersection", false, e.to_string());
        }
    }
}

/// Rewards for labelled uids with every retriever; an unknown uid must be an error, not 0.
fn check_rewards(
    c: &mut Checklist,
    retrievers: &[Arc<dyn Retriever>],
    labels: &Labels,
    sample: &[(String, String)],
) {
    let items: Vec<RewardItem> = sample
        .iter()
        .filter(|(uid, _)| !uid.is_empty())
        .map(|(uid, text)| RewardItem {
            uid: uid.clone(),
            queries: vec![text.clone()],
            relevant: None,
        })
        .collect();
    if items.is_empty() {
        c.add(
            "rewards",
            false,
            "no labelled uid has a relevant document in the KB to query with",
        );
        return;
    }
    let spec = RewardSpec {
        k: 10,
        mode: RewriteMode::Single,
        fusion: RewriteFusion::Rrf,
        metric: "ndcg@10".parse().expect("a valid metric name"),
        unknown_uid: UnknownUidPolicy::Error,
    };
    for r in retrievers {
        let t = Instant::now();
        // On a chunked KB, documents by their best chunk (MaxP), as `POST /reward` ranks them.
        let r = trawl_retrieve::collapse_chunks(r.clone());
        match compute_rewards(&*r, &items, Some(labels), &spec) {
            Ok(out) => {
                let errors = out.iter().filter(|x| x.error.is_some()).count();
                let values: Vec<f64> = out.iter().filter_map(|x| x.reward).collect();
                let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
                c.add(
                    &format!("rewards {}", r.name()),
                    errors == 0 && mean > 0.0,
                    format!(
                        "nDCG@10 on {} labelled uids: mean {mean:.4}, {errors} errors ({})",
                        out.len(),
                        ms(t)
                    ),
                );
            }
            Err(e) => {
                c.add(&format!("rewards {}", r.name()), false, e.to_string());
            }
        }
    }
    let probe = [RewardItem {
        uid: "\u{1}trawl-check-unknown-uid".into(),
        queries: vec!["x".into()],
        relevant: None,
    }];
    let ok = compute_rewards(&*retrievers[0], &probe, Some(labels), &spec)
        .is_ok_and(|o| o[0].reward.is_none() && o[0].error.is_some());
    c.add(
        "unknown uid",
        ok,
        if ok {
            "reported as a per-item error, not a silent 0"
        } else {
            "an unknown uid did not produce an error"
        },
    );
}
