//! The graph arrays, the layer search and the sequential, seeded build.

use std::cell::RefCell;
use std::collections::BinaryHeap;

use crate::rng::SplitMix64;
use crate::simd::{distance, has_avx2_fma};
use crate::Hit;

use super::HnswParams;

/// A node on the frontier: distance to the query (negated similarity) and ordinal. Ordered by
/// (distance, ordinal) so every heap, and so every build, is deterministic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cand {
    pub d: f32,
    pub id: u32,
}
impl Eq for Cand {}
impl Ord for Cand {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.d.total_cmp(&o.d).then(self.id.cmp(&o.id))
    }
}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// Visited marks by generation: clearing is one increment, not a pass over all nodes.
pub(crate) struct Visited {
    tags: Vec<u32>,
    generation: u32,
}

impl Visited {
    pub fn new() -> Self {
        Visited {
            tags: Vec::new(),
            generation: 0,
        }
    }
    fn reset(&mut self, n: usize) {
        if self.tags.len() < n {
            self.tags.resize(n, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.tags.fill(0);
            self.generation = 1;
        }
    }
    /// True when `i` was not yet visited (and marks it).
    #[inline(always)]
    fn insert(&mut self, i: u32) -> bool {
        let t = &mut self.tags[i as usize];
        if *t == self.generation {
            false
        } else {
            *t = self.generation;
            true
        }
    }
}

thread_local! {
    pub(crate) static VISITED: RefCell<Visited> = RefCell::new(Visited::new());
}

/// Borrowed graph arrays (owned after a build, memory-mapped after an open).
#[derive(Clone, Copy)]
pub(crate) struct GraphRef<'a> {
    pub dim: usize,
    /// Rank by squared L2 distance (else by negated inner product).
    pub l2: bool,
    pub m: usize,
    pub vectors: &'a [f32],
    pub layer0: &'a [u32],
    pub upper_offsets: &'a [u32],
    pub upper: &'a [u32],
    pub entry: u32,
    pub max_level: u32,
}

impl<'a> GraphRef<'a> {
    fn len(&self) -> usize {
        self.upper_offsets.len() - 1
    }

    #[inline(always)]
    fn row(&self, i: u32) -> &'a [f32] {
        let s = i as usize * self.dim;
        &self.vectors[s..s + self.dim]
    }

    #[inline(always)]
    fn dist(&self, q: &[f32], i: u32) -> f32 {
        distance(self.l2, q, self.row(i))
    }

    #[inline(always)]
    fn neighbors(&self, i: u32, level: u32) -> &'a [u32] {
        let (arr, start, w) = slot(self.m, self.upper_offsets, i, level);
        let arr = if arr == 0 { self.layer0 } else { self.upper };
        let b = &arr[start..start + w];
        &b[1..1 + b[0] as usize]
    }

    /// Moves to the closest neighbour on `level` until none is closer.
    #[inline(always)]
    fn greedy(&self, q: &[f32], mut cur: Cand, level: u32) -> Cand {
        loop {
            let mut changed = false;
            for &j in self.neighbors(cur.id, level) {
                let c = Cand {
                    d: self.dist(q, j),
                    id: j,
                };
                if c < cur {
                    cur = c;
                    changed = true;
                }
            }
            if !changed {
                return cur;
            }
        }
    }

    /// The `ef` closest nodes found on `level` from `ep`, ascending by (distance, ordinal).
    #[inline(always)]
    fn search_layer(
        &self,
        q: &[f32],
        ep: Cand,
        ef: usize,
        level: u32,
        visited: &mut Visited,
    ) -> Vec<Cand> {
        visited.reset(self.len());
        visited.insert(ep.id);
        let mut frontier = BinaryHeap::with_capacity(ef * 2);
        frontier.push(std::cmp::Reverse(ep));
        let mut best: BinaryHeap<Cand> = BinaryHeap::with_capacity(ef + 1);
        best.push(ep);
        while let Some(std::cmp::Reverse(c)) = frontier.pop() {
            let worst = *best.peek().expect("never empty");
            if c > worst && best.len() >= ef {
                break;
            }
            let nbs = self.neighbors(c.id, level);
            prefetch_rows(self, nbs);
            for &j in nbs {
                if !visited.insert(j) {
                    continue;
                }
                let cand = Cand {
                    d: self.dist(q, j),
                    id: j,
                };
                if best.len() < ef || cand < *best.peek().expect("never empty") {
                    frontier.push(std::cmp::Reverse(cand));
                    best.push(cand);
                    if best.len() > ef {
                        best.pop();
                    }
                }
            }
        }
        best.into_sorted_vec()
    }

    #[inline(always)]
    fn search_generic(&self, q: &[f32], k: usize, ef: usize, visited: &mut Visited) -> Vec<Hit> {
        let mut ep = Cand {
            d: self.dist(q, self.entry),
            id: self.entry,
        };
        for level in (1..=self.max_level).rev() {
            ep = self.greedy(q, ep, level);
        }
        let found = self.search_layer(q, ep, ef.max(k), 0, visited);
        found
            .into_iter()
            .take(k)
            .map(|c| Hit {
                doc: c.id,
                score: -c.d,
            })
            .collect()
    }

    /// The `k` best of an `ef`-wide search, best first.
    pub fn search(&self, q: &[f32], k: usize, ef: usize, visited: &mut Visited) -> Vec<Hit> {
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2(
                g: &GraphRef<'_>,
                q: &[f32],
                k: usize,
                ef: usize,
                v: &mut Visited,
            ) -> Vec<Hit> {
                g.search_generic(q, k, ef, v)
            }
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { avx2(self, q, k, ef, visited) };
        }
        self.search_generic(q, k, ef, visited)
    }
}

