//! Rank-based precision/recall measures: map, gm_map, Rprec, recip_rank, P, recall, map_cut,
//! relative_P, success, unj, iprec_at_recall, Rprec_mult, 11pt_avg. Each mirrors the trec_eval
//! m_*.c file of the same name, including its edge cases (zero relevant documents, cutoffs
//! beyond the ranking).

use super::RecallRounding;
use crate::ranking::{RankedRels, NONPOOL, UNJUDGED};

/// Geometric-mean measures store log(max(x, MIN_GEO_MEAN)) per query.
pub const MIN_GEO_MEAN: f64 = 0.00001;

fn is_rel(rel: i32, level: i32) -> bool {
    rel >= level
}

/// Average precision (m_map.c).
pub fn average_precision(rr: &RankedRels, level: i32) -> f64 {
    let mut rel_so_far = 0i64;
    let mut sum = 0.0;
    for (i, &r) in rr.rels.iter().enumerate() {
        if is_rel(r, level) {
            rel_so_far += 1;
            sum += rel_so_far as f64 / (i + 1) as f64;
        }
    }
    if rel_so_far > 0 {
        sum / rr.num_rel as f64
    } else {
        0.0
    }
}

/// log of average precision, floored (m_gm_map.c).
pub fn gm_ap(rr: &RankedRels, level: i32) -> f64 {
    average_precision(rr, level).max(MIN_GEO_MEAN).ln()
}

/// Precision after num_rel documents (m_Rprec.c).
pub fn r_prec(rr: &RankedRels, level: i32) -> f64 {
    let n = rr.num_ret.min(rr.num_rel) as usize;
    if n == 0 {
        return 0.0;
    }
    let rel = rr.rels[..n].iter().filter(|&&r| is_rel(r, level)).count();
    rel as f64 / rr.num_rel as f64
}

