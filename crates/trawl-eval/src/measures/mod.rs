//! trec_eval's measures: the catalogue (names, order, parameters, output form) and the dispatch
//! to their implementations.
//!
//! Measures are computed and printed in trec_eval's table order (measures.c), whatever order
//! `-m` named them in. Parameterised forms follow trec_eval: `-m P.5,7,3` (integer cutoffs,
//! sorted, printed `P_3`...), `-m iprec_at_recall..10,.20` (fractions, printed `_0.10`),
//! `-m utility.2,-1,0,0` (plain parameters, printed `utility_2,-1,0,0`), `-m ndcg.1=3,2=9`
//! (gain pairs, printed `ndcg_1=3,2=9`).

mod gain;
mod judged;
mod precision;

pub use gain::{dcg_and_ideal, ndcg, ndcg_at};
pub use precision::{average_precision, map_at, precision_at, recall_at, recip_rank, success_at};

use crate::error::{Error, Result};
use crate::ranking::RankedRels;

/// How a measure's per-query values combine into the summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    /// Arithmetic mean over queries.
    Mean,
    /// Sum over queries, printed as an integer (num_ret, num_rel, ...).
    Sum,
    /// exp(mean of logs) (gm_map, gm_bpref); per-query lines are not printed.
    GeoMean,
    /// Number of queries (num_q).
    Count,
    /// The run id (runid).
    RunId,
    /// Printed per query only (relstring).
    None,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    Single,
    CutLong(&'static [i64]),
    CutDouble(&'static [f64]),
    Doubles(&'static [f64]),
    Pairs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    RunId,
    NumQ,
    NumRet,
    NumRel,
    NumRelRet,
    Map,
    GmMap,
    Rprec,
    Bpref,
    RecipRank,
    IprecAtRecall,
    P,
    Relstring,
    Recall,
    InfAp,
    GmBpref,
    RprecMult,
    Utility,
    Pt11Avg,
    BinG,
    G,
    Dcg,
    IdealDcg,
    Ndcg,
    NdcgRel,
    Rndcg,
    NdcgCut,
    MapCut,
    RelativeP,
    Success,
    SetP,
    SetRelativeP,
    SetRecall,
    SetMap,
    SetF,
    NumNonrelJudgedRet,
    Rbp,
    RbpResid,
    Unj,
}

const CUTS: &[i64] = &[5, 10, 15, 20, 30, 100, 200, 500, 1000];
const RECALL_POINTS: &[f64] = &[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
const RPREC_MULTS: &[f64] = &[0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0];

/// trec_eval's measure table in its order; `None` = known to trec_eval, not implemented here.
/// A measure's kind, parameter shape and summary rule.
type Def = (Kind, Shape, Summary);

const TABLE: &[(&str, Option<Def>)] = {
    use Kind::*;
    use Shape::*;
    use Summary::{Count, GeoMean, Mean, RunId as Rid, Sum};
    &[
        ("runid", Some((RunId, Single, Rid))),
        ("num_q", Some((NumQ, Single, Count))),
        ("num_ret", Some((NumRet, Single, Sum))),
        ("num_rel", Some((NumRel, Single, Sum))),
        ("num_rel_ret", Some((NumRelRet, Single, Sum))),
        ("map", Some((Map, Single, Mean))),
        ("gm_map", Some((GmMap, Single, GeoMean))),
        ("Rprec", Some((Rprec, Single, Mean))),
        ("bpref", Some((Bpref, Single, Mean))),
        ("recip_rank", Some((RecipRank, Single, Mean))),
        (
            "iprec_at_recall",
            Some((IprecAtRecall, CutDouble(RECALL_POINTS), Mean)),
        ),
        ("P", Some((P, CutLong(CUTS), Mean))),
        (
            "relstring",
            Some((Relstring, Doubles(&[10.0]), Summary::None)),
        ),
        ("recall", Some((Recall, CutLong(CUTS), Mean))),
        ("infAP", Some((InfAp, Single, Mean))),
        ("gm_bpref", Some((GmBpref, Single, GeoMean))),
        (
            "Rprec_mult",
            Some((RprecMult, CutDouble(RPREC_MULTS), Mean)),
        ),
        (
            "utility",
            Some((Utility, Doubles(&[1.0, -1.0, 0.0, 0.0]), Mean)),
        ),
        ("11pt_avg", Some((Pt11Avg, Doubles(RECALL_POINTS), Mean))),
        ("binG", Some((BinG, Single, Mean))),
        ("G", Some((G, Pairs, Mean))),
        ("dcg", Some((Dcg, Pairs, Mean))),
        ("ideal_dcg", Some((IdealDcg, Pairs, Mean))),
        ("ndcg", Some((Ndcg, Pairs, Mean))),
        ("ndcg_rel", Some((NdcgRel, Pairs, Mean))),
        ("Rndcg", Some((Rndcg, Pairs, Mean))),
        ("ndcg_cut", Some((NdcgCut, CutLong(CUTS), Mean))),
        ("map_cut", Some((MapCut, CutLong(CUTS), Mean))),
        ("relative_P", Some((RelativeP, CutLong(CUTS), Mean))),
        ("success", Some((Success, CutLong(&[1, 5, 10]), Mean))),
        ("set_P", Some((SetP, Single, Mean))),
        ("set_relative_P", Some((SetRelativeP, Single, Mean))),
        ("set_recall", Some((SetRecall, Single, Mean))),
        ("set_map", Some((SetMap, Single, Mean))),
        ("set_F", Some((SetF, Doubles(&[1.0]), Mean))),
        (
            "num_nonrel_judged_ret",
            Some((NumNonrelJudgedRet, Single, Sum)),
        ),
        ("prefs_num_prefs_poss", None),
        ("prefs_num_prefs_ful", None),
        ("prefs_num_prefs_ful_ret", None),
        ("prefs_simp", None),
        ("prefs_pair", None),
        ("prefs_avgjg", None),
        ("prefs_avgjg_Rnonrel", None),
        ("prefs_simp_ret", None),
        ("prefs_pair_ret", None),
        ("prefs_avgjg_ret", None),
        ("prefs_avgjg_Rnonrel_ret", None),
        ("prefs_simp_imp", None),
        ("prefs_pair_imp", None),
        ("prefs_avgjg_imp", None),
        ("map_avgjg", None),
        ("P_avgjg", None),
        ("Rprec_mult_avgjg", None),
        ("yaap", None),
        ("rbp", Some((Rbp, Pairs, Mean))),
        ("rbp_resid", Some((RbpResid, Single, Mean))),
        ("unj", Some((Unj, CutLong(&[5, 10, 20]), Mean))),
    ]
};

const NICKNAMES: &[(&str, &[&str])] = &[
    (
        "official",
        &[
            "runid",
            "num_q",
            "num_ret",
            "num_rel",
            "num_rel_ret",
            "map",
            "gm_map",
            "Rprec",
            "bpref",
            "recip_rank",
            "iprec_at_recall",
            "P",
        ],
    ),
    (
        "set",
        &[
            "runid",
            "num_q",
            "num_ret",
            "num_rel",
            "num_rel_ret",
            "utility",
            "set_P",
            "set_recall",
            "set_relative_P",
            "set_map",
            "set_F",
        ],
    ),
    (
        "all_trec",
        &[
            "runid",
            "num_q",
            "num_ret",
            "num_rel",
            "num_rel_ret",
            "map",
            "gm_map",
            "Rprec",
            "bpref",
            "recip_rank",
            "iprec_at_recall",
            "P",
            "relstring",
            "recall",
            "unj",
            "rbp",
            "rbp_resid",
            "infAP",
            "gm_bpref",
            "utility",
            "11pt_avg",
            "ndcg",
            "relative_P",
            "Rprec_mult",
            "success",
            "map_cut",
            "ndcg_cut",
            "ndcg_rel",
            "Rndcg",
            "binG",
            "G",
            "set_P",
            "set_recall",
            "set_relative_P",
            "set_map",
            "set_F",
            "num_nonrel_judged_ret",
        ],
    ),
    ("all_prefs", &["prefs_num_prefs_poss"]),
    ("prefs", &["prefs_num_prefs_poss"]),
    ("qrels_jg", &["map_avgjg"]),
];

#[derive(Debug, Clone, PartialEq)]
enum Params {
    None,
    Longs(Vec<i64>),
    Doubles(Vec<f64>),
    Pairs(Vec<(String, f64)>),
}

/// One requested trec_eval measure with its parameters and the names of its output values.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    kind: Kind,
    params: Params,
    /// Names of the values it produces, e.g. `P_5`, `P_10`.
    pub value_names: Vec<String>,
    pub summary: Summary,
}

/// Context shared by all measures of one evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub relevance_level: i32,
    pub num_docs_in_coll: i64,
    pub recall_rounding: RecallRounding,
}

/// How iprec_at_recall and 11pt_avg turn a recall point into a number of relevant documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecallRounding {
    /// trec_eval 10.0: `lround(point * num_rel)`.
    #[default]
    Nearest,
    /// trec_eval 9 (and so pytrec_eval): `(long) (point * num_rel + 0.9)`.
    Legacy,
}

