//! BEIR-style metric names: `ndcg@10`, `recall@100`, `mrr@10`, `map@100` (or `map`), `p@10`,
//! `hit@10`, parsed case-insensitively and displayed as BEIR prints them (`nDCG@10`, ...).
//!
//! Semantics are pytrec_eval's (= trec_eval's) measures, which BEIR uses: nDCG@k = `ndcg_cut.k`,
//! Recall@k = `recall.k`, P@k = `P.k`, MAP@k = `map_cut.k` (MAP = `map`), Hit@k = `success.k`;
//! MRR@k is the reciprocal rank of the first relevant document within the top k, as BEIR's own
//! `mrr` computes it (`recip_rank` on the top k).

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// nDCG at k (`None`: over the whole ranking, trec_eval's `ndcg`).
    Ndcg(Option<usize>),
    Recall(usize),
    /// Reciprocal rank within the top k (`None`: whole ranking, `recip_rank`).
    Mrr(Option<usize>),
    /// Mean average precision cut at k (`None`: whole ranking, `map`).
    Map(Option<usize>),
    Precision(usize),
    /// 1 when a relevant document is in the top k (trec_eval's `success`).
    Hit(usize),
}

impl FromStr for Metric {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let lower = s.trim().to_ascii_lowercase();
        let (name, k) = match lower.split_once('@') {
            Some((n, k)) => {
                let k: usize = k
                    .parse()
                    .ok()
                    .filter(|&k| k > 0)
                    .ok_or_else(|| Error::UnknownMetric(s.to_string()))?;
                (n.to_string(), Some(k))
            }
            None => (lower.clone(), None),
        };
        let need = |k: Option<usize>| k.ok_or_else(|| Error::UnknownMetric(s.to_string()));
        Ok(match name.as_str() {
            "ndcg" => Metric::Ndcg(k),
            "recall" | "r" => Metric::Recall(need(k)?),
            "mrr" | "recip_rank" => Metric::Mrr(k),
            "map" => Metric::Map(k),
            "p" | "precision" => Metric::Precision(need(k)?),
            "hit" | "success" => Metric::Hit(need(k)?),
            _ => return Err(Error::UnknownMetric(s.to_string())),
        })
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |f: &mut fmt::Formatter<'_>, name: &str, k: Option<usize>| match k {
            Some(k) => write!(f, "{name}@{k}"),
            None => write!(f, "{name}"),
        };
        match *self {
            Metric::Ndcg(k) => at(f, "nDCG", k),
            Metric::Recall(k) => at(f, "Recall", Some(k)),
            Metric::Mrr(k) => at(f, "MRR", k),
            Metric::Map(k) => at(f, "MAP", k),
            Metric::Precision(k) => at(f, "P", Some(k)),
            Metric::Hit(k) => at(f, "Hit", Some(k)),
        }
    }
}

impl Serialize for Metric {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Parses a comma-separated list such as `ndcg@10,recall@100`.
pub fn parse_list(s: &str) -> Result<Vec<Metric>, Error> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively_and_displays_beir_names() {
        let cases = [
            ("ndcg@10", "nDCG@10"),
            ("NDCG@10", "nDCG@10"),
            ("Recall@100", "Recall@100"),
            ("mrr@10", "MRR@10"),
            ("map@100", "MAP@100"),
            ("map", "MAP"),
            ("P@10", "P@10"),
            ("hit@10", "Hit@10"),
        ];
        for (input, shown) in cases {
            assert_eq!(input.parse::<Metric>().unwrap().to_string(), shown);
        }
        assert_eq!(
            parse_list("ndcg@10, map").unwrap(),
            [Metric::Ndcg(Some(10)), Metric::Map(None)]
        );
    }

    #[test]
    fn rejects_bad_names() {
        for bad in ["ndcg@x", "foo@10", "recall", "p@0", ""] {
            assert!(bad.parse::<Metric>().is_err(), "{bad}");
        }
    }
}
