//! The paper table: rows are systems, columns datasets, one metric; the best value per column
//! in bold (all ties), a dagger where the difference to the baseline is significant after
//! Holm-Bonferroni across datasets. Rendered as Markdown, LaTeX (booktabs) and CSV.

use crate::results::Results;
use crate::significance::settings_of;

/// One cell: the mean as `trawl eval` prints it (4 decimals) and its markers.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub value: f64,
    pub best: bool,
    pub significant: bool,
    pub p_holm: Option<f64>,
}

impl Cell {
    /// The value with 4 decimals, as `trawl eval` prints it.
    pub fn text(&self) -> String {
        format!("{:.4}", self.value)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PaperTable {
    pub metric: String,
    pub datasets: Vec<String>,
    /// (system label, one cell per dataset; `None` where the system did not run).
    pub rows: Vec<(String, Vec<Option<Cell>>)>,
    pub caption: String,
}

/// Builds the table of metric `m` (an index into `results.metrics`).
pub fn paper_table(results: &Results, m: usize) -> PaperTable {
    let metric = results.metrics[m].clone();
    let datasets: Vec<String> = results.datasets.iter().map(|d| d.name.clone()).collect();
    let mut rows: Vec<(String, Vec<Option<Cell>>)> = results
        .system_labels()
        .into_iter()
        .map(|label| {
            let cells = results
                .datasets
                .iter()
                .map(|d| {
                    let s = d.system(&label)?;
                    let value = *s.mean.get(&metric)?;
                    let sig = s.significance.get(&metric);
                    Some(Cell {
                        value,
                        best: false,
                        significant: sig.is_some_and(|s| s.significant),
                        p_holm: sig.map(|s| s.p_holm),
                    })
                })
                .collect();
            (label, cells)
        })
        .collect();
    // Best per column, compared as printed so that equal-looking numbers are both bold.
    for c in 0..datasets.len() {
        let best = rows
            .iter()
            .filter_map(|(_, cells)| cells[c].as_ref().map(|x| x.text()))
            .max_by(|a, b| a.parse::<f64>().unwrap().total_cmp(&b.parse().unwrap()));
        for (_, cells) in rows.iter_mut() {
            if let Some(cell) = cells[c].as_mut() {
                cell.best = Some(cell.text()) == best;
            }
        }
    }
    let s = &results.significance;
    let test = match settings_of(results).map(|t| t.test) {
        Ok(trawl_eval::significance::PairedTest::TTest) => "two-sided paired t-test".to_string(),
        Ok(_) => format!(
            "two-sided paired randomisation test, {} permutations, seed {}",
            s.permutations, s.seed
        ),
        Err(_) => format!("test '{}'", s.test),
    };
    let caption = format!(
        "{metric} on the {} split (k = {}; every query counts, 0 without hits). Bold: best per dataset. †: significantly different from {} ({test}, Holm-Bonferroni corrected across {} datasets, α = {}).",
        results.split,
        results.k,
        s.baseline,
        datasets.len(),
        s.alpha
    );
    PaperTable {
        metric,
        datasets,
        rows,
        caption,
    }
}

impl PaperTable {
    pub fn markdown(&self) -> String {
        let mut out = format!("| system | {} |\n", self.datasets.join(" | "));
        out.push_str(&format!("|---|{}\n", "---:|".repeat(self.datasets.len())));
        for (system, cells) in &self.rows {
            out.push_str(&format!("| {system} |"));
            for cell in cells {
                let text = match cell {
                    None => "–".to_string(),
                    Some(c) => {
                        let v = if c.best {
                            format!("**{}**", c.text())
                        } else {
                            c.text()
                        };
                        if c.significant {
                            format!("{v}†")
                        } else {
                            v
                        }
                    }
                };
                out.push_str(&format!(" {text} |"));
            }
            out.push('\n');
        }
        out.push_str(&format!("\n{}\n", self.caption));
        out
    }

    pub fn latex(&self) -> String {
        let mut out = String::from("\\begin{table}[t]\n\\centering\n");
        out.push_str(&format!(
            "\\begin{{tabular}}{{l{}}}\n\\toprule\nSystem & {} \\\\\n\\midrule\n",
            "r".repeat(self.datasets.len()),
            self.datasets
                .iter()
                .map(|d| latex_escape(d))
                .collect::<Vec<_>>()
                .join(" & ")
        ));
        for (system, cells) in &self.rows {
            let cells: Vec<String> = cells
                .iter()
                .map(|cell| match cell {
                    None => "--".to_string(),
                    Some(c) => {
                        let v = if c.best {
                            format!("\\textbf{{{}}}", c.text())
                        } else {
                            c.text()
                        };
                        if c.significant {
                            format!("{v}$^\\dagger$")
                        } else {
                            v
                        }
                    }
                })
                .collect();
            out.push_str(&format!(
                "{} & {} \\\\\n",
                latex_escape(system),
                cells.join(" & ")
            ));
        }
        let caption = latex_escape(&self.caption)
            .replace('†', "$^\\dagger$")
            .replace('α', "$\\alpha$");
        out.push_str(&format!(
            "\\bottomrule\n\\end{{tabular}}\n\\caption{{{caption}}}\n\\end{{table}}\n"
        ));
        out
    }

    /// `system,<dataset>,<dataset> p_holm,...`: the 4-decimal value and the adjusted p-value
    /// (empty for the baseline and missing runs).
    pub fn csv(&self) -> String {
        let mut header = vec!["system".to_string()];
        for d in &self.datasets {
            header.push(csv_field(d));
            header.push(csv_field(&format!("{d} p_holm")));
        }
        let mut out = header.join(",") + "\n";
        for (system, cells) in &self.rows {
            let mut row = vec![csv_field(system)];
            for cell in cells {
                row.push(cell.as_ref().map_or(String::new(), |c| c.text()));
                row.push(
                    cell.as_ref()
                        .and_then(|c| c.p_holm)
                        .map_or(String::new(), |p| format!("{p:.6}")),
                );
            }
            out.push_str(&(row.join(",") + "\n"));
        }
        out
    }
}

fn latex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(ch);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            _ => out.push(ch),
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
