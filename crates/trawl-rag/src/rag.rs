//! Adding retrieval messages to conversations: before each user turn (or the last one) a
//! message `{"role": "retrieval", "documents": [...]}` (or, multi-hop, `{"role": "retrieval",
//! "multi_hop": true, "hops": [...]}`) retrieved with that turn's text as the query.

use serde_json::{json, Value};
use trawl_kb::KnowledgeBase;
use trawl_retrieve::Retriever;

use crate::conversation::{content, user_turns, Record};
use crate::documents::rag_document;
use crate::hops::{multi_hop, HopOptions};
use crate::{Error, Result};

/// Which user turns get a retrieval message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turns {
    All,
    Last,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RagOptions {
    pub top_k: usize,
    pub max_doc_words: usize,
    pub turns: Turns,
    /// Multi-hop retrieval instead of one retrieval per turn.
    pub hops: Option<HopOptions>,
}

impl Default for RagOptions {
    fn default() -> Self {
        RagOptions {
            top_k: 5,
            max_doc_words: 300,
            turns: Turns::All,
            hops: None,
        }
    }
}

/// The output of a batch: the conversations with retrieval messages, and (multi-hop) one hop
/// log line per hop and per stop.
pub struct RagBatch {
    pub conversations: Vec<Value>,
    pub hop_log: Vec<Value>,
}

/// Adds retrieval messages with a retriever over a KB.
pub struct RagData<'a> {
    retriever: &'a dyn Retriever,
    kb: &'a KnowledgeBase,
    options: RagOptions,
}

impl<'a> RagData<'a> {
    /// Fails when the retriever does not rank a knowledge base (documents' text comes from it).
    pub fn new(retriever: &'a dyn Retriever, options: RagOptions) -> Result<Self> {
        let kb = retriever.knowledge_base().ok_or_else(|| {
            Error::Invalid(format!(
                "the {} retriever has no knowledge base to read documents from",
                retriever.name()
            ))
        })?;
        if options.top_k == 0 {
            return Err(Error::Invalid("--top-k must be at least 1".into()));
        }
        Ok(RagData {
            retriever,
            kb,
            options,
        })
    }

    /// Processes one batch of conversations (one retrieval call for all their turns a hop).
    pub fn process(&self, records: &[Record]) -> Result<RagBatch> {
        let mut turns: Vec<(usize, usize)> = Vec::new();
        for (r, record) in records.iter().enumerate() {
            let users = user_turns(record)?;
            let chosen = match self.options.turns {
                Turns::All => users,
                Turns::Last => users.last().copied().into_iter().collect(),
            };
            turns.extend(chosen.into_iter().map(|t| (r, t)));
        }
        let queries: Vec<&str> = turns
            .iter()
            .map(|&(r, t)| content(&records[r], t))
            .collect();
        let mut hop_log = Vec::new();
        let messages: Vec<Value> = match &self.options.hops {
            None => {
                let lists = self
                    .retriever
                    .retrieve_batch(&queries, self.options.top_k)?;
                lists
                    .iter()
                    .map(|hits| {
                        let documents = hits
                            .iter()
                            .map(|h| rag_document(self.kb, h, self.options.max_doc_words))
                            .collect::<Result<Vec<_>>>()?;
                        Ok(json!({"role": "retrieval", "documents": documents}))
                    })
                    .collect::<Result<_>>()?
            }
            Some(hops) => {
                let runs = multi_hop(
                    self.retriever,
                    self.kb,
                    &queries,
                    hops,
                    self.options.max_doc_words,
                )?;
                for (&(r, t), run) in turns.iter().zip(&runs) {
                    for h in &run.hops {
                        hop_log.push(json!({
                            "conversation": records[r].at, "turn": t, "hop": h.hop,
                            "query": h.query, "why": h.why,
                            "documents": h.documents.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
                        }));
                    }
                    hop_log.push(
                        json!({"conversation": records[r].at, "turn": t, "stopped": run.stopped}),
                    );
                }
                runs.into_iter()
                    .map(|run| json!({"role": "retrieval", "multi_hop": true, "hops": run.hops}))
                    .collect()
            }
        };
        let mut conversations: Vec<Value> = records.iter().map(|r| r.value.clone()).collect();
        // Insert from the back so earlier indexes stay valid.
        for (&(r, t), message) in turns.iter().zip(messages).rev() {
            if let Some(list) = conversations[r]["messages"].as_array_mut() {
                list.insert(t, message);
            }
        }
        Ok(RagBatch {
            conversations,
            hop_log,
        })
    }

    /// Streams `records` through [`RagData::process`] in batches of `batch` conversations,
    /// handing each output conversation and hop-log line to the callbacks in input order.
    /// Returns the number of conversations.
    pub fn run(
        &self,
        records: impl Iterator<Item = Result<Record>>,
        batch: usize,
        mut write: impl FnMut(&Value) -> Result<()>,
        mut log: impl FnMut(&Value) -> Result<()>,
    ) -> Result<u64> {
        let mut pending = Vec::with_capacity(batch.max(1));
        let mut n = 0u64;
        let mut flush = |pending: &mut Vec<Record>| -> Result<()> {
            let out = self.process(pending)?;
            for c in &out.conversations {
                write(c)?;
            }
            for l in &out.hop_log {
                log(l)?;
            }
            n += pending.len() as u64;
            pending.clear();
            Ok(())
        };
        for record in records {
            pending.push(record?);
            if pending.len() >= batch.max(1) {
                flush(&mut pending)?;
            }
        }
        if !pending.is_empty() {
            flush(&mut pending)?;
        }
        Ok(n)
    }
}
