//! Prints the analysed terms of each stdin line, space-separated (default English analyzer).
//! Used to diff trawl's analysis against Lucene's: `cargo run -p trawl-bm25 --example analyze`.

use std::io::{BufRead, Write};

fn main() {
    let analyzer = trawl_bm25::Analyzer::new(&trawl_bm25::AnalyzerConfig::default())
        .expect("default config is valid");
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout());
    for line in stdin.lock().lines() {
        let line = line.expect("stdin is UTF-8");
        writeln!(out, "{}", analyzer.analyze(&line).join(" ")).expect("stdout");
    }
}
