//! Measures that look at judged/unjudged status or the whole retrieved set: bpref, gm_bpref,
//! infAP, binG, the set_* family, utility, rbp_resid, num_nonrel_judged_ret and relstring
//! (trec_eval's m_bpref.c, m_infap.c, m_binG.c, m_set_*.c, m_utility.c, m_rbp_resid.c,
//! m_num_nonrel_judged_ret.c, m_relstring.c).

use super::precision::MIN_GEO_MEAN;
use crate::ranking::{RankedRels, NONPOOL, UNJUDGED};

const INFAP_EPSILON: f64 = 0.00001;

/// Binary preference.
pub fn bpref(rr: &RankedRels, level: i32) -> f64 {
    let num_nonrel: i64 = rr.rel_levels.iter().take(level.max(0) as usize).sum();
    let mut nonrel_so_far = 0i64;
    let mut bpref = 0.0;
    for &r in &rr.rels {
        if r == NONPOOL || r == UNJUDGED {
            continue;
        }
        if r >= 0 && r < level {
            nonrel_so_far += 1;
        } else if nonrel_so_far > 0 {
            bpref += 1.0 - nonrel_so_far.min(rr.num_rel) as f64 / num_nonrel.min(rr.num_rel) as f64;
        } else {
            bpref += 1.0;
        }
    }
    if rr.num_rel > 0 {
        bpref /= rr.num_rel as f64;
    }
    bpref
}

/// log of bpref, floored, for the geometric mean.
pub fn gm_bpref(rr: &RankedRels, level: i32) -> f64 {
    bpref(rr, level).max(MIN_GEO_MEAN).ln()
}

/// Inferred AP (Yilmaz and Aslam).
pub fn inf_ap(rr: &RankedRels, level: i32) -> f64 {
    let (mut nonrel, mut rel, mut unjudged) = (0i64, 0i64, 0i64);
    let mut ap = 0.0;
    for (j, &r) in rr.rels.iter().enumerate() {
        if r == NONPOOL {
            continue;
        }
        if r == UNJUDGED {
            unjudged += 1;
            continue;
        }
        if r >= 0 && r < level {
            nonrel += 1;
            continue;
        }
        rel += 1;
        if j == 0 {
            ap += 1.0;
        } else {
            let fj = j as f64;
            ap += 1.0 / (fj + 1.0)
                + (fj / (fj + 1.0))
                    * ((rel - 1 + nonrel + unjudged) as f64 / fj)
                    // One quotient, as m_infAP.c groups it (the last bit of the value depends on it).
                    * (((rel - 1) as f64 + INFAP_EPSILON)
                        / ((rel - 1 + nonrel) as f64 + 2.0 * INFAP_EPSILON));
        }
    }
    if rr.num_rel > 0 {
        ap /= rr.num_rel as f64;
    }
    ap
}

/// Binary G: each relevant doc contributes 1 / log2(2 + nonrelevant docs before it).
pub fn bin_g(rr: &RankedRels, level: i32) -> f64 {
    let mut rel_so_far = 0i64;
    let mut sum = 0.0;
    for (i, &r) in rr.rels.iter().enumerate() {
        if r >= level {
            rel_so_far += 1;
            sum += 1.0 / ((3 + i as i64 - rel_so_far) as f64).log2();
        }
    }
    if rel_so_far > 0 {
        sum / rr.num_rel as f64
    } else {
        0.0
    }
}

pub fn set_p(rr: &RankedRels) -> f64 {
    if rr.num_ret > 0 {
        rr.num_rel_ret as f64 / rr.num_ret as f64
    } else {
        0.0
    }
}

pub fn set_recall(rr: &RankedRels) -> f64 {
    if rr.num_rel > 0 {
        rr.num_rel_ret as f64 / rr.num_rel as f64
    } else {
        0.0
    }
}

pub fn set_relative_p(rr: &RankedRels) -> f64 {
    if rr.num_ret > 0 && rr.num_rel > 0 {
        rr.num_rel_ret as f64 / rr.num_ret.min(rr.num_rel) as f64
    } else {
        0.0
    }
}

pub fn set_map(rr: &RankedRels) -> f64 {
    if rr.num_ret > 0 && rr.num_rel > 0 {
        (rr.num_rel_ret as f64 * rr.num_rel_ret as f64) / (rr.num_ret as f64 * rr.num_rel as f64)
    } else {
        0.0
    }
}

/// F-measure of the retrieved set with weight `beta` (trec_eval's parameter, default 1).
pub fn set_f(rr: &RankedRels, beta: f64) -> f64 {
    if rr.num_ret > 0 && rr.num_rel > 0 && rr.num_rel_ret > 0 {
        let p = rr.num_rel_ret as f64 / rr.num_ret as f64;
        let r = rr.num_rel_ret as f64 / rr.num_rel as f64;
        (beta + 1.0) * p * r / (beta * p + r)
    } else {
        0.0
    }
}

/// Utility p1*a + p2*b + p3*c + p4*d of the contingency table.
pub fn utility(rr: &RankedRels, p: &[f64], num_docs_in_coll: i64) -> f64 {
    p[0] * rr.num_rel_ret as f64
        + p[1] * (rr.num_ret - rr.num_rel_ret) as f64
        + p[2] * (rr.num_rel - rr.num_rel_ret) as f64
        + p[3] * (num_docs_in_coll + rr.num_rel_ret - rr.num_ret - rr.num_rel) as f64
}

/// Residual of rank-biased precision (p = 0.9): the weight of the unjudged ranks.
pub fn rbp_resid(rr: &RankedRels) -> f64 {
    let p = 0.9;
    let (mut unj, mut sum, mut cur) = (0i64, 0.0, 1.0);
    for &r in &rr.rels {
        if r < 0 {
            unj += 1;
            sum += cur;
        }
        cur *= p;
    }
    if unj > 0 {
        cur + (1.0 - p) * sum
    } else {
        0.0
    }
}

pub fn num_nonrel_judged_ret(rr: &RankedRels) -> f64 {
    (rr.num_ret - rr.num_nonpool - rr.num_unjudged_in_pool - rr.num_rel_ret) as f64
}

/// The grades of the first `len` documents as characters: digit, '>' above 9, '-' not pooled,
/// '.' pooled but unjudged.
pub fn relstring(rr: &RankedRels, len: f64) -> String {
    let len = (len as i64).min(rr.num_ret).max(0) as usize;
    rr.rels[..len]
        .iter()
        .map(|&r| match r {
            r if r > 9 => '>',
            r if r >= 0 => (b'0' + r as u8) as char,
            NONPOOL => '-',
            UNJUDGED => '.',
            _ => '<',
        })
        .collect()
}
