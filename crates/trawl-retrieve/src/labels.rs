//! Reward labels: query uid -> relevant document ids with grades.
//!
//! Accepted files: TREC qrels (`qid 0 docid grade`), BEIR qrels TSV (with header) and JSON, either
//! `{"uid": ["doc", ...]}` (grade 1 each) or `{"uid": {"doc": grade, ...}}`, and Python pickles
//! of the same shapes as RL reward code keeps them (a dict uid -> list / set / tuple of doc ids,
//! or -> {doc id: grade}), read by trawl-data's safe pickle reader (no pickle code runs). Qrels files go
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

    /// Reads a labels file: a pickle when it starts with pickle's protocol opcode, JSON when the
    /// name ends in `.json` or the content starts with `{`, TREC or BEIR qrels otherwise.
    pub fn load(path: &Path) -> Result<Self> {
        let mut head = [0u8; 2];
        {
            use std::io::Read;
            let mut f = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
            let n = f.read(&mut head).map_err(|e| io_error(path, e))?;
            if trawl_data::pickle::looks_like_pickle(&head[..n]) {
                let v = trawl_data::pickle::read_pickle(path)?;
                return Self::from_pickle(v, path);
            }
        }
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

    /// Labels from a pickled dict: uid -> list / set / tuple of doc ids (grade 1 each) or ->
    /// dict {doc id: grade} (int, bool or an integral float). Ids may be str or int.
    pub fn from_pickle(value: trawl_data::pickle::PickleValue, origin: &Path) -> Result<Self> {
        use trawl_data::pickle::PickleValue as P;
        let bad = |message: String| Error::Labels {
            path: origin.to_path_buf(),
            line: None,
            message,
        };
        let P::Dict(map) = value else {
            return Err(bad(format!(
                "expected a pickled dict {{query id: [doc ids]}} or {{query id: {{doc id: grade}}}}, found a {}",
                value.type_name()
            )));
        };
        let mut qrels = Qrels::new();
        for (uid, docs) in map {
            let uid = uid.as_id().ok_or_else(|| {
                bad(format!(
                    "a query id of type {}: expected str or int",
                    uid.type_name()
                ))
            })?;
            match docs {
                P::List(ids) | P::Set(ids) | P::Tuple(ids) => {
                    for id in ids {
                        let d = id.as_id().ok_or_else(|| {
                            bad(format!(
                                "uid `{uid}`: expected doc ids as str or int, found a {}",
                                id.type_name()
                            ))
                        })?;
                        qrels.insert(uid.as_str(), d, 1);
                    }
                }
                P::Dict(grades) => {
                    for (doc, grade) in grades {
                        let d = doc.as_id().ok_or_else(|| {
                            bad(format!(
                                "uid `{uid}`: expected doc ids as str or int, found a {}",
                                doc.type_name()
                            ))
                        })?;
                        let g = match grade {
                            P::Int(i) => i32::try_from(i).ok(),
                            P::Bool(b) => Some(i32::from(b)),
                            P::Float(f) => trawl_data::trec_format::grade_from_f64(f),
                            _ => None,
                        }
                        .ok_or_else(|| {
                            bad(format!(
                                "uid `{uid}`, doc `{d}`: expected an integer grade, found {grade:?}"
                            ))
                        })?;
                        qrels.insert(uid.as_str(), d, g);
                    }
                }
                other => {
                    return Err(bad(format!(
                        "uid `{uid}`: expected a list / set of doc ids or a dict doc -> grade, found a {}",
                        other.type_name()
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
    fn pickled_labels_as_rl_code_keeps_them() {
        // Written by bench/faiss_fixtures.py: the same labels as a dict of lists (protocol 4),
        // of sets (protocol 3: set rebuilt through builtins.set) and of {doc: grade}
        // (protocol 5).
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../trawl-vector/tests/data/faiss");
        let lists = Labels::load(&dir.join("labels.pkl")).unwrap();
        let sets = Labels::load(&dir.join("labels_set.pkl")).unwrap();
        let graded = Labels::load(&dir.join("labels_graded.pkl")).unwrap();
        assert_eq!(lists.num_queries(), 100);
        assert_eq!(lists, sets);
        let q = lists.get("q0").unwrap();
        assert_eq!(q.len(), 2);
        assert!(q.values().all(|&g| g == 1));
        let g = graded.get("q0").unwrap();
        let mut grades: Vec<i32> = g.values().copied().collect();
        grades.sort_unstable();
        assert_eq!(grades, [1, 2]);
        assert_eq!(
            g.keys().collect::<std::collections::HashSet<_>>(),
            q.keys().collect()
        );
        // A pickle of the wrong shape names what it found.
        let e = Labels::load(&dir.join("id_mapping.pkl"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("found a list"), "{e}");
    }

    #[test]
    fn load_detects_json_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels.txt");
        std::fs::write(&p, "  {\"u\": [\"d\"]}").unwrap();
        assert_eq!(Labels::load(&p).unwrap().get("u").unwrap()["d"], 1);
    }
}