/// Reciprocal rank of the first relevant document within the first `cut` ranks.
pub fn recip_rank(rr: &RankedRels, level: i32, cut: usize) -> f64 {
    rr.rels
        .iter()
        .take(cut)
        .position(|&r| is_rel(r, level))
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// The shared loop of the long-cutoff measures: calls `at(cutoff_index, i, state)` whenever the
/// ranking reaches a cutoff (i docs seen) or ends before it.
fn cutoff_loop(
    rr: &RankedRels,
    cutoffs: &[i64],
    out: &mut [f64],
    mut step: impl FnMut(i32, usize),
    mut value: impl FnMut(i64) -> f64,
) {
    let mut ci = 0;
    for (i, &r) in rr.rels.iter().enumerate() {
        if i as i64 == cutoffs[ci] {
            out[ci] = value(i as i64);
            ci += 1;
            if ci == cutoffs.len() {
                return;
            }
        }
        step(r, i);
    }
    while ci < cutoffs.len() {
        out[ci] = value(cutoffs[ci]);
        ci += 1;
    }
}

/// P at cutoffs (m_P.c).
pub fn precision_at(rr: &RankedRels, level: i32, cutoffs: &[i64], out: &mut [f64]) {
    let rel = std::cell::Cell::new(0i64);
    cutoff_loop(
        rr,
        cutoffs,
        out,
        |r, _| rel.set(rel.get() + is_rel(r, level) as i64),
        |k| rel.get() as f64 / k as f64,
    );
}

/// recall at cutoffs (m_recall.c).
pub fn recall_at(rr: &RankedRels, level: i32, cutoffs: &[i64], out: &mut [f64]) {
    if rr.num_rel == 0 {
        return;
    }
    let rel = std::cell::Cell::new(0i64);
    cutoff_loop(
        rr,
        cutoffs,
        out,
        |r, _| rel.set(rel.get() + is_rel(r, level) as i64),
        |_| rel.get() as f64 / rr.num_rel as f64,
    );
}

/// relative_P at cutoffs: relevant retrieved / min(cutoff, num_rel) (m_rel_P.c).
pub fn relative_precision_at(rr: &RankedRels, level: i32, cutoffs: &[i64], out: &mut [f64]) {
    if rr.num_rel == 0 {
        return;
    }
    let rel = std::cell::Cell::new(0i64);
    cutoff_loop(
        rr,
        cutoffs,
        out,
        |r, _| rel.set(rel.get() + is_rel(r, level) as i64),
        |k| rel.get() as f64 / k.min(rr.num_rel) as f64,
    );
}

/// success at cutoffs: 1 if a relevant document is in the first k (m_success.c).
pub fn success_at(rr: &RankedRels, level: i32, cutoffs: &[i64], out: &mut [f64]) {
    let rel = std::cell::Cell::new(0i64);
    cutoff_loop(
        rr,
        cutoffs,
        out,
        |r, _| rel.set(rel.get() + is_rel(r, level) as i64),
        |_| if rel.get() > 0 { 1.0 } else { 0.0 },
    );
}

/// Fraction of unjudged (not in the pool, or pooled but unjudged) documents at cutoffs
/// (m_unjudged.c).
pub fn unjudged_at(rr: &RankedRels, cutoffs: &[i64], out: &mut [f64]) {
    let unj = std::cell::Cell::new(0i64);
    cutoff_loop(
        rr,
        cutoffs,
        out,
        |r, _| unj.set(unj.get() + (r == NONPOOL || r == UNJUDGED) as i64),
        |k| unj.get() as f64 / k as f64,
    );
}

/// map at cutoffs (m_map_cut.c).
pub fn map_at(rr: &RankedRels, level: i32, cutoffs: &[i64], out: &mut [f64]) {
    if rr.num_rel == 0 {
        return;
    }
    let state = std::cell::Cell::new((0i64, 0.0f64));
    cutoff_loop(
        rr,
        cutoffs,
        out,
        |r, i| {
            if is_rel(r, level) {
                let (n, s) = state.get();
                state.set((n + 1, s + (n + 1) as f64 / (i + 1) as f64));
            }
        },
        |_| state.get().1 / rr.num_rel as f64,
    );
}

/// Interpolated precision at recall points; `emit(cut_index, value)` (m_iprec_at_recall.c).
fn interpolated(
    rr: &RankedRels,
    level: i32,
    percents: &[f64],
    rounding: RecallRounding,
    mut emit: impl FnMut(usize, f64),
) {
    let cutoffs: Vec<i64> = percents
        .iter()
        .map(|p| match rounding {
            RecallRounding::Nearest => (p * rr.num_rel as f64).round() as i64,
            RecallRounding::Legacy => (p * rr.num_rel as f64 + 0.9) as i64,
        })
        .collect();
    let mut cc = cutoffs.len() as i64 - 1;
    while cc >= 0 && cutoffs[cc as usize] > rr.num_rel_ret {
        cc -= 1;
    }
    let mut int_precis = rr.num_rel_ret as f64 / rr.num_ret as f64;
    let mut rel_so_far = rr.num_rel_ret;
    let mut i = rr.num_ret;
    while i > 0 && rel_so_far > 0 {
        let precis = rel_so_far as f64 / i as f64;
        if int_precis < precis {
            int_precis = precis;
        }
        if is_rel(rr.rels[(i - 1) as usize], level) {
            while cc >= 0 && rel_so_far == cutoffs[cc as usize] {
                emit(cc as usize, int_precis);
                cc -= 1;
            }
            rel_so_far -= 1;
        }
        i -= 1;
    }
    while cc >= 0 {
        emit(cc as usize, int_precis);
        cc -= 1;
    }
}

/// iprec_at_recall at the given recall fractions.
pub fn iprec_at_recall(
    rr: &RankedRels,
    level: i32,
    percents: &[f64],
    rounding: RecallRounding,
    out: &mut [f64],
) {
    interpolated(rr, level, percents, rounding, |i, v| out[i] = v);
}

/// 11pt_avg: mean interpolated precision over the recall points (m_11pt_avg.c).
pub fn eleven_pt_avg(
    rr: &RankedRels,
    level: i32,
    percents: &[f64],
    rounding: RecallRounding,
) -> f64 {
    let mut sum = 0.0;
    interpolated(rr, level, percents, rounding, |_, v| sum += v);
    sum / percents.len() as f64
}

/// Precision at multiples of num_rel (m_Rprec_mult.c).
pub fn rprec_mult(rr: &RankedRels, level: i32, percents: &[f64], out: &mut [f64]) {
    let cutoffs: Vec<i64> = percents
        .iter()
        .map(|p| (p * rr.num_rel as f64 + 0.9) as i64)
        .collect();
    let mut cc = cutoffs.len() as i64 - 1;
    while cc >= 0 && cutoffs[cc as usize] > rr.num_ret {
        out[cc as usize] = rr.num_rel_ret as f64 / cutoffs[cc as usize] as f64;
        cc -= 1;
    }
    let mut rel_so_far = rr.num_rel_ret;
    let mut i = rr.num_ret;
    while i > 0 && rel_so_far > 0 {
        let precis = rel_so_far as f64 / i as f64;
        while cc >= 0 && i == cutoffs[cc as usize] {
            out[cc as usize] = precis;
            cc -= 1;
        }
        if is_rel(rr.rels[(i - 1) as usize], level) {
            rel_so_far -= 1;
        }
        i -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two relevant documents, only the second retrieved one relevant: recall 0.5 is reached at
    /// rank 2. Recall point 0.6 means 1 document under trec_eval 10 (lround(1.2)) but 2 under
    /// trec_eval 9 ((long)(1.2 + 0.9)), which pytrec_eval reports as 0.
    #[test]
    fn recall_points_round_as_trec_eval_10_or_9() {
        let rr = RankedRels::new([Some(0), Some(1)].into_iter(), [0, 1, 2].into_iter(), 1);
        let points = [0.5, 0.6];
        let mut out = [f64::NAN; 2];
        iprec_at_recall(&rr, 1, &points, RecallRounding::Nearest, &mut out);
        assert_eq!(out, [0.5, 0.5]);
        let mut out = [0.0; 2];
        iprec_at_recall(&rr, 1, &points, RecallRounding::Legacy, &mut out);
        assert_eq!(out, [0.5, 0.0]);
    }
}