/// Asks for the first cache line of each neighbour's row before the distance loop needs it.
#[inline(always)]
fn prefetch_rows(g: &GraphRef<'_>, ids: &[u32]) {
    #[cfg(target_arch = "x86_64")]
    for &j in ids {
        let p = g.vectors.as_ptr().wrapping_add(j as usize * g.dim);
        // SAFETY: prefetch is a hint; it never faults, even on an invalid address.
        #[allow(unused_unsafe)]
        unsafe {
            std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (g, ids);
}

/// Which array (0: layer 0, 1: upper), the start of the slot and its width, for (node, level).
#[inline(always)]
fn slot(m: usize, upper_offsets: &[u32], i: u32, level: u32) -> (u8, usize, usize) {
    if level == 0 {
        let w = 2 * m + 1;
        (0, i as usize * w, w)
    } else {
        let w = m + 1;
        let block = upper_offsets[i as usize] as usize + level as usize - 1;
        (1, block * w, w)
    }
}

/// The arrays of a finished build.
pub(crate) struct Built {
    pub entry: u32,
    pub max_level: u32,
    pub layer0: Vec<u32>,
    pub upper_offsets: Vec<u32>,
    pub upper: Vec<u32>,
}

/// Levels drawn as in the paper: floor(-ln(U) / ln(M)), U uniform in (0, 1], capped at 30.
fn draw_levels(n: usize, m: usize, seed: u64) -> Vec<u32> {
    let mut rng = SplitMix64::new(seed);
    let mult = 1.0 / (m as f64).ln();
    (0..n)
        .map(|_| ((-rng.next_f64_open0().ln() * mult) as u32).min(30))
        .collect()
}

pub(crate) fn build(rows: &[f32], dim: usize, l2: bool, p: &HnswParams) -> Built {
    let n = rows.len() / dim;
    let m = p.m;
    let levels = draw_levels(n, m, p.seed);
    let mut upper_offsets = Vec::with_capacity(n + 1);
    let mut acc = 0u32;
    upper_offsets.push(0);
    for &l in &levels {
        acc += l;
        upper_offsets.push(acc);
    }
    let mut b = Builder {
        dim,
        l2,
        m,
        ef_construction: p.ef_construction,
        rows,
        levels: &levels,
        layer0: vec![0; n * (2 * m + 1)],
        upper: vec![0; acc as usize * (m + 1)],
        upper_offsets,
        entry: 0,
        max_level: levels.first().copied().unwrap_or(0),
    };
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(b: &mut Builder<'_>) {
            b.insert_all();
        }
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { avx2(&mut b) };
        return b.finish();
    }
    b.insert_all();
    b.finish()
}

struct Builder<'a> {
    dim: usize,
    l2: bool,
    m: usize,
    ef_construction: usize,
    rows: &'a [f32],
    levels: &'a [u32],
    layer0: Vec<u32>,
    upper_offsets: Vec<u32>,
    upper: Vec<u32>,
    entry: u32,
    max_level: u32,
}

