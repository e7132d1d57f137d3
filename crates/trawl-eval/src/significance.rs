//! Paired significance tests for comparing two systems on the same queries: the two-sided paired
//! Student t-test and the paired randomisation (permutation) test, as in ranx and trec_eval-based
//! papers.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// Default number of random sign assignments of the randomisation test.
pub const DEFAULT_PERMUTATIONS: usize = 10_000;

/// Result of a paired t-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TTest {
    pub t: f64,
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

fn check_pairs(a: &[f64], b: &[f64]) -> Result<()> {
    if a.len() != b.len() {
        return Err(Error::Mismatch(format!(
            "paired test needs the same queries: {} values against {}",
            a.len(),
            b.len()
        )));
    }
    if a.len() < 2 {
        return Err(Error::Mismatch(
            "paired test needs at least 2 queries".into(),
        ));
    }
    Ok(())
}

/// Two-sided paired t-test of `a` against `b` (same as scipy.stats.ttest_rel).
/// When every difference is the same, the variance is 0: p is 1 if the runs are identical and
/// 0 otherwise (scipy returns NaN there).
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Result<TTest> {
    check_pairs(a, b)?;
    let n = a.len() as f64;
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean = diffs.iter().sum::<f64>() / n;
    let var = diffs.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / (n - 1.0);
    let df = n - 1.0;
    if var == 0.0 {
        let p = if mean == 0.0 { 1.0 } else { 0.0 };
        let t = if mean == 0.0 {
            0.0
        } else {
            mean.signum() * f64::INFINITY
        };
        return Ok(TTest { t, df, p_value: p });
    }
    let t = mean / (var / n).sqrt();
    let p_value = student_t_two_sided(t, df);
    Ok(TTest { t, df, p_value })
}

/// P(|T| >= |t|) for Student's t with `df` degrees of freedom: I_{df/(df+t^2)}(df/2, 1/2).
pub fn student_t_two_sided(t: f64, df: f64) -> f64 {
    let x = df / (df + t * t);
    regularized_incomplete_beta(df / 2.0, 0.5, x).clamp(0.0, 1.0)
}

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7, n = 9; ~15 significant digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1-x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularised incomplete beta function I_x(a, b), by Lentz's continued fraction.
pub fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    // The fraction converges fast for x < (a+1)/(a+b+2); use symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_fraction(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_fraction(b, a, 1.0 - x) / b
    }
}

fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-15;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=10_000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// Two-sided paired randomisation test: the fraction of random sign flips of the per-query
/// differences whose mean is at least as far from 0 as the observed one, counting the observed
/// assignment itself: p = (hits + 1) / (permutations + 1). Seeded (ChaCha8), so reproducible.
pub fn randomisation_test(a: &[f64], b: &[f64], permutations: usize, seed: u64) -> Result<f64> {
    check_pairs(a, b)?;
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let observed = diffs.iter().sum::<f64>().abs();
    // Sums equal up to rounding count as "at least as extreme".
    let tolerance = 1e-9 * (1.0 + observed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut hits = 0usize;
    for _ in 0..permutations {
        let mut sum = 0.0;
        let mut bits = 0u64;
        for (i, d) in diffs.iter().enumerate() {
            if i % 64 == 0 {
                bits = rng.random();
            }
            sum += if bits & 1 == 1 { *d } else { -*d };
            bits >>= 1;
        }
        if sum.abs() >= observed - tolerance {
            hits += 1;
        }
    }
    Ok((hits + 1) as f64 / (permutations + 1) as f64)
}

/// Which paired test decides a significance marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairedTest {
    /// Two-sided paired Student t-test ([`paired_t_test`]).
    TTest,
    /// Two-sided paired randomisation test ([`randomisation_test`]).
    Randomisation,
}

impl PairedTest {
    /// The name used on the command line and in results files: `t` or `randomization`.
    pub fn name(self) -> &'static str {
        match self {
            PairedTest::TTest => "t",
            PairedTest::Randomisation => "randomization",
        }
    }
}

impl std::str::FromStr for PairedTest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "t" | "ttest" | "t-test" => Ok(PairedTest::TTest),
            "randomization" | "randomisation" | "permutation" => Ok(PairedTest::Randomisation),
            _ => Err(Error::Mismatch(format!(
                "unknown significance test '{s}': use t or randomization"
            ))),
        }
    }
}

