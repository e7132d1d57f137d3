//! Top-k selection by partial selection: candidates above the running threshold go into a buffer
//! that is cut back to k (select_nth_unstable) whenever it doubles.

use crate::Hit;

/// The best `k` of a stream of (doc, score) pairs; see [`crate::Hit::rank_cmp`] for the order.
pub struct TopK {
    k: usize,
    buf: Vec<Hit>,
    /// Score of the k-th best seen so far once the buffer has been cut; -inf before.
    threshold: f32,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            buf: Vec::with_capacity(2 * k.min(1 << 16) + 1),
            threshold: f32::NEG_INFINITY,
        }
    }

    /// Offers the scores of documents `first_doc..first_doc + scores.len()` (increasing ordinals,
    /// so a later equal score never displaces an earlier one).
    #[inline]
    pub fn push_row(&mut self, first_doc: u32, scores: &[f32]) {
        if self.k == 0 {
            return;
        }
        for (i, &s) in scores.iter().enumerate() {
            if s > self.threshold || self.buf.len() < self.k {
                self.buf.push(Hit {
                    doc: first_doc + i as u32,
                    score: s,
                });
                if self.buf.len() >= 2 * self.k {
                    self.cut();
                }
            }
        }
    }

    /// Offers one document, in any order: a score equal to the k-th best is kept until the
    /// next cut decides the tie by ordinal, so the result does not depend on the order of the
    /// offers (an IVF index offers its lists in probe order or, batched, in list order).
    #[inline]
    pub fn push(&mut self, doc: u32, score: f32) {
        if self.k == 0 {
            return;
        }
        if score >= self.threshold || self.buf.len() < self.k {
            self.buf.push(Hit { doc, score });
            if self.buf.len() >= 2 * self.k {
                self.cut();
            }
        }
    }

    /// The k-th best score held (-inf until k have been seen): a document offered in
    /// increasing ordinal order must beat it to enter; one offered out of order by
    /// [`TopK::push`] may also tie it (the lower ordinal wins the tie).
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.buf.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.threshold
        }
    }

    fn cut(&mut self) {
        if self.buf.len() >= self.k {
            self.buf.select_nth_unstable_by(self.k - 1, Hit::rank_cmp);
            self.buf.truncate(self.k);
            // After select_nth the k-th best sits last; NaN ranks as -inf.
            let worst = self.buf[self.k - 1].score;
            self.threshold = if worst.is_nan() {
                f32::NEG_INFINITY
            } else {
                worst
            };
        }
    }

    pub fn merge(&mut self, other: TopK) {
        if self.k == 0 {
            return;
        }
        self.buf.extend(other.buf);
        if self.buf.len() >= 2 * self.k {
            self.cut();
        }
    }

    pub fn into_sorted(mut self) -> Vec<Hit> {
        if self.k > 0 {
            self.cut();
        }
        self.buf.sort_unstable_by(Hit::rank_cmp);
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_equals_a_full_sort_on_a_stream_with_ties() {
        let scores: Vec<f32> = (0..1000u32).map(|i| ((i * 7919) % 97) as f32).collect();
        for k in [0, 1, 5, 96, 2000] {
            let mut a = TopK::new(k);
            a.push_row(0, &scores[..500]);
            let mut b = TopK::new(k);
            for (i, &s) in scores.iter().enumerate().skip(500) {
                b.push(i as u32, s);
            }
            a.merge(b);
            let mut want: Vec<Hit> = scores
                .iter()
                .enumerate()
                .map(|(i, &score)| Hit {
                    doc: i as u32,
                    score,
                })
                .collect();
            want.sort_by(Hit::rank_cmp);
            want.truncate(k);
            assert_eq!(a.into_sorted(), want, "k = {k}");
        }
    }

    #[test]
    fn push_in_descending_ordinal_order_keeps_the_lower_ordinals_of_a_tie() {
        // Ties at the k-th score offered from the highest ordinal down: the lowest ordinals
        // must win, whatever the order of the offers.
        let mut top = TopK::new(3);
        for doc in (0..50u32).rev() {
            top.push(doc, if doc % 10 == 0 { 2.0 } else { 1.0 });
        }
        let got: Vec<u32> = top.into_sorted().iter().map(|h| h.doc).collect();
        assert_eq!(got, vec![0, 10, 20]);
        let mut top = TopK::new(4);
        for doc in (0..50u32).rev() {
            top.push(doc, 1.0);
        }
        let got: Vec<u32> = top.into_sorted().iter().map(|h| h.doc).collect();
        assert_eq!(got, vec![0, 1, 2, 3]);
    }
}
