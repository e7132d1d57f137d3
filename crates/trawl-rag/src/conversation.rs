//! Conversations in and out: `{"messages": [{"role", "content"}, ...], ...}`, one per record.
//!
//! The processing takes any iterator of [`Record`]s (a JSON value and where it came from), so a
//! reader of another container (parquet rows) plugs in beside [`read_jsonl`].

use std::path::Path;

use serde_json::Value;
use trawl_data::input::LineReader;

use crate::{Error, Result};

/// One conversation and where it came from (`file:line`, used in errors and the hop log).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub at: String,
    pub value: Value,
}

/// Streams the conversations of a JSONL file (`.gz` read transparently; blank lines skipped).
/// A line that is not JSON is an error naming the file and line.
pub fn read_jsonl(path: &Path) -> Result<impl Iterator<Item = Result<Record>>> {
    let mut lines = LineReader::open(path)?;
    let name = path.display().to_string();
    Ok(std::iter::from_fn(move || loop {
        let (line, text) = match lines.next_line()? {
            Ok(l) => l,
            Err(e) => return Some(Err(e.into())),
        };
        if text.trim().is_empty() {
            continue;
        }
        let at = format!("{name}:{line}");
        return Some(match serde_json::from_str::<Value>(text) {
            Ok(value) => Ok(Record { at, value }),
            Err(e) => Err(Error::Conversation {
                at,
                message: format!(
                    "not a JSON object ({e}); expected {{\"messages\": [{{\"role\": \"user\", \"content\": \"...\"}}, ...]}}"
                ),
            }),
        });
    }))
}

/// The indexes of the user turns of a conversation, checking its shape: an object with a
/// `messages` array of objects, each with a string `role`, and a string `content` on user turns.
pub fn user_turns(record: &Record) -> Result<Vec<usize>> {
    let bad = |message: String| Error::Conversation {
        at: record.at.clone(),
        message,
    };
    let messages = record
        .value
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("expected an object with a \"messages\" array".into()))?;
    let mut users = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).ok_or_else(|| {
            bad(format!(
                "message {i} has no string \"role\" (user, assistant, system, ...)"
            ))
        })?;
        if role == "user" {
            if !m.get("content").is_some_and(Value::is_string) {
                return Err(bad(format!("user message {i} has no string \"content\"")));
            }
            users.push(i);
        }
    }
    if users.is_empty() {
        return Err(bad(
            "the conversation has no user turn (a message with \"role\": \"user\"): there is nothing to retrieve for".into(),
        ));
    }
    Ok(users)
}

/// The text of message `i` (a user turn checked by [`user_turns`]).
pub fn content(record: &Record, i: usize) -> &str {
    record.value["messages"][i]["content"]
        .as_str()
        .unwrap_or("")
}