impl<'a> Builder<'a> {
    fn finish(self) -> Built {
        Built {
            entry: self.entry,
            max_level: self.max_level,
            layer0: self.layer0,
            upper_offsets: self.upper_offsets,
            upper: self.upper,
        }
    }

    fn view(&self) -> GraphRef<'_> {
        GraphRef {
            dim: self.dim,
            l2: self.l2,
            m: self.m,
            vectors: self.rows,
            layer0: &self.layer0,
            upper_offsets: &self.upper_offsets,
            upper: &self.upper,
            entry: self.entry,
            max_level: self.max_level,
        }
    }

    #[inline(always)]
    fn row(&self, i: u32) -> &'a [f32] {
        let s = i as usize * self.dim;
        &self.rows[s..s + self.dim]
    }

    #[inline(always)]
    fn set_links(&mut self, i: u32, level: u32, ids: &[u32]) {
        let (arr, start, w) = slot(self.m, &self.upper_offsets, i, level);
        let arr = if arr == 0 {
            &mut self.layer0
        } else {
            &mut self.upper
        };
        debug_assert!(ids.len() < w);
        arr[start] = ids.len() as u32;
        arr[start + 1..start + 1 + ids.len()].copy_from_slice(ids);
    }

    /// hnswlib's neighbour heuristic: walk candidates nearest first and keep one only if it is
    /// closer to the base than to every one already kept (keeps links spread out).
    #[inline(always)]
    fn select(&self, cands: &[Cand], max: usize) -> Vec<u32> {
        if cands.len() <= max {
            return cands.iter().map(|c| c.id).collect();
        }
        let mut kept: Vec<u32> = Vec::with_capacity(max);
        for c in cands {
            if kept.len() >= max {
                break;
            }
            let rc = self.row(c.id);
            if kept
                .iter()
                .all(|&s| distance(self.l2, rc, self.row(s)) >= c.d)
            {
                kept.push(c.id);
            }
        }
        kept
    }

    #[inline(always)]
    fn insert_all(&mut self) {
        let n = self.levels.len();
        let mut visited = Visited::new();
        for i in 1..n as u32 {
            self.insert(i, &mut visited);
        }
    }

    #[inline(always)]
    fn insert(&mut self, i: u32, visited: &mut Visited) {
        let level = self.levels[i as usize];
        let q = self.row(i);
        let g = self.view();
        let mut ep = Cand {
            d: g.dist(q, self.entry),
            id: self.entry,
        };
        for lc in (level + 1..=self.max_level).rev() {
            ep = g.greedy(q, ep, lc);
        }
        for lc in (0..=level.min(self.max_level)).rev() {
            let found = self
                .view()
                .search_layer(q, ep, self.ef_construction, lc, visited);
            ep = found[0];
            let chosen = self.select(&found, self.m);
            self.set_links(i, lc, &chosen);
            let cap = if lc == 0 { 2 * self.m } else { self.m };
            for &s in &chosen {
                let current = self.view().neighbors(s, lc);
                if current.len() < cap {
                    let mut next = current.to_vec();
                    next.push(i);
                    self.set_links(s, lc, &next);
                } else {
                    let rs = self.row(s);
                    let mut cands: Vec<Cand> = current
                        .iter()
                        .chain(std::iter::once(&i))
                        .map(|&j| Cand {
                            d: distance(self.l2, rs, self.row(j)),
                            id: j,
                        })
                        .collect();
                    cands.sort_unstable();
                    let kept = self.select(&cands, cap);
                    self.set_links(s, lc, &kept);
                }
            }
        }
        if level > self.max_level {
            self.max_level = level;
            self.entry = i;
        }
    }
}
