//! Multi-hop retrieval: each hop retrieves for a query, the next query comes from what was found
//! (pseudo-relevance feedback, [`crate::prf`], or an external command), and no document is
//! returned twice for one question. Questions are processed together, one retrieval batch a hop.

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};

use serde::Serialize;
use trawl_kb::KnowledgeBase;
use trawl_retrieve::Retriever;

use crate::documents::{rag_document, RagDocument};
use crate::prf::{self, Feedback, Term};
use crate::{Error, Result};

/// Where the next hop's query comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum NextQuery {
    /// The question plus the top `terms` expansion terms of the previous hop's documents.
    Feedback { terms: usize },
    /// A shell command (`sh -c`) reading `{"question", "hop", "queries", "documents"}` as JSON on
    /// stdin and writing the next query on stdout (empty: stop).
    Command(String),
}

/// How to hop.
#[derive(Debug, Clone, PartialEq)]
pub struct HopOptions {
    pub max_hops: usize,
    pub top_k_per_hop: usize,
    pub next: NextQuery,
}

/// The default number of expansion terms.
pub const DEFAULT_EXPANSION_TERMS: usize = 5;

impl Default for HopOptions {
    fn default() -> Self {
        HopOptions {
            max_hops: 3,
            top_k_per_hop: 3,
            next: NextQuery::Feedback {
                terms: DEFAULT_EXPANSION_TERMS,
            },
        }
    }
}

/// One hop: its query, why it was made, and the documents no earlier hop returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hop {
    pub hop: usize,
    pub query: String,
    pub why: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expansion_terms: Vec<Term>,
    pub documents: Vec<RagDocument>,
}

/// The hops of one question and why hopping stopped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HopRun {
    pub hops: Vec<Hop>,
    pub stopped: String,
}

struct State {
    question: String,
    queries: Vec<String>,
    seen: HashSet<u32>,
    next: Option<(String, String, Vec<Term>)>,
    run: HopRun,
}

/// Runs up to `max_hops` hops for every question; documents cut after `max_doc_words` words.
pub fn multi_hop(
    retriever: &dyn Retriever,
    kb: &KnowledgeBase,
    questions: &[&str],
    opts: &HopOptions,
    max_doc_words: usize,
) -> Result<Vec<HopRun>> {
    if opts.max_hops == 0 || opts.top_k_per_hop == 0 {
        return Err(Error::Invalid(
            "--max-hops and --top-k-per-hop must be at least 1".into(),
        ));
    }
    let analyzer = prf::analyzer(kb)?;
    let mut states: Vec<State> = questions
        .iter()
        .map(|q| State {
            question: q.to_string(),
            queries: Vec::new(),
            seen: HashSet::new(),
            next: Some((q.to_string(), "the user turn".to_string(), Vec::new())),
            run: HopRun {
                hops: Vec::new(),
                stopped: String::new(),
            },
        })
        .collect();
    for hop in 1..=opts.max_hops {
        let active: Vec<usize> = (0..states.len())
            .filter(|&i| states[i].next.is_some())
            .collect();
        if active.is_empty() {
            break;
        }
        let depth = opts.top_k_per_hop
            + active
                .iter()
                .map(|&i| states[i].seen.len())
                .max()
                .unwrap_or(0);
        let texts: Vec<&str> = active
            .iter()
            .map(|&i| states[i].next.as_ref().map_or("", |n| n.0.as_str()))
            .collect();
        let lists = retriever.retrieve_batch(&texts, depth)?;
        for (&i, hits) in active.iter().zip(lists) {
            let st = &mut states[i];
            let (query, why, terms) = st.next.take().unwrap_or_default();
            let fresh: Vec<_> = hits
                .into_iter()
                .filter(|h| !st.seen.contains(&h.ordinal))
                .take(opts.top_k_per_hop)
                .collect();
            if fresh.is_empty() {
                st.run.stopped =
                    format!("hop {hop} found no document that an earlier hop had not returned");
                continue;
            }
            let documents = fresh
                .iter()
                .map(|h| rag_document(kb, h, max_doc_words))
                .collect::<Result<Vec<_>>>()?;
            st.seen.extend(fresh.iter().map(|h| h.ordinal));
            st.queries.push(query.clone());
            st.run.hops.push(Hop {
                hop,
                query,
                why,
                expansion_terms: terms,
                documents,
            });
            if hop == opts.max_hops {
                st.run.stopped = format!("reached the maximum of {} hops", opts.max_hops);
                continue;
            }
            let next = match &opts.next {
                NextQuery::Feedback { terms } => {
                    let docs: Vec<_> = fresh
                        .iter()
                        .map(|h| kb.document(h.ordinal).map(|d| (d, h.score)))
                        .collect::<std::result::Result<_, _>>()?;
                    let feedback: Vec<Feedback> = docs
                        .iter()
                        .map(|(d, score)| Feedback {
                            title: d.title,
                            text: d.text,
                            score: *score,
                        })
                        .collect();
                    let mut asked: Vec<&str> = vec![st.question.as_str()];
                    asked.extend(st.queries.iter().map(String::as_str));
                    let expansion = prf::expansion_terms(kb, &analyzer, &asked, &feedback, *terms);
                    if expansion.is_empty() {
                        None
                    } else {
                        let words: Vec<&str> = expansion.iter().map(|t| t.term.as_str()).collect();
                        Some((
                            format!("{} {}", st.question, words.join(" ")),
                            format!(
                                "pseudo-relevance feedback: the question plus the top {} terms of hop {hop}'s documents by weighted tf-idf (RM3-style)",
                                words.len()
                            ),
                            expansion,
                        ))
                    }
                }
                NextQuery::Command(cmd) => {
                    let last = &st.run.hops[st.run.hops.len() - 1];
                    let q = run_next_query_command(
                        cmd,
                        &st.question,
                        hop,
                        &st.queries,
                        &last.documents,
                    )?;
                    q.map(|q| {
                        (
                            q,
                            format!("written by the next-query command after hop {hop}"),
                            Vec::new(),
                        )
                    })
                }
            };
            match next {
                None => {
                    st.run.stopped = format!("hop {hop}'s documents gave no new query");
                }
                Some(n) if st.queries.contains(&n.0) => {
                    st.run.stopped = format!("the query after hop {hop} repeats an earlier one");
                }
                Some(n) => st.next = Some(n),
            }
        }
    }
    Ok(states.into_iter().map(|s| s.run).collect())
}

/// Runs the user's command with the hop so far as JSON on stdin; its stdout (trimmed) is the
/// next query, `None` when empty.
fn run_next_query_command(
    command: &str,
    question: &str,
    hop: usize,
    queries: &[String],
    documents: &[RagDocument],
) -> Result<Option<String>> {
    let fail = |message: String| Error::NextQueryCommand {
        command: command.to_string(),
        message,
    };
    let input = serde_json::json!({
        "question": question,
        "hop": hop,
        "queries": queries,
        "documents": documents,
    });
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("could not start it: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that exits without reading its input is not an error here.
        let _ = stdin.write_all(input.to_string().as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("could not read its output: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(fail(format!("exited with {}: {}", out.status, err.trim())));
    }
    let query = String::from_utf8(out.stdout)
        .map_err(|_| fail("wrote a query that is not UTF-8".into()))?;
    let query = query.trim();
    Ok((!query.is_empty()).then(|| query.to_string()))
}
