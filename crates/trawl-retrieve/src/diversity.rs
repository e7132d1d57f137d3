//! DARLING-style diversity rewards (Li et al. 2025, "Jointly Reinforcing Diversity and Quality in
//! Language Model Generations", arXiv:2509.02534): the rewrites of one prompt are grouped into
//! semantic-equivalence classes, and each rewrite's quality is combined with how different it
//! is from the others.
//!
//! Classes: two rewrites are equivalent when the cosine of their embeddings is at least the
//! threshold; classes are the connected components of that relation (union-find over all pairs),
//! numbered in order of first appearance.
//!
//! With `n` rewrites, `q_i` the quality of rewrite `i` and `|C(i)|` the size of its class:
//! - `Div_i = (n - |C(i)|) / (n - 1)`: the share of the other rewrites in another class (1 when
//!   `n = 1`), DARLING's per-response diversity;
//! - [`Combine::Darling`] (default): `q_i * Div_i`, DARLING's multiplicative fusion;
//! - [`Combine::Classes`]: `q_i * K / n` with `K` distinct classes (the normalised number of
//!   classes, the same factor for every rewrite of the prompt);
//! - [`Combine::Additive`]: `q_i + Div_i`, the additive fusion the paper compares against.
//!
//! The item's reward is the mean of its rewrites' combined rewards.

use serde::Serialize;

use crate::{Error, Result};

/// How quality and diversity are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Combine {
    #[default]
    Darling,
    Classes,
    Additive,
}

impl std::str::FromStr for Combine {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "darling" | "multiplicative" => Ok(Combine::Darling),
            "classes" => Ok(Combine::Classes),
            "additive" => Ok(Combine::Additive),
            other => Err(Error::InvalidArgument {
                field: "diversity.combine",
                message: format!(
                    "`{other}` is not a combination: use darling, classes or additive"
                ),
            }),
        }
    }
}

/// The classes of a prompt's rewrites and the combined rewards.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diversity {
    /// Class of each rewrite (0, 1, ... in order of first appearance).
    pub classes: Vec<usize>,
    pub num_classes: usize,
    /// `Div_i` of each rewrite.
    pub diversity: Vec<f64>,
    /// Quality combined with diversity, per rewrite.
    pub rewards: Vec<f64>,
    /// Their mean.
    pub reward: f64,
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        dot += f64::from(*x) * f64::from(*y);
        na += f64::from(*x) * f64::from(*x);
        nb += f64::from(*y) * f64::from(*y);
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    dot / (na.sqrt() * nb.sqrt())
}

/// Equivalence classes of `vectors`: cosine >= `threshold` joins two, transitively.
pub fn equivalence_classes(vectors: &[Vec<f32>], threshold: f64) -> Vec<usize> {
    let n = vectors.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for i in 0..n {
        for j in i + 1..n {
            if cosine(&vectors[i], &vectors[j]) >= threshold {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let mut ids = vec![usize::MAX; n];
    let mut next = 0;
    (0..n)
        .map(|i| {
            let root = find(&mut parent, i);
            if ids[root] == usize::MAX {
                ids[root] = next;
                next += 1;
            }
            ids[root]
        })
        .collect()
}

/// Combines per-rewrite `quality` with the diversity of `classes` (see the module docs).
pub fn combine(quality: &[f64], classes: &[usize], how: Combine) -> Diversity {
    let n = classes.len();
    let num_classes = classes.iter().copied().max().map_or(0, |m| m + 1);
    let diversity: Vec<f64> = classes
        .iter()
        .map(|c| {
            if n <= 1 {
                1.0
            } else {
                let size = classes.iter().filter(|d| *d == c).count();
                (n - size) as f64 / (n - 1) as f64
            }
        })
        .collect();
    let rewards: Vec<f64> = quality
        .iter()
        .zip(&diversity)
        .map(|(q, d)| match how {
            Combine::Darling => q * d,
            Combine::Classes => q * num_classes as f64 / n.max(1) as f64,
            Combine::Additive => q + d,
        })
        .collect();
    let reward = if rewards.is_empty() {
        0.0
    } else {
        rewards.iter().sum::<f64>() / rewards.len() as f64
    };
    Diversity {
        classes: classes.to_vec(),
        num_classes,
        diversity,
        rewards,
        reward,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_vectors_form_one_class_and_orthogonal_ones_separate() {
        let v = vec![
            vec![1.0, 0.0],
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![0.9, 0.1],
        ];
        assert_eq!(equivalence_classes(&v, 0.95), vec![0, 0, 1, 0]);
        assert_eq!(equivalence_classes(&v, 1.01), vec![0, 1, 2, 3]);
    }

    #[test]
    fn classes_are_transitive_through_a_chain() {
        // a~b and b~c but not a~c: one class (union-find).
        let v = vec![vec![1.0, 0.0], vec![0.8, 0.6], vec![0.28, 0.96]];
        assert_eq!(equivalence_classes(&v, 0.79), vec![0, 0, 0]);
    }

    #[test]
    fn formulas_against_hand_computed_values() {
        // 4 rewrites, classes {0,1}, {2}, {3}; qualities 0.5, 1.0, 0.2, 0.0.
        let q = [0.5, 1.0, 0.2, 0.0];
        let c = [0, 0, 1, 2];
        let d = combine(&q, &c, Combine::Darling);
        assert_eq!(d.num_classes, 3);
        // Div: (4-2)/3, (4-2)/3, (4-1)/3, (4-1)/3.
        let div = [2.0 / 3.0, 2.0 / 3.0, 1.0, 1.0];
        for (a, b) in d.diversity.iter().zip(div) {
            assert!((a - b).abs() < 1e-12);
        }
        let want = [0.5 * 2.0 / 3.0, 1.0 * 2.0 / 3.0, 0.2, 0.0];
        for (a, b) in d.rewards.iter().zip(want) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!((d.reward - (1.0 / 3.0 + 2.0 / 3.0 + 0.2) / 4.0).abs() < 1e-12);
        let k = combine(&q, &c, Combine::Classes);
        for (a, b) in k.rewards.iter().zip([0.375, 0.75, 0.15, 0.0]) {
            assert!((a - b).abs() < 1e-12);
        }
        let a = combine(&q, &c, Combine::Additive);
        for (x, y) in a
            .rewards
            .iter()
            .zip([0.5 + 2.0 / 3.0, 1.0 + 2.0 / 3.0, 1.2, 1.0])
        {
            assert!((x - y).abs() < 1e-12);
        }
        // All equivalent: no diversity; one rewrite: full diversity.
        assert_eq!(
            combine(&[1.0, 1.0], &[0, 0], Combine::Darling).rewards,
            vec![0.0, 0.0]
        );
        assert_eq!(combine(&[0.7], &[0], Combine::Darling).rewards, vec![0.7]);
    }
}