/// A paired test with its settings: the one place `trawl compare` and `trawl bench` get their
/// p-values from, so the same pair of runs gets the same p-value in both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestSettings {
    pub test: PairedTest,
    /// Random sign assignments of the randomisation test.
    pub permutations: usize,
    /// Seed of the randomisation test.
    pub seed: u64,
}

impl Default for TestSettings {
    fn default() -> Self {
        TestSettings {
            test: PairedTest::TTest,
            permutations: DEFAULT_PERMUTATIONS,
            seed: 42,
        }
    }
}

/// The two-sided p-value of `a` against `b` (paired per query) under `settings`.
pub fn paired_p_value(a: &[f64], b: &[f64], settings: &TestSettings) -> Result<f64> {
    match settings.test {
        PairedTest::TTest => Ok(paired_t_test(a, b)?.p_value),
        PairedTest::Randomisation => randomisation_test(a, b, settings.permutations, settings.seed),
    }
}

/// Pairs runs on the same queries: the queries that at least one run answers (sorted), and per
/// run the values of metric `m` on them, 0 where that run has no value (as trec_eval -c would).
pub fn paired_columns(
    per_query: &[&BTreeMap<String, Vec<f64>>],
    m: usize,
) -> (Vec<String>, Vec<Vec<f64>>) {
    let queries: BTreeSet<&String> = per_query.iter().flat_map(|p| p.keys()).collect();
    let columns = per_query
        .iter()
        .map(|p| {
            queries
                .iter()
                .map(|q| p.get(*q).map_or(0.0, |v| v[m]))
                .collect()
        })
        .collect();
    (queries.into_iter().cloned().collect(), columns)
}

/// Holm-Bonferroni step-down correction of a family of p-values.
#[derive(Debug, Clone, PartialEq)]
pub struct Holm {
    /// Adjusted p-values in input order: the running maximum of `(m - i) * p_(i)` over the
    /// ascending order, capped at 1.
    pub adjusted: Vec<f64>,
    /// Rejected hypotheses in input order: adjusted p < alpha (strict, as `trawl compare`
    /// marks p < alpha; with one hypothesis Holm is the plain test).
    pub reject: Vec<bool>,
}

