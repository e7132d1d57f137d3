//! `trawl check --faiss-index INDEX --id-mapping IDS [--labels LABELS]`: the preflight over the
//! triple RL users hold (index, doc ids in index order, labels), before any KB is built: the
//! index reads and converts, the mapping covers it, the labelled docs are in it, and a search
//! from a labelled document's own stored vector finds that document.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use trawl_vector::{read_faiss, FaissImport};

use super::check::{ms, Args, Checklist};
use super::serve::load_labels;

pub(super) fn run(index: &Path, ids: &Path, args: &Args) -> ExitCode {
    let mut c = Checklist { lines: Vec::new() };
    let t = Instant::now();
    let imported = match read_faiss(index) {
        Ok(i) => {
            c.add(
                "faiss index",
                true,
                format!(
                    "{}: {} read as {}, {} vectors of dimension {}, {:?} ({})",
                    index.display(),
                    i.fourcc,
                    i.as_index().kind(),
                    i.len(),
                    i.dim(),
                    i.metric(),
                    ms(t)
                ),
            );
            Some(i)
        }
        Err(e) => {
            c.add("faiss index", false, e.to_string());
            None
        }
    };
    let mapping = match trawl_data::pickle::read_id_mapping(ids) {
        Ok(m) => Some(m),
        Err(e) => {
            c.add("id mapping", false, e.to_string());
            None
        }
    };
    let mut position: HashMap<&str, u32> = HashMap::new();
    if let Some(m) = &mapping {
        let mut dups = 0usize;
        for (i, id) in m.iter().enumerate() {
            dups += usize::from(position.insert(id.as_str(), i as u32).is_some());
        }
        let n = imported.as_ref().map(FaissImport::len);
        let ok = dups == 0 && n.is_none_or(|n| n == m.len());
        let size = n.map_or(String::new(), |n| format!(" for {n} vectors"));
        c.add(
            "id mapping",
            ok,
            format!("{} ids{size}, {dups} repeated", m.len()),
        );
    }
    let labels = match args.labels.as_deref().map(load_labels).transpose() {
        Ok(l) => l,
        Err(e) => {
            c.add("labels", false, format!("{e:#}"));
            None
        }
    };
    if let (Some(l), Some(_)) = (&labels, &mapping) {
        c.add(
            "labels",
            l.num_queries() > 0,
            format!(
                "{} uids, {} with a relevant doc",
                l.num_queries(),
                l.labelled_uids().len()
            ),
        );
        super::check::check_labelled_docs(&mut c, l, "index", args.max_missing, |d| {
            position.contains_key(d)
        });
        if let Some(ix) = &imported {
            self_retrieval(&mut c, ix, l, &position, &mapping_ids(&mapping), args);
        }
    }
    c.print(args.json);
    if c.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn mapping_ids(m: &Option<Vec<String>>) -> Vec<&str> {
    m.iter().flatten().map(String::as_str).collect()
}

/// Searches from the stored vectors of one relevant document per labelled uid: each document
/// should come back in its own top 10 (a broken mapping or graph shows here).
fn self_retrieval(
    c: &mut Checklist,
    ix: &FaissImport,
    labels: &trawl_retrieve::Labels,
    position: &HashMap<&str, u32>,
    ids: &[&str],
    args: &Args,
) {
    let mut queries = Vec::new();
    let mut wanted = Vec::new();
    for uid in labels.labelled_uids() {
        let Some(judged) = labels.get(uid) else {
            continue;
        };
        let mut rel: Vec<&String> = judged
            .iter()
            .filter(|(_, &g)| g > 0)
            .map(|(d, _)| d)
            .collect();
        rel.sort();
        if let Some((&o, v)) = rel
            .iter()
            .find_map(|d| position.get(d.as_str()))
            .and_then(|o| Some((o, ix.vector(*o)?)))
        {
            queries.extend(v);
            wanted.push(o);
        }
        if wanted.len() >= args.sample.max(1) {
            break;
        }
    }
    if wanted.is_empty() {
        c.add("search", false, "no labelled document is in the index");
        return;
    }
    let params = args.retriever.ann.params();
    let t = Instant::now();
    match ix
        .as_index()
        .search_batch_with(&queries, wanted.len(), 10, &params)
    {
        Ok(hits) => {
            let found = hits
                .iter()
                .zip(&wanted)
                .filter(|(h, &o)| h.iter().any(|x| x.doc == o))
                .count();
            let example = hits
                .first()
                .and_then(|h| h.first())
                .and_then(|h| ids.get(h.doc as usize))
                .map_or(String::new(), |id| format!("; first hit `{id}`"));
            c.add(
                "search",
                found * 2 >= wanted.len(),
                format!(
                    "{found} of {} labelled docs in their own top 10 when searched by their stored vector ({}){example}",
                    wanted.len(),
                    ms(t)
                ),
            );
        }
        Err(e) => {
            c.add("search", false, e.to_string());
        }
    }
}
