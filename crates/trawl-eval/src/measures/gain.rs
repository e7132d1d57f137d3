//! Gain-based measures: ndcg (and dcg, ideal_dcg), ndcg_cut, ndcg_rel, Rndcg, G and rbp
//! (trec_eval's m_ndcg.c, m_ndcg_cut.c, m_ndcg_rel.c, m_Rndcg.c, m_G.c, m_rbp.c, gain_init.c).
//!
//! The gain of a grade is the grade itself unless overridden by `level=gain` parameters
//! (`-m ndcg.1=3,2=9`); discounting is 1/log2(rank + 1). Gains ignore the relevance level `-l`.

use crate::ranking::RankedRels;

#[derive(Debug, Clone, Copy)]
struct RelGain {
    rel_level: i64,
    num_at_level: i64,
    gain: f64,
}

/// Gain levels sorted by increasing gain (trec_eval's GAINS).
pub struct Gains {
    levels: Vec<RelGain>,
}

/// Parses a relevance level the way gain_init.c accepts it: optional sign, then digits only.
fn valid_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Gains {
    pub fn new(rr: &RankedRels, pairs: &[(String, f64)]) -> Self {
        let mut levels: Vec<RelGain> = pairs
            .iter()
            .filter_map(|(name, gain)| {
                valid_int(name).map(|rel_level| RelGain {
                    rel_level,
                    num_at_level: 0,
                    gain: *gain,
                })
            })
            .collect();
        for (i, &n) in rr.rel_levels.iter().enumerate() {
            match levels.iter_mut().find(|g| g.rel_level == i as i64) {
                Some(g) => g.num_at_level = n,
                None => levels.push(RelGain {
                    rel_level: i as i64,
                    num_at_level: n,
                    gain: i as f64,
                }),
            }
        }
        levels.sort_by(|a, b| a.gain.total_cmp(&b.gain));
        Gains { levels }
    }

    pub fn gain(&self, rel: i32) -> f64 {
        self.levels
            .iter()
            .find(|g| g.rel_level == rel as i64)
            .map_or(0.0, |g| g.gain)
    }

    fn ideal(&self) -> IdealWalk<'_> {
        let cur = self.levels.len() as i64 - 1;
        IdealWalk {
            gains: self,
            cur,
            num_at_level: 0,
            gain: if cur >= 0 {
                self.levels[cur as usize].gain
            } else {
                0.0
            },
        }
    }
}

/// Walks the ideal ranking: highest gains first, as many documents as the qrels hold per level.
struct IdealWalk<'a> {
    gains: &'a Gains,
    cur: i64,
    num_at_level: i64,
    gain: f64,
}

impl IdealWalk<'_> {
    /// Advances one rank and returns the ideal gain there.
    fn step(&mut self) -> f64 {
        self.num_at_level += 1;
        while self.cur >= 0 && self.num_at_level > self.gains.levels[self.cur as usize].num_at_level
        {
            self.num_at_level = 1;
            self.cur -= 1;
            self.gain = if self.cur >= 0 {
                self.gains.levels[self.cur as usize].gain
            } else {
                0.0
            };
        }
        self.gain
    }
}

fn discount(i: usize) -> f64 {
    ((i + 2) as f64).log2()
}

/// (dcg, ideal dcg) over the whole ranking (m_ndcg.c).
pub fn dcg_and_ideal(rr: &RankedRels, pairs: &[(String, f64)]) -> (f64, f64) {
    let gains = Gains::new(rr, pairs);
    let mut walk = gains.ideal();
    let (mut dcg, mut ideal) = (0.0, 0.0);
    let mut i = 0;
    while i < rr.rels.len() && walk.gain > 0.0 {
        let g = gains.gain(rr.rels[i]);
        if g != 0.0 {
            dcg += g / discount(i);
        }
        let ig = walk.step();
        if ig > 0.0 {
            ideal += ig / discount(i);
        }
        i += 1;
    }
    while i < rr.rels.len() {
        let g = gains.gain(rr.rels[i]);
        if g != 0.0 {
            dcg += g / discount(i);
        }
        i += 1;
    }
    while walk.gain > 0.0 {
        let ig = walk.step();
        if ig > 0.0 {
            ideal += ig / discount(i);
        }
        i += 1;
    }
    (dcg, ideal)
}

pub fn ndcg(rr: &RankedRels, pairs: &[(String, f64)]) -> f64 {
    let (dcg, ideal) = dcg_and_ideal(rr, pairs);
    if ideal > 0.0 {
        dcg / ideal
    } else {
        0.0
    }
}

/// ndcg at cutoffs with default gains.
pub fn ndcg_at(rr: &RankedRels, cutoffs: &[i64], out: &mut [f64]) {
    let gains = Gains::new(rr, &[]);
    let mut ci = 0;
    let mut sum = 0.0;
    for (i, &r) in rr.rels.iter().enumerate() {
        if ci < cutoffs.len() && i as i64 == cutoffs[ci] {
            out[ci] = sum;
            ci += 1;
            if ci == cutoffs.len() {
                break;
            }
        }
        let g = gains.gain(r);
        if g != 0.0 {
            sum += g / discount(i);
        }
    }
    while ci < cutoffs.len() {
        out[ci] = sum;
        ci += 1;
    }
    let mut walk = gains.ideal();
    let mut ideal = 0.0;
    ci = 0;
    let mut i = 0i64;
    loop {
        let g = walk.step();
        if g <= 0.0 {
            break;
        }
        if i == cutoffs[ci] {
            if ideal > 0.0 {
                out[ci] /= ideal;
            }
            ci += 1;
            if ci == cutoffs.len() {
                break;
            }
        }
        ideal += g / discount(i as usize);
        i += 1;
    }
    while ci < cutoffs.len() {
        if ideal > 0.0 {
            out[ci] /= ideal;
        }
        ci += 1;
    }
}

