//! Experiments people can publish: the `results.json` of `trawl bench` ([`results`]), significance
//! against a baseline with Holm-Bonferroni correction across datasets ([`significance`]), the paper
//! table in Markdown, LaTeX and CSV ([`table`]), and the self-contained HTML report with
//! hand-written SVG charts ([`report`]).
//!
//! The statistics themselves (paired tests, Holm) live in `trawl_eval::significance`, shared with
//! `trawl compare`; this crate only chooses the pairs and formats the results.

pub mod error;
pub mod geometry;
pub mod report;
pub mod results;
pub mod significance;
pub mod table;

pub use error::{Error, Result};
pub use results::{
    DatasetResults, KbInfo, Latency, Machine, Results, SignificanceSettings, SystemResults, Timings,
};
