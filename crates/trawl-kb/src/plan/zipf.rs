//! The corpus a BM25 plan assumes, and a generator of it: the MS MARCO-shaped corpus of
//! `bench/bm25_scale.py` — analysed tokens drawn independently from a Zipf distribution
//! (exponent [`ZIPF_EXPONENT`]) over [`ZIPF_VOCAB`] synthetic words, document lengths
//! Poisson around the mean. [`ZipfCorpus`] writes such documents (the planner's calibration
//! builds them, and `plan_cli` builds 100k of them to check the plan); [`zipf_stats`] gives the
//! expected postings, vocabulary and block-coded bytes of `n` of them, term by term.

/// Distinct words of the model (`VOCAB` in `bench/bm25_scale.py`).
pub const ZIPF_VOCAB: usize = 300_000;
/// Zipf exponent of the word frequencies (`ZIPF_S`).
pub const ZIPF_EXPONENT: f64 = 1.1;
/// Queries leave out this many most frequent words (they stand for stopwords; `SKIP_TOP`).
const SKIP_TOP: usize = 20;
/// Postings per block.
const BLOCK: f64 = trawl_bm25::POSTINGS_PER_BLOCK as f64;

const CONSONANTS: &[u8] = b"bcdfghjklmnprstvz";
const VOWELS: &[u8] = b"aeiou";

/// The word of frequency rank `rank` (0-based): syllables spelling the rank in base 85, then
/// an `x` (a consonant ending keeps the stemmer from merging words), as `bench/bm25_scale.py`.
pub fn zipf_word(rank: usize) -> String {
    let n = CONSONANTS.len() * VOWELS.len();
    let mut out = String::new();
    let mut r = rank;
    loop {
        let s = r % n;
        out.push(CONSONANTS[s / VOWELS.len()] as char);
        out.push(VOWELS[s % VOWELS.len()] as char);
        r /= n;
        if r == 0 {
            break;
        }
    }
    out.push('x');
    out
}

fn zipf_word_len(rank: usize) -> usize {
    let n = CONSONANTS.len() * VOWELS.len();
    let (mut r, mut len) = (rank / n, 3);
    while r > 0 {
        r /= n;
        len += 2;
    }
    len
}

/// The probability of each rank, most frequent first.
fn zipf_probabilities() -> impl Iterator<Item = f64> {
    let h: f64 = (1..=ZIPF_VOCAB)
        .map(|r| (r as f64).powf(-ZIPF_EXPONENT))
        .sum();
    (1..=ZIPF_VOCAB).map(move |r| (r as f64).powf(-ZIPF_EXPONENT) / h)
}

/// Seeded documents and queries of the model corpus.
pub struct ZipfCorpus {
    words: Vec<String>,
    cdf: Vec<f64>,
    mean_len: f64,
    state: u64,
}

impl ZipfCorpus {
    /// Documents of `mean_len` tokens on average (Poisson, at least 1), from `seed`.
    pub fn new(mean_len: f64, seed: u64) -> ZipfCorpus {
        let mut acc = 0.0;
        let cdf = zipf_probabilities()
            .map(|p| {
                acc += p;
                acc
            })
            .collect();
        ZipfCorpus {
            words: (0..ZIPF_VOCAB).map(zipf_word).collect(),
            cdf,
            mean_len,
            state: seed,
        }
    }

    /// A uniform number in [0, 1) (SplitMix64).
    fn uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn rank_at(&self, u: f64) -> usize {
        self.cdf.partition_point(|&c| c <= u).min(ZIPF_VOCAB - 1)
    }

    /// A Poisson draw around `mean_len` (Knuth's product below 500, a normal beyond).
    fn length(&mut self) -> usize {
        let m = self.mean_len;
        let n = if m < 500.0 {
            let (limit, mut prod, mut k) = ((-m).exp(), 1.0, 0usize);
            loop {
                prod *= self.uniform();
                if prod <= limit {
                    break k;
                }
                k += 1;
            }
        } else {
            let (u1, u2) = (self.uniform().max(1e-300), self.uniform());
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            (m + z * m.sqrt()).round().max(1.0) as usize
        };
        n.max(1)
    }

    /// A document's text: words drawn with the model's frequencies, separated by spaces.
    pub fn document(&mut self) -> String {
        let n = self.length();
        let mut text = String::with_capacity(n * 6);
        for i in 0..n {
            if i > 0 {
                text.push(' ');
            }
            let u = self.uniform();
            let r = self.rank_at(u);
            text.push_str(&self.words[r]);
        }
        text
    }