/// Holm's correction of `p_values` at level `alpha`. Equal p-values keep their input order.
pub fn holm_bonferroni(p_values: &[f64], alpha: f64) -> Holm {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    let reject = adjusted.iter().map(|&p| p < alpha).collect();
    Holm { adjusted, reject }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values from scipy 1.x, computed with bench/.venv/bin/python:
    //   from scipy import stats
    //   stats.ttest_rel(a, b)  -> (statistic, pvalue)
    //   stats.t.sf(abs(t), df) * 2
    const A: [f64; 8] = [0.61, 0.42, 0.83, 0.25, 0.54, 0.71, 0.33, 0.9];
    const B: [f64; 8] = [0.52, 0.40, 0.70, 0.31, 0.45, 0.60, 0.30, 0.85];

    const SCIPY_T: f64 = 2.6608844257769366;
    const SCIPY_P: f64 = 0.03242550312463025;
    /// (t, df, 2 * stats.t.sf(abs(t), df))
    const SCIPY_TAILS: [(f64, f64, f64); 6] = [
        (0.5, 3.0, 0.651447964848151),
        (2.0, 10.0, 0.07338803477074037),
        (-3.3, 25.0, 0.0029052202137769094),
        (8.0, 100.0, 2.2728648077280694e-12),
        (1.0, 1.0, 0.5000000000000001),
        (0.1, 1000.0, 0.9203643690236041),
    ];
    /// Exhaustive enumeration of the 2^8 sign assignments (itertools.product in Python).
    const EXACT_PERM_P: f64 = 0.046875;

    #[test]
    fn t_test_matches_scipy() {
        let t = paired_t_test(&A, &B).unwrap();
        assert!((t.t - SCIPY_T).abs() < 1e-9, "{t:?}");
        assert!((t.p_value - SCIPY_P).abs() < 1e-9, "{t:?}");
        assert_eq!(t.df, 7.0);
    }

    #[test]
    fn student_t_tail_matches_scipy() {
        for (t, df, p) in SCIPY_TAILS {
            let got = student_t_two_sided(t, df);
            assert!(
                (got - p).abs() < 1e-10 * p.max(1e-300) + 1e-14,
                "t={t} df={df}: {got} vs {p}"
            );
        }
    }

    #[test]
    fn degenerate_t_tests() {
        assert_eq!(paired_t_test(&A, &A).unwrap().p_value, 1.0);
        let shifted: Vec<f64> = A.iter().map(|x| x + 0.25).collect();
        assert!(paired_t_test(&shifted, &A).unwrap().p_value < 1e-12);
        let ones = [1.0; 4];
        assert_eq!(paired_t_test(&ones, &[0.5; 4]).unwrap().p_value, 0.0);
        assert!(paired_t_test(&A, &B[..3]).is_err());
    }

    #[test]
    fn randomisation_is_seeded_and_sensible() {
        let p1 = randomisation_test(&A, &B, 10_000, 42).unwrap();
        let p2 = randomisation_test(&A, &B, 10_000, 42).unwrap();
        assert_eq!(p1, p2);
        // 8 queries: exact permutation p-value is (#assignments with |sum| >= observed) / 256.
        assert!((p1 - EXACT_PERM_P).abs() < 0.01, "{p1} vs {EXACT_PERM_P}");
        assert_eq!(randomisation_test(&A, &A, 1000, 1).unwrap(), 1.0);
    }
    /// Hand-computed: p = (0.01, 0.04, 0.03, 0.005), m = 4. Ascending: 0.005 (x4 = 0.02),
    /// 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04, but the running max keeps 0.06).
    #[test]
    fn holm_matches_hand_computed_adjustment() {
        let h = holm_bonferroni(&[0.01, 0.04, 0.03, 0.005], 0.05);
        let want = [0.03, 0.06, 0.06, 0.02];
        for (got, want) in h.adjusted.iter().zip(want) {
            assert!((got - want).abs() < 1e-15, "{:?}", h.adjusted);
        }
        assert_eq!(h.reject, [true, false, false, true]);
        // Stops at the first non-rejection although 0.04 < 0.05 on its own.
        let h = holm_bonferroni(&[0.02, 0.04], 0.05);
        assert_eq!(h.adjusted, [0.04, 0.04]);
        assert_eq!(h.reject, [true, true]);
        let h = holm_bonferroni(&[0.03, 0.04], 0.05);
        assert_eq!(h.adjusted, [0.06, 0.06]);
        assert_eq!(h.reject, [false, false]);
        // Capped at 1; one hypothesis is the plain test (strict <, like compare).
        assert_eq!(holm_bonferroni(&[0.6, 0.7], 0.05).adjusted, [1.0, 1.0]);
        assert_eq!(holm_bonferroni(&[0.05], 0.05).reject, [false]);
        assert!(holm_bonferroni(&[], 0.05).adjusted.is_empty());
    }

    #[test]
    fn paired_p_value_dispatches_to_the_named_test() {
        let t = TestSettings::default();
        assert!((paired_p_value(&A, &B, &t).unwrap() - SCIPY_P).abs() < 1e-9);
        let r = TestSettings {
            test: "randomization".parse().unwrap(),
            permutations: 1000,
            seed: 7,
        };
        assert_eq!(
            paired_p_value(&A, &B, &r).unwrap(),
            randomisation_test(&A, &B, 1000, 7).unwrap()
        );
        assert!("wilcoxon".parse::<PairedTest>().is_err());
    }

    #[test]
    fn paired_columns_fill_missing_queries_with_zero() {
        let a: BTreeMap<String, Vec<f64>> = [
            ("q1".into(), vec![0.5, 1.0]),
            ("q2".into(), vec![0.25, 0.0]),
        ]
        .into();
        let b: BTreeMap<String, Vec<f64>> = [("q3".into(), vec![0.75, 1.0])].into();
        let (queries, cols) = paired_columns(&[&a, &b], 0);
        assert_eq!(queries, ["q1", "q2", "q3"]);
        assert_eq!(cols, [vec![0.5, 0.25, 0.0], vec![0.0, 0.0, 0.75]]);
    }
}
