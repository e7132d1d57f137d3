use std::cmp::Ordering;

/// One search result: the document's ordinal (insertion order) and its similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub doc: u32,
    pub score: f32,
}

impl Hit {
    /// Best first: higher score, then lower ordinal (NaN sorts last).
    pub fn rank_cmp(&self, other: &Hit) -> Ordering {
        let a = if self.score.is_nan() {
            f32::NEG_INFINITY
        } else {
            self.score
        };
        let b = if other.score.is_nan() {
            f32::NEG_INFINITY
        } else {
            other.score
        };
        b.total_cmp(&a).then(self.doc.cmp(&other.doc))
    }
}