/// ndcg averaged over the relevant documents (m_ndcg_rel.c).
pub fn ndcg_rel(rr: &RankedRels, pairs: &[(String, f64)]) -> f64 {
    let gains = Gains::new(rr, pairs);
    let mut walk = gains.ideal();
    let (mut dcg, mut ideal, mut sum) = (0.0, 0.0, 0.0);
    let (mut num_rel_ret, mut num_rel) = (0i64, 0i64);
    let mut i = 0;
    while i < rr.rels.len() && walk.gain > 0.0 {
        let g = gains.gain(rr.rels[i]);
        if g != 0.0 {
            dcg += g / discount(i);
        }
        let ig = walk.step();
        if ig > 0.0 {
            num_rel += 1;
            ideal += ig / discount(i);
        }
        if g > 0.0 {
            sum += dcg / ideal;
            num_rel_ret += 1;
        }
        i += 1;
    }
    while i < rr.rels.len() {
        let g = gains.gain(rr.rels[i]);
        if g != 0.0 {
            dcg += g / discount(i);
        }
        if g > 0.0 {
            sum += dcg / ideal;
            num_rel_ret += 1;
        }
        i += 1;
    }
    while walk.gain > 0.0 {
        let ig = walk.step();
        if ig > 0.0 {
            num_rel += 1;
            ideal += ig / discount(i);
        }
        i += 1;
    }
    sum += (num_rel - num_rel_ret) as f64 * dcg / ideal;
    if sum > 0.0 {
        sum / num_rel as f64
    } else {
        0.0
    }
}

/// ndcg averaged at the points where the ideal gain changes (m_Rndcg.c).
pub fn r_ndcg(rr: &RankedRels, pairs: &[(String, f64)]) -> f64 {
    let gains = Gains::new(rr, pairs);
    if rr.num_rel == 0 {
        return 0.0;
    }
    let mut walk = gains.ideal();
    let mut old_gain = walk.gain;
    let (mut dcg, mut ideal, mut sum) = (0.0, 0.0, 0.0);
    let mut changes = 0i64;
    let mut i = 0;
    while i < rr.rels.len() && walk.gain > 0.0 {
        let g = gains.gain(rr.rels[i]);
        let ig = walk.step();
        if old_gain != ig {
            if ideal > 0.0 {
                sum += dcg / ideal;
                changes += 1;
            }
            old_gain = ig;
        }
        if g != 0.0 {
            dcg += g / discount(i);
        }
        if ig > 0.0 {
            ideal += ig / discount(i);
        }
        i += 1;
    }
    if i < rr.rels.len() {
        while i < rr.rels.len() {
            let g = gains.gain(rr.rels[i]);
            if g != 0.0 {
                dcg += g / discount(i);
            }
            i += 1;
        }
        if ideal > 0.0 {
            sum += dcg / ideal;
            changes += 1;
        }
    }
    while walk.gain > 0.0 {
        let ig = walk.step();
        if old_gain != ig {
            if ideal > 0.0 {
                sum += dcg / ideal;
                changes += 1;
            }
            old_gain = ig;
        }
        if ig > 0.0 {
            ideal += ig / discount(i);
        }
        i += 1;
    }
    sum / changes as f64
}

/// Normalised gain G (m_G.c).
pub fn g_measure(rr: &RankedRels, pairs: &[(String, f64)]) -> f64 {
    let gains = Gains::new(rr, pairs);
    let mut walk = gains.ideal();
    let (mut results_g, mut sum_results, mut sum_ideal, mut sum_cost) = (0.0, 0.0, 0.0, 0.0);
    let min_cost = 1.0;
    let mut i = 0;
    while i < rr.rels.len() && walk.gain > 0.0 {
        let g = gains.gain(rr.rels[i]);
        sum_results += g;
        let ig = walk.step();
        if ig > 0.0 {
            sum_ideal += ig;
        }
        sum_cost += if ig >= min_cost { ig } else { min_cost };
        if g != 0.0 {
            results_g += g / (2.0 + sum_cost - sum_results).log2();
        }
        i += 1;
    }
    while i < rr.rels.len() {
        let g = gains.gain(rr.rels[i]);
        sum_results += g;
        sum_cost += min_cost;
        if g != 0.0 {
            results_g += g / (2.0 + sum_cost - sum_results).log2();
        }
        i += 1;
    }
    while walk.gain > 0.0 {
        let ig = walk.step();
        if ig > 0.0 {
            sum_ideal += ig;
        }
    }
    if sum_ideal > 0.0 {
        results_g / sum_ideal
    } else {
        0.0
    }
}

/// Rank-biased precision, persistence `p` (parameter `p=`, default 0.9); gains rescaled to [0, 1]
/// when they fall outside it (m_rbp.c).
pub fn rbp(rr: &RankedRels, pairs: &[(String, f64)]) -> f64 {
    let p = pairs
        .iter()
        .find(|(n, _)| n == "p")
        .map_or(0.9, |(_, v)| *v);
    let mut gains = Gains::new(rr, pairs);
    let min = gains
        .levels
        .iter()
        .map(|g| g.gain)
        .fold(f64::INFINITY, f64::min);
    let max = gains
        .levels
        .iter()
        .map(|g| g.gain)
        .fold(f64::NEG_INFINITY, f64::max);
    if min < 0.0 || max > 1.0 {
        for g in &mut gains.levels {
            g.gain = (g.gain - min) / (max - min);
        }
    }
    let (mut sum, mut cur) = (0.0, 1.0);
    for &r in &rr.rels {
        let g = gains.gain(r);
        if g != 0.0 {
            sum += g * cur;
        }
        cur *= p;
    }
    (1.0 - p) * sum
}
