//! What the generated-corpus and BEIR tests share: a seeded Zipfian vocabulary of letters-only
//! words, and a BEIR dataset's texts and queries.
#![allow(dead_code)]

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A letters-only word per rank ("w", base-26 digits, "x"), kept apart by the analyzer.
pub fn word(rank: usize) -> String {
    let mut s = String::from("w");
    let mut r = rank;
    loop {
        s.push((b'a' + (r % 26) as u8) as char);
        r /= 26;
        if r == 0 {
            break;
        }
    }
    s.push('x');
    s
}

/// Words of a vocabulary with Zipf(`s`) frequencies.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(vocab: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=vocab)
            .map(|r| {
                acc += 1.0 / (r as f64).powf(s);
                acc
            })
            .collect();
        cdf.iter_mut().for_each(|c| *c /= acc);
        Zipf { cdf }
    }

    /// The share of all occurrences taken by the `n` most frequent words.
    pub fn top_share(&self, n: usize) -> f64 {
        self.cdf[n - 1]
    }

    /// A word drawn with the Zipf frequencies from above quantile `lo` (0: any word).
    pub fn sample(&self, rng: &mut ChaCha8Rng, lo: f64) -> String {
        let u: f64 = rng.random_range(lo..1.0);
        word(self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1))
    }
}

/// The texts (title, a line break, text) and queries of BEIR `dataset`, or `None` (with a note)
/// when the shared data is absent.
pub fn beir(dataset: &str) -> Option<(Vec<String>, Vec<trawl_data::Query>)> {
    let Some(dir) = trawl_data::shared_data::locate(&format!("beir/{dataset}")) else {
        eprintln!("beir/{dataset} not found; skipped");
        return None;
    };
    let beir = trawl_data::beir::BeirDataset::open(&dir).unwrap();
    let texts: Vec<String> = beir
        .read_corpus()
        .unwrap()
        .map(|d| {
            let d = d.unwrap();
            format!("{}\n{}", d.title, d.text)
        })
        .collect();
    Some((texts, beir.read_queries().unwrap()))
}
