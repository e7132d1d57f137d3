//! The paper table from constructed results: significance markers follow Holm over datasets,
//! bold follows the printed best, and the three renderings carry the same numbers.

mod common;

use common::{results, system};
use trawl_eval::significance::{holm_bonferroni, paired_t_test};
use trawl_report::significance;
use trawl_report::table::paper_table;

const BASE: [f64; 10] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.5];
/// Clearly better on every query but one: p about 1e-4.
const STRONG: [f64; 10] = [0.3, 0.45, 0.5, 0.6, 0.75, 0.8, 0.9, 1.0, 0.95, 0.5];
/// Better by a noisy margin: p just under 0.05 alone, not after Holm with a second dataset.
const WEAK: [f64; 10] = [0.3, 0.15, 0.5, 0.35, 0.7, 0.65, 0.9, 0.75, 0.95, 0.6];

#[test]
fn daggers_follow_holm_across_datasets() {
    let p_strong = paired_t_test(&STRONG, &BASE).unwrap().p_value;
    let p_weak = paired_t_test(&WEAK, &BASE).unwrap().p_value;
    assert!(p_strong < 0.01, "{p_strong}");
    assert!(
        p_weak < 0.05 && p_weak > 0.025,
        "{p_weak}: the fixture needs 0.025 < p < 0.05"
    );

    let mut r = results(vec![
        (
            "alpha",
            vec![system("bm25", &BASE), system("dense:m", &STRONG)],
        ),
        (
            "beta",
            vec![system("bm25", &BASE), system("dense:m", &WEAK)],
        ),
    ]);
    significance::apply(&mut r).unwrap();
    let holm = holm_bonferroni(&[p_strong, p_weak], 0.05);
    // Hand-computed Holm: the smaller p doubles, the larger stays (running max).
    assert_eq!(holm.adjusted, [2.0 * p_strong, p_weak.max(2.0 * p_strong)]);
    let sig = |d: usize| r.datasets[d].systems[1].significance["nDCG@10"];
    assert_eq!(sig(0).p_value, p_strong);
    assert_eq!(sig(1).p_value, p_weak);
    assert_eq!(sig(0).p_holm, holm.adjusted[0]);
    assert!(sig(0).significant);
    assert!(sig(1).significant, "p_weak * 1 < 0.05 after the step-down");
    assert!(r.datasets[0].systems[0].significance.is_empty());

    // Three datasets: the weak one is now tested at alpha/2 and loses its dagger.
    let mut r3 = results(vec![
        (
            "alpha",
            vec![system("bm25", &BASE), system("dense:m", &STRONG)],
        ),
        (
            "beta",
            vec![system("bm25", &BASE), system("dense:m", &WEAK)],
        ),
        (
            "gamma",
            vec![system("bm25", &BASE), system("dense:m", &WEAK)],
        ),
    ]);
    significance::apply(&mut r3).unwrap();
    let s = |d: usize| r3.datasets[d].systems[1].significance["nDCG@10"];
    assert!((s(1).p_holm - 2.0 * p_weak).abs() < 1e-15);
    assert!(!s(1).significant && !s(2).significant && s(0).significant);

    let t = paper_table(&r3, 0);
    let md = t.markdown();
    assert!(
        md.contains("| dense:m | **0.6750**† | **0.5850** | **0.5850** |"),
        "{md}"
    );
    assert!(md.contains("| bm25 | 0.5000 | 0.5000 | 0.5000 |"), "{md}");
    assert!(md.contains(
        "two-sided paired t-test, Holm-Bonferroni corrected across 3 datasets, α = 0.05"
    ));
    let tex = t.latex();
    assert!(
        tex.contains(
            "dense:m & \\textbf{0.6750}$^\\dagger$ & \\textbf{0.5850} & \\textbf{0.5850} \\\\"
        ),
        "{tex}"
    );
    assert!(tex.contains("\\toprule") && tex.contains("\\caption{nDCG@10"));
    let csv = t.csv();
    assert!(csv.starts_with("system,alpha,alpha p_holm,beta,beta p_holm,gamma,gamma p_holm\n"));
    assert!(csv.contains("\nbm25,0.5000,,0.5000,,0.5000,\n"), "{csv}");
}

#[test]
fn missing_systems_leave_a_dash_and_ties_are_both_bold() {
    let mut r = results(vec![
        (
            "alpha",
            vec![system("bm25", &BASE), system("hybrid:m", &BASE)],
        ),
        ("beta", vec![system("bm25", &BASE)]),
    ]);
    significance::apply(&mut r).unwrap();
    let md = paper_table(&r, 0).markdown();
    assert!(md.contains("| bm25 | **0.5000** | **0.5000** |"), "{md}");
    assert!(md.contains("| hybrid:m | **0.5000** | – |"), "{md}");
    // Identical runs: p = 1, no dagger.
    assert!(!r.datasets[0].systems[1].significance["nDCG@10"].significant);

    r.significance.baseline = "nope".into();
    let err = significance::apply(&mut r).unwrap_err().to_string();
    assert!(
        err.contains("baseline 'nope' is not one of the systems (bm25, hybrid:m)"),
        "{err}"
    );
}
