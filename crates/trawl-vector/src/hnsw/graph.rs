//! The graph arrays, the layer search and the sequential, seeded build.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::rng::SplitMix64;
use crate::simd::{prefetch, with_space, Space, WithSpace};
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

/// Per-thread search state, reused by every query: visited marks, the two heaps and the
/// buffers of fresh neighbours and their distances (no allocation per query).
pub(crate) struct Scratch {
    visited: Visited,
    frontier: BinaryHeap<Reverse<Cand>>,
    best: BinaryHeap<Cand>,
    fresh: Vec<u32>,
    dists: Vec<f32>,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            visited: Visited::new(),
            frontier: BinaryHeap::new(),
            best: BinaryHeap::new(),
            fresh: Vec::new(),
            dists: Vec::new(),
        }
    }

    /// The best `k` of the last layer search, ascending by (distance, ordinal).
    fn sorted_best(&mut self, k: usize) -> Vec<Cand> {
        let mut v: Vec<Cand> = self.best.drain().collect();
        v.sort_unstable();
        v.truncate(k);
        v
    }
}

thread_local! {
    pub(crate) static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

/// Cache lines of each fresh neighbour's row asked for before its distance is computed (the
/// hardware prefetcher follows on from there).
const PREFETCH_LINES: usize = 2;

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
    fn neighbors(&self, i: u32, level: u32) -> &'a [u32] {
        let (arr, start, w) = slot(self.m, self.upper_offsets, i, level);
        let arr = if arr == 0 { self.layer0 } else { self.upper };
        let b = &arr[start..start + w];
        &b[1..1 + b[0] as usize]
    }

    /// Distances from `q` to rows `ids` into `out`, four rows at a time, prefetched.
    #[inline(always)]
    fn dists<S: Space>(&self, s: S, q: &[f32], ids: &[u32], out: &mut Vec<f32>) {
        out.clear();
        for &j in ids {
            prefetch(self.row(j), PREFETCH_LINES);
        }
        let mut groups = ids.chunks_exact(4);
        for g in &mut groups {
            let d = s.dist4(
                q,
                [
                    self.row(g[0]),
                    self.row(g[1]),
                    self.row(g[2]),
                    self.row(g[3]),
                ],
            );
            out.extend_from_slice(&d);
        }
        for &j in groups.remainder() {
            out.push(s.dist(q, self.row(j)));
        }
    }

    /// Moves to the closest neighbour on `level` until none is closer.
    #[inline(always)]
    fn greedy<S: Space>(
        &self,
        s: S,
        q: &[f32],
        mut cur: Cand,
        level: u32,
        dists: &mut Vec<f32>,
    ) -> Cand {
        loop {
            let nbs = self.neighbors(cur.id, level);
            self.dists(s, q, nbs, dists);
            let mut changed = false;
            for (&j, &d) in nbs.iter().zip(dists.iter()) {
                let c = Cand { d, id: j };
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

    /// The `ef` closest nodes found on `level` from `ep`, left in `scratch.best`. Stops, as
    /// hnswlib does, when the nearest unexpanded candidate is farther than the worst of `ef`
    /// kept ones.
    #[inline(always)]
    fn search_layer<S: Space>(
        &self,
        s: S,
        q: &[f32],
        ep: Cand,
        ef: usize,
        level: u32,
        scratch: &mut Scratch,
    ) {
        let Scratch {
            visited,
            frontier,
            best,
            fresh,
            dists,
        } = scratch;
        visited.reset(self.len());
        visited.insert(ep.id);
        frontier.clear();
        best.clear();
        frontier.push(Reverse(ep));
        best.push(ep);
        while let Some(Reverse(c)) = frontier.pop() {
            let worst = *best.peek().expect("never empty");
            if c > worst && best.len() >= ef {
                break;
            }
            fresh.clear();
            for &j in self.neighbors(c.id, level) {
                if visited.insert(j) {
                    fresh.push(j);
                }
            }
            self.dists(s, q, fresh, dists);
            for (&j, &d) in fresh.iter().zip(dists.iter()) {
                let cand = Cand { d, id: j };
                if best.len() < ef || cand < *best.peek().expect("never empty") {
                    frontier.push(Reverse(cand));
                    best.push(cand);
                    if best.len() > ef {
                        best.pop();
                    }
                }
            }
        }
    }

    #[inline(always)]
    fn search_in<S: Space>(
        &self,
        s: S,
        q: &[f32],
        k: usize,
        ef: usize,
        scratch: &mut Scratch,
    ) -> Vec<Hit> {
        let mut ep = Cand {
            d: s.dist(q, self.row(self.entry)),
            id: self.entry,
        };
        for level in (1..=self.max_level).rev() {
            ep = self.greedy(s, q, ep, level, &mut scratch.dists);
        }
        self.search_layer(s, q, ep, ef.max(k), 0, scratch);
        scratch
            .sorted_best(k)
            .into_iter()
            .map(|c| Hit {
                doc: c.id,
                score: -c.d,
            })
            .collect()
    }

    /// The `k` best of an `ef`-wide search, best first.
    pub fn search(&self, q: &[f32], k: usize, ef: usize, scratch: &mut Scratch) -> Vec<Hit> {
        struct Job<'g, 'q, 's> {
            g: &'g GraphRef<'g>,
            q: &'q [f32],
            k: usize,
            ef: usize,
            scratch: &'s mut Scratch,
        }
        impl WithSpace for Job<'_, '_, '_> {
            type Out = Vec<Hit>;
            #[inline(always)]
            fn run<S: Space>(self, s: S) -> Vec<Hit> {
                self.g.search_in(s, self.q, self.k, self.ef, self.scratch)
            }
        }
        with_space(
            self.l2,
            Job {
                g: self,
                q,
                k,
                ef,
                scratch,
            },
        )
    }
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
    struct All<'b, 'a>(&'b mut Builder<'a>);
    impl WithSpace for All<'_, '_> {
        type Out = ();
        #[inline(always)]
        fn run<S: Space>(self, s: S) {
            self.0.insert_all(s)
        }
    }
    with_space(l2, All(&mut b));
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
    fn select<S: Space>(&self, s: S, cands: &[Cand], max: usize) -> Vec<u32> {
        if cands.len() <= max {
            return cands.iter().map(|c| c.id).collect();
        }
        let mut kept: Vec<u32> = Vec::with_capacity(max);
        for c in cands {
            if kept.len() >= max {
                break;
            }
            let rc = self.row(c.id);
            if kept.iter().all(|&k| s.dist(rc, self.row(k)) >= c.d) {
                kept.push(c.id);
            }
        }
        kept
    }

    #[inline(always)]
    fn insert_all<S: Space>(&mut self, s: S) {
        let n = self.levels.len();
        let mut scratch = Scratch::new();
        for i in 1..n as u32 {
            self.insert(s, i, &mut scratch);
        }
    }

    #[inline(always)]
    fn insert<S: Space>(&mut self, s: S, i: u32, scratch: &mut Scratch) {
        let level = self.levels[i as usize];
        let q = self.row(i);
        let g = self.view();
        let mut ep = Cand {
            d: s.dist(q, g.row(self.entry)),
            id: self.entry,
        };
        for lc in (level + 1..=self.max_level).rev() {
            ep = g.greedy(s, q, ep, lc, &mut scratch.dists);
        }
        for lc in (0..=level.min(self.max_level)).rev() {
            self.view()
                .search_layer(s, q, ep, self.ef_construction, lc, scratch);
            let found = scratch.sorted_best(usize::MAX);
            ep = found[0];
            let chosen = self.select(s, &found, self.m);
            self.set_links(i, lc, &chosen);
            let cap = if lc == 0 { 2 * self.m } else { self.m };
            for &n in &chosen {
                let current = self.view().neighbors(n, lc);
                if current.len() < cap {
                    let mut next = current.to_vec();
                    next.push(i);
                    self.set_links(n, lc, &next);
                } else {
                    let rn = self.row(n);
                    let mut cands: Vec<Cand> = current
                        .iter()
                        .chain(std::iter::once(&i))
                        .map(|&j| Cand {
                            d: s.dist(rn, self.row(j)),
                            id: j,
                        })
                        .collect();
                    cands.sort_unstable();
                    let kept = self.select(s, &cands, cap);
                    self.set_links(n, lc, &kept);
                }
            }
        }
        if level > self.max_level {
            self.max_level = level;
            self.entry = i;
        }
    }
}