/// C `atol`: optional sign and leading digits, the rest ignored.
fn atol(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let v: i64 = digits.parse().unwrap_or(0);
    if neg {
        -v
    } else {
        v
    }
}

/// C `atof`: the longest prefix that is a number, 0 if none.
fn atof(s: &str) -> f64 {
    let s = s.trim_start();
    (1..=s.len())
        .rev()
        .filter(|&n| s.is_char_boundary(n))
        .find_map(|n| s[..n].parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Parses the measure arguments of `-m` (each `name` or `name.params`, nicknames allowed) into the
/// measures to compute, in trec_eval's order. No arguments means `official`.
pub fn parse_measures(args: &[String]) -> Result<Vec<Measure>> {
    let mut marked = vec![false; TABLE.len()];
    let mut params: Vec<(String, String)> = Vec::new();
    let defaults = [String::from("official")];
    let args = if args.is_empty() { &defaults[..] } else { args };
    for arg in args {
        let (name, param) = match arg.split_once('.') {
            Some((n, p)) => {
                if p.is_empty() {
                    return Err(Error::BadParameter {
                        measure: n.to_string(),
                        message: "empty parameter list after '.'".into(),
                    });
                }
                params.push((n.to_string(), p.to_string()));
                (n, Some(p))
            }
            None => (arg.as_str(), None),
        };
        let _ = param;
        let names: Vec<&str> = match NICKNAMES.iter().find(|(n, _)| *n == name) {
            Some((_, list)) => list.to_vec(),
            None => vec![name],
        };
        for n in names {
            match TABLE.iter().position(|(t, _)| *t == n) {
                Some(i) if TABLE[i].1.is_some() => marked[i] = true,
                _ => return Err(Error::NotImplemented(n.to_string())),
            }
        }
    }
    let mut out = Vec::new();
    for (i, (name, def)) in TABLE.iter().enumerate() {
        let (true, Some((kind, shape, summary))) = (marked[i], def) else {
            continue;
        };
        let given = params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.as_str());
        out.push(build(name, *kind, *shape, *summary, given)?);
    }
    Ok(out)
}

fn build(
    name: &str,
    kind: Kind,
    shape: Shape,
    summary: Summary,
    given: Option<&str>,
) -> Result<Measure> {
    let bad = |message: &str| Error::BadParameter {
        measure: name.to_string(),
        message: message.to_string(),
    };
    let (params, value_names) = match shape {
        Shape::Single => (Params::None, vec![name.to_string()]),
        Shape::CutLong(default) => {
            let mut cuts: Vec<i64> = match given {
                Some(p) => p.split(',').map(atol).collect(),
                None => default.to_vec(),
            };
            cuts.sort_unstable();
            if cuts[0] <= 0 {
                return Err(bad("cutoffs must be positive"));
            }
            if cuts.windows(2).any(|w| w[0] == w[1]) {
                return Err(bad("duplicate cutoffs"));
            }
            let names = cuts.iter().map(|c| format!("{name}_{c}")).collect();
            (Params::Longs(cuts), names)
        }
        Shape::CutDouble(default) => {
            let mut cuts: Vec<f64> = match given {
                Some(p) => p.split(',').map(atof).collect(),
                None => default.to_vec(),
            };
            cuts.sort_by(f64::total_cmp);
            if cuts.windows(2).any(|w| w[0] == w[1]) {
                return Err(bad("duplicate cutoffs"));
            }
            let names = cuts.iter().map(|c| format!("{name}_{c:3.2}")).collect();
            (Params::Doubles(cuts), names)
        }
        Shape::Doubles(default) => match given {
            Some(p) => (
                Params::Doubles(p.split(',').map(atof).collect()),
                vec![format!("{name}_{p}")],
            ),
            None => (Params::Doubles(default.to_vec()), vec![name.to_string()]),
        },
        Shape::Pairs => match given {
            Some(p) => {
                let mut pairs = Vec::new();
                for item in p.split(',') {
                    let (n, v) = item.split_once('=').ok_or_else(|| {
                        bad("parameters must be `level=gain` pairs, e.g. 1=3,2=9")
                    })?;
                    pairs.push((n.to_string(), atof(v)));
                }
                (Params::Pairs(pairs), vec![format!("{name}_{p}")])
            }
            None => (Params::Pairs(Vec::new()), vec![name.to_string()]),
        },
    };
    if kind == Kind::Utility && matches!(&params, Params::Doubles(d) if d.len() != 4) {
        return Err(bad("utility needs exactly 4 coefficients"));
    }
    Ok(Measure {
        kind,
        params,
        value_names,
        summary,
    })
}

impl Measure {
    /// True for the per-query-only string measure relstring.
    pub fn is_relstring(&self) -> bool {
        self.kind == Kind::Relstring
    }

    /// True when trec_eval prints values as integers.
    pub fn prints_long(&self) -> bool {
        matches!(self.summary, Summary::Sum | Summary::Count)
    }

    /// The relstring of one query (empty for other measures).
    pub fn relstring(&self, rr: &RankedRels) -> String {
        match &self.params {
            Params::Doubles(d) if self.is_relstring() => judged::relstring(rr, d[0]),
            _ => String::new(),
        }
    }

    /// The summary value trec_eval 10.0 prints under `-c` when it differs from the sum over the
    /// evaluated queries. Only `num_rel`: its `calc_avg` (m_num_rel.c, `te_calc_avg_num_rel`)
    /// recounts the qrels lines with `rel > 0` over every qrels query, ignoring `-l` (and `-M`),
    /// so with `-c -l 2` the `all` line counts grade-1 documents that no query's value counts.
    pub fn complete_summary(&self, qrels: &trawl_data::trec_format::QrelsTable) -> Option<f64> {
        (self.kind == Kind::NumRel).then(|| {
            qrels
                .queries
                .iter()
                .map(|q| q.docs.iter().filter(|(_, g)| *g > 0).count())
                .sum::<usize>() as f64
        })
    }

    /// Values set to zero for a query that has no results under `-c`.
    pub fn zeroed_when_missing(&self) -> bool {
        matches!(
            self.kind,
            Kind::NumRet | Kind::Utility | Kind::Unj | Kind::RbpResid
        )
    }

    /// Computes this measure's values for one query into `out` (length = value_names.len()).
    pub fn compute(&self, rr: &RankedRels, ctx: &Context, out: &mut [f64]) {
        let lv = ctx.relevance_level;
        let longs = || match &self.params {
            Params::Longs(v) => v.as_slice(),
            _ => &[],
        };
        let doubles = || match &self.params {
            Params::Doubles(v) => v.as_slice(),
            _ => &[],
        };
        let pairs = || match &self.params {
            Params::Pairs(v) => v.as_slice(),
            _ => &[],
        };
        use Kind::*;
        match self.kind {
            RunId | NumQ | Relstring => {}
            NumRet => out[0] = rr.num_ret as f64,
            NumRel => out[0] = rr.num_rel as f64,
            NumRelRet => out[0] = rr.num_rel_ret as f64,
            Map => out[0] = precision::average_precision(rr, lv),
            GmMap => out[0] = precision::gm_ap(rr, lv),
            Rprec => out[0] = precision::r_prec(rr, lv),
            Bpref => out[0] = judged::bpref(rr, lv),
            RecipRank => out[0] = precision::recip_rank(rr, lv, usize::MAX),
            IprecAtRecall => {
                precision::iprec_at_recall(rr, lv, doubles(), ctx.recall_rounding, out)
            }
            P => precision::precision_at(rr, lv, longs(), out),
            Recall => precision::recall_at(rr, lv, longs(), out),
            InfAp => out[0] = judged::inf_ap(rr, lv),
            GmBpref => out[0] = judged::gm_bpref(rr, lv),
            RprecMult => precision::rprec_mult(rr, lv, doubles(), out),
            Utility => out[0] = judged::utility(rr, doubles(), ctx.num_docs_in_coll),
            Pt11Avg => out[0] = precision::eleven_pt_avg(rr, lv, doubles(), ctx.recall_rounding),
            BinG => out[0] = judged::bin_g(rr, lv),
            G => out[0] = gain::g_measure(rr, pairs()),
            Dcg => out[0] = gain::dcg_and_ideal(rr, pairs()).0,
            IdealDcg => out[0] = gain::dcg_and_ideal(rr, pairs()).1,
            Ndcg => out[0] = gain::ndcg(rr, pairs()),
            NdcgRel => out[0] = gain::ndcg_rel(rr, pairs()),
            Rndcg => out[0] = gain::r_ndcg(rr, pairs()),
            NdcgCut => gain::ndcg_at(rr, longs(), out),
            MapCut => precision::map_at(rr, lv, longs(), out),
            RelativeP => precision::relative_precision_at(rr, lv, longs(), out),
            Success => precision::success_at(rr, lv, longs(), out),
            SetP => out[0] = judged::set_p(rr),
            SetRelativeP => out[0] = judged::set_relative_p(rr),
            SetRecall => out[0] = judged::set_recall(rr),
            SetMap => out[0] = judged::set_map(rr),
            SetF => out[0] = judged::set_f(rr, doubles()[0]),
            NumNonrelJudgedRet => out[0] = judged::num_nonrel_judged_ret(rr),
            Rbp => out[0] = gain::rbp(rr, pairs()),
            RbpResid => out[0] = judged::rbp_resid(rr),
            Unj => precision::unjudged_at(rr, longs(), out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(args: &[&str]) -> Vec<String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_measures(&args)
            .unwrap()
            .into_iter()
            .flat_map(|m| m.value_names)
            .collect()
    }

    #[test]
    fn parameters_are_sorted_and_named_like_trec_eval() {
        assert_eq!(names(&["P.5,7,3"]), ["P_3", "P_5", "P_7"]);
        assert_eq!(
            names(&["ndcg_cut.10,20,23.4"]),
            ["ndcg_cut_10", "ndcg_cut_20", "ndcg_cut_23"]
        );
        assert_eq!(
            names(&["iprec_at_recall..10,.20"]),
            ["iprec_at_recall_0.10", "iprec_at_recall_0.20"]
        );
        assert_eq!(names(&["utility.2,-1,0,0"]), ["utility_2,-1,0,0"]);
        assert_eq!(names(&["ndcg.1=3,2=9"]), ["ndcg_1=3,2=9"]);
        // Table order, not command-line order.
        assert_eq!(names(&["recip_rank", "map"]), ["map", "recip_rank"]);
    }

    #[test]
    fn unknown_and_unimplemented_measures_are_named() {
        let e = parse_measures(&["foo".to_string()]).unwrap_err();
        assert_eq!(e.to_string(), "measure 'foo' is not implemented by trawl");
        let e = parse_measures(&["prefs_simp".to_string()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "measure 'prefs_simp' is not implemented by trawl"
        );
        assert!(parse_measures(&["P.0".to_string()]).is_err());
        assert!(parse_measures(&["P.5,5".to_string()]).is_err());
        assert!(parse_measures(&["P.".to_string()]).is_err());
    }
}
