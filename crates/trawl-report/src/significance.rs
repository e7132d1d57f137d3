//! Every system against the baseline, per dataset and metric, with `trawl compare`'s test
//! (`trawl_eval::significance::paired_p_value` on the same pairing), then Holm-Bonferroni across
//! the datasets: for one system and one metric, its p-values on all datasets are one family.

use trawl_eval::significance::{
    holm_bonferroni, paired_columns, paired_p_value, PairedTest, TestSettings,
};

use crate::error::{Error, Result};
use crate::results::{Results, Significance};

/// The test settings recorded in `results`.
pub fn settings_of(results: &Results) -> Result<TestSettings> {
    let test: PairedTest = results.significance.test.parse()?;
    Ok(TestSettings {
        test,
        permutations: results.significance.permutations,
        seed: results.significance.seed,
    })
}

/// Fills every non-baseline system's `significance` (replacing what was there). A dataset the
/// baseline did not run on gets no tests; a pair with fewer than 2 queries is an error.
pub fn apply(results: &mut Results) -> Result<()> {
    let settings = settings_of(results)?;
    let alpha = results.significance.alpha;
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(Error::Invalid(format!(
            "alpha must be between 0 and 1, got {alpha}"
        )));
    }
    let baseline = results.significance.baseline.clone();
    if !results.system_labels().contains(&baseline) {
        return Err(Error::Invalid(format!(
            "baseline '{baseline}' is not one of the systems ({})",
            results.system_labels().join(", ")
        )));
    }
    let metrics = results.metrics.clone();
    for d in &mut results.datasets {
        for s in &mut d.systems {
            s.significance.clear();
        }
    }
    for system in results.system_labels() {
        if system == baseline {
            continue;
        }
        for (m, metric) in metrics.iter().enumerate() {
            // (dataset index, delta, p) for each dataset with both systems.
            let mut family: Vec<(usize, f64, f64)> = Vec::new();
            for (di, d) in results.datasets.iter().enumerate() {
                let (Some(base), Some(sys)) = (d.system(&baseline), d.system(&system)) else {
                    continue;
                };
                let (_, cols) = paired_columns(&[&base.per_query, &sys.per_query], m);
                let p = paired_p_value(&cols[1], &cols[0], &settings)?;
                let n = cols[0].len() as f64;
                let delta = (cols[1].iter().sum::<f64>() - cols[0].iter().sum::<f64>()) / n;
                family.push((di, delta, p));
            }
            let p: Vec<f64> = family.iter().map(|f| f.2).collect();
            let holm = holm_bonferroni(&p, alpha);
            for (i, (di, delta, p)) in family.into_iter().enumerate() {
                let d = &mut results.datasets[di];
                let s = d
                    .systems
                    .iter_mut()
                    .find(|s| s.system == system)
                    .expect("system present in this dataset");
                s.significance.insert(
                    metric.clone(),
                    Significance {
                        delta,
                        p_value: p,
                        p_holm: holm.adjusted[i],
                        significant: holm.reject[i],
                    },
                );
            }
        }
    }
    Ok(())
}

/// Per-query differences (system minus baseline) of one metric on one dataset, sorted
/// ascending: the win/loss plot. `None` when either system is missing there.
pub fn sorted_differences(
    results: &Results,
    dataset: usize,
    system: &str,
    metric: usize,
) -> Option<Vec<(String, f64)>> {
    let d = &results.datasets[dataset];
    let base = d.system(&results.significance.baseline)?;
    let sys = d.system(system)?;
    let (queries, cols) = paired_columns(&[&base.per_query, &sys.per_query], metric);
    let mut out: Vec<(String, f64)> = queries
        .into_iter()
        .zip(cols[1].iter().zip(&cols[0]).map(|(s, b)| s - b))
        .collect();
    out.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    Some(out)
}

/// Wins, ties and losses of `system` against the baseline, from [`sorted_differences`].
pub fn win_tie_loss(diffs: &[(String, f64)]) -> (usize, usize, usize) {
    let wins = diffs.iter().filter(|d| d.1 > 0.0).count();
    let losses = diffs.iter().filter(|d| d.1 < 0.0).count();
    (wins, diffs.len() - wins - losses, losses)
}
