//! Reward labels: query uid -> relevant document ids with grades.
//!
//! Accepted files: TREC qrels (`qid 0 docid grade`), BEIR qrels TSV (with header) and JSON, either
//! `{"uid": ["doc", ...]}` (grade 1 each) or `{"uid": {"doc": grade, ...}}`. Qrels files go
//! through trawl-data's one reader (permissive dialect, as `trawl eval` reads them); JSON grades
//! follow its grade rule (`2` and `2.0` are 2, `1.5` is an error).

use std::collections::HashMap;
use std::path::Path;

use trawl_data::Qrels;

use crate::{Error, Result};

/// Relevance labels for rewards, keyed by query uid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    qrels: Qrels,
}

impl Labels {
    pub fn from_qrels(qrels: Qrels) -> Self {
        Labels { qrels }
    }

    /// Reads a labels file: JSON when the name ends in `.json` or the content starts with `{`,
    /// TREC or BEIR qrels otherwise.
    pub fn load(path: &Path) -> Result<Self> {
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let starts_with_brace = || -> Result<bool> {
            use std::io::Read;
            let mut buf = [0u8; 64];
            let mut f = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
            let n = f.read(&mut buf).map_err(|e| io_error(path, e))?;
            Ok(buf[..n]
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|&b| b == b'{'))
        };
        if is_json || starts_with_brace()? {
            let text = std::fs::read_to_string(path).map_err(|e| io_error(path, e))?;
            Self::parse_json(&text, path)
        } else {
            Ok(Labels {
                qrels: trawl_data::qrels::read_qrels(path)?,
            })
        }
    }

    /// Parses JSON labels; `origin` names the source in errors.
    pub fn parse_json(text: &str, origin: &Path) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Labels {
            path: origin.to_path_buf(),
            line: Some(e.line()),
            message: format!("not valid JSON: {e}"),
        })?;
        let bad = |message: String| Error::Labels {
            path: origin.to_path_buf(),
            line: None,
            message,
        };
        let serde_json::Value::Object(map) = value else {
            return Err(bad(
                "expected a JSON object {\"uid\": [\"doc id\", ...]} or {\"uid\": {\"doc id\": grade}}"
                    .into(),
            ));
        };
        let mut qrels = Qrels::new();
        for (uid, docs) in map {
            match docs {
                serde_json::Value::Array(ids) => {
                    for id in ids {
                        match id {
                            serde_json::Value::String(s) => qrels.insert(uid.as_str(), s, 1),
                            serde_json::Value::Number(n) => {
                                qrels.insert(uid.as_str(), n.to_string(), 1)
                            }
                            other => {
                                return Err(bad(format!(
                                    "uid `{uid}`: expected document ids as strings, found {other}"
                                )))
                            }
                        }
                    }
                }
                serde_json::Value::Object(grades) => {
                    for (doc, grade) in grades {
                        // The qrels reader's grade rule: `2` or `2.0`, not `1.5`.
                        let g = grade
                            .as_f64()
                            .and_then(trawl_data::trec_format::grade_from_f64)
                            .ok_or_else(|| {
                                bad(format!(
                                    "uid `{uid}`, doc `{doc}`: expected an integer grade, found {grade}"
                                ))
                            })?;
                        qrels.insert(uid.as_str(), doc, g);
                    }
                }
                other => {
                    return Err(bad(format!(
                        "uid `{uid}`: expected a list of doc ids or an object of doc -> grade, found {other}"
                    )))
                }
            }
        }
        Ok(Labels { qrels })
    }

    /// The judgements of one uid.
    pub fn get(&self, uid: &str) -> Option<&HashMap<String, i32>> {
        self.qrels.get(uid)
    }

    pub fn num_queries(&self) -> usize {
        self.qrels.num_queries()
    }

    pub fn qrels(&self) -> &Qrels {
        &self.qrels
    }

    /// Uids with at least one positive grade, sorted (for deterministic sampling).
    pub fn labelled_uids(&self) -> Vec<&str> {
        let mut uids: Vec<&str> = self
            .qrels
            .iter()
            .filter(|(_, docs)| docs.values().any(|&g| g > 0))
            .map(|(q, _)| q.as_str())
            .collect();
        uids.sort_unstable();
        uids
    }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Labels {
        path: path.to_path_buf(),
        line: None,
        message: source.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lists_get_grade_one_and_objects_keep_grades() {
        let l = Labels::parse_json(
            r#"{"q1": ["d1", "d2"], "q2": {"d3": 2, "d4": 0}}"#,
            Path::new("x"),
        )
        .unwrap();
        assert_eq!(l.get("q1").unwrap()["d2"], 1);
        assert_eq!(l.get("q2").unwrap()["d3"], 2);
        assert_eq!(l.labelled_uids(), ["q1", "q2"]);
        assert!(l.get("q3").is_none());
        let l = Labels::parse_json(r#"{"q": {"d": 2.0}}"#, Path::new("x")).unwrap();
        assert_eq!(l.get("q").unwrap()["d"], 2);
        let err = Labels::parse_json(r#"{"q": {"d": 1.5}}"#, Path::new("x")).unwrap_err();
        assert!(
            err.to_string().contains("expected an integer grade"),
            "{err}"
        );
    }

    #[test]
    fn json_errors_name_the_file_and_the_uid() {
        let err = Labels::parse_json(r#"{"q1": {"d1": "high"}}"#, Path::new("labels.json"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("labels.json: uid `q1`, doc `d1`"), "{err}");
        let err = Labels::parse_json("[1,2]", Path::new("l.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a JSON object"), "{err}");
        let err = Labels::parse_json("{\n\"q\": [", Path::new("l.json"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("l.json:2: not valid JSON"), "{err}");
    }

    #[test]
    fn load_detects_json_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels.txt");
        std::fs::write(&p, "  {\"u\": [\"d\"]}").unwrap();
        assert_eq!(Labels::load(&p).unwrap().get("u").unwrap()["d"], 1);
    }
}