    /// A query of 2-10 words drawn with the corpus's frequencies, leaving out the most
    /// frequent words (as `bench/bm25_scale.py`'s queries).
    pub fn query(&mut self) -> String {
        let n = 2 + (self.uniform() * 9.0) as usize;
        let lo = self.cdf[SKIP_TOP - 1];
        (0..n)
            .map(|_| {
                let u = lo + self.uniform() * (1.0 - lo);
                self.words[self.rank_at(u)].clone()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Expected counts of an index over `docs` documents of `len` analysed tokens of the model.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ZipfStats {
    pub postings: f64,
    pub terms: f64,
    pub term_bytes: f64,
    pub blocks: f64,
    /// `postings.bin`: the block-coded documents and term frequencies.
    pub postings_bytes: f64,
}

/// `P(X >= k)` for each `k` in `0..out.len()`, X ~ Poisson(`lambda`).
fn poisson_tail(lambda: f64, out: &mut [f64]) {
    let mut pmf = (-lambda).exp();
    let mut below = 0.0f64;
    for (k, o) in out.iter_mut().enumerate() {
        *o = (1.0 - below).max(0.0);
        below += pmf;
        pmf *= lambda / (k + 1) as f64;
    }
}

/// Bits `bitpacking` gives the largest of these values (0 for 0).
fn bits_of(v: f64) -> f64 {
    let v = v.max(0.0).floor() as u64;
    f64::from(64 - v.leading_zeros())
}

/// Expected counts of `docs` documents of `len` tokens (see [`ZipfStats`]); with `full`
/// false only postings, terms and term bytes (what the memory model's bisection needs).
pub fn zipf_stats(docs: f64, len: f64, full: bool) -> ZipfStats {
    let mut s = ZipfStats::default();
    let mut tail = [0f64; 64];
    for (rank, p) in zipf_probabilities().enumerate() {
        // In a document with probability q; in the corpus with probability `present`.
        let q = -(len * (-p).ln_1p()).exp_m1();
        let mu = docs * q;
        let present = -(docs * (-q).ln_1p()).exp_m1();
        s.postings += mu;
        s.terms += present;
        s.term_bytes += present * zipf_word_len(rank) as f64;
        if !full || present <= 0.0 {
            continue;
        }
        let full_blocks = (mu - BLOCK / 2.0).max(0.0) / BLOCK;
        s.blocks += present + full_blocks;
        // tf - 1 of a posting: a Poisson count given at least one occurrence; a block's
        // width is that of its largest value (reached with even odds among `n` postings).
        poisson_tail(len * p, &mut tail);
        let tf_bits = |n: f64| {
            let t = (0..tail.len() - 2)
                .find(|&t| n * tail[t + 2] / tail[1].max(1e-300) < 0.5)
                .unwrap_or(tail.len() - 2);
            bits_of(t as f64)
        };
        // Gaps between a term's documents are geometric (mean 1/q): the largest of `n`.
        let gap_bits = |n: f64| {
            if q >= 1.0 {
                0.0
            } else {
                bits_of((2.0 * n).ln() / -(-q).ln_1p())
            }
        };
        let full_bytes = 2.0 + 16.0 * (gap_bits(BLOCK) + tf_bits(BLOCK));
        // The last block: the rest of a long list, or a rare term's few postings whose first
        // delta is its first document's ordinal (spacings of about docs / (n + 1)).
        let (n_short, doc_bits) = if mu >= BLOCK / 2.0 {
            let n = mu - BLOCK * full_blocks;
            (n, gap_bits(n))
        } else {
            let n = (mu / present).max(1.0);
            (n, bits_of(docs * ((n.ln() + 1.0) / (n + 1.0)).min(1.0)))
        };
        let short_bytes = 2.5 + n_short * (doc_bits + tf_bits(n_short)) / 8.0;
        s.postings_bytes += full_blocks * full_bytes + present * short_bytes;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_spell_ranks_like_the_python_generator() {
        // bench/bm25_scale.py: the least significant syllable first, then "x".
        assert_eq!(zipf_word(0), "bax");
        assert_eq!(zipf_word(1), "bex");
        assert_eq!(zipf_word(85), "babex");
        for r in [0, 84, 85, 7224, 7225, 299_999] {
            assert_eq!(zipf_word_len(r), zipf_word(r).len(), "rank {r}");
        }
    }

    #[test]
    fn generated_documents_have_the_modelled_postings_and_vocabulary() {
        let mut c = ZipfCorpus::new(56.0, 3);
        let n = 20_000;
        let mut vocab = std::collections::HashSet::new();
        let (mut postings, mut tokens) = (0usize, 0usize);
        for _ in 0..n {
            let d = c.document();
            let words: std::collections::HashSet<&str> = d.split(' ').collect();
            tokens += d.split(' ').count();
            postings += words.len();
            vocab.extend(words.into_iter().map(str::to_owned));
        }
        let s = zipf_stats(n as f64, 56.0, false);
        let rel = |a: f64, b: f64| (a - b).abs() / b;
        assert!(rel(tokens as f64 / n as f64, 56.0) < 0.01, "{tokens}");
        assert!(
            rel(s.postings, postings as f64) < 0.02,
            "{s:?} vs {postings}"
        );
        assert!(
            rel(s.terms, vocab.len() as f64) < 0.02,
            "{s:?} vs {}",
            vocab.len()
        );
    }
}
