//! The graph arrays, the layer search and the seeded build (sequential, or parallel with a
//! lock per node).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::rng::SplitMix64;
use half::f16;

use crate::simd::{prefetch, with_space, Space, WithSpace};
use crate::sq::{dist_f16, has_fast_kernels, ScalarQuantizer, SqQuery};
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

/// One entry of a layer search's candidate pool: a node, its distance, and whether its
/// neighbours were expanded yet.
#[derive(Clone, Copy, Debug)]
struct Slot {
    c: Cand,
    done: bool,
}

/// Per-thread search state, reused by every query: visited marks, the candidate pool and the
/// buffers of fresh neighbours and their distances (no allocation per query).
pub(crate) struct Scratch {
    visited: Visited,
    /// The best `ef` nodes found so far, ascending by (distance, ordinal).
    pool: Vec<Slot>,
    fresh: Vec<u32>,
    dists: Vec<f32>,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            visited: Visited::new(),
            pool: Vec::new(),
            fresh: Vec::new(),
            dists: Vec::new(),
        }
    }

    /// The best `k` of the last layer search, ascending by (distance, ordinal).
    fn sorted_best(&self, k: usize) -> impl Iterator<Item = Cand> + '_ {
        self.pool.iter().take(k).map(|s| s.c)
    }
}

thread_local! {
    pub(crate) static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

/// Cache lines of each fresh neighbour's row asked for before its distance is computed (the
/// hardware prefetcher follows on from there).
const PREFETCH_LINES: usize = 2;

/// What a layer search needs from a graph: per (node, level), the neighbour list.
pub(crate) trait Graph {
    fn len(&self) -> usize;
    /// Calls `f` with the neighbours of `i` on `level`.
    fn with_neighbors<R>(&self, i: u32, level: u32, f: impl FnOnce(&[u32]) -> R) -> R;
    /// Asks for the neighbour list of `i` on `level` ahead of its expansion (a hint).
    #[inline(always)]
    fn prefetch_neighbors(&self, _i: u32, _level: u32) {}
}

/// Distances (smaller is nearer) from one query to stored rows, by ordinal (FAISS's
/// `DistanceComputer`): f32 rows through a [`Space`], f16 and sq8 rows through their kernels.
pub(crate) trait QueryDist {
    fn dist(&self, i: u32) -> f32;
    /// Four rows at once (their cache misses overlap).
    #[inline(always)]
    fn dist4(&self, ids: [u32; 4]) -> [f32; 4] {
        ids.map(|i| self.dist(i))
    }
    fn prefetch(&self, i: u32);
}

/// A query against f32 rows.
pub(crate) struct F32Dist<'a, S> {
    pub s: S,
    pub q: &'a [f32],
    pub rows: &'a [f32],
    pub dim: usize,
}

impl<S: Space> F32Dist<'_, S> {
    #[inline(always)]
    fn row(&self, i: u32) -> &[f32] {
        let s = i as usize * self.dim;
        &self.rows[s..s + self.dim]
    }
}

impl<S: Space> QueryDist for F32Dist<'_, S> {
    #[inline(always)]
    fn dist(&self, i: u32) -> f32 {
        self.s.dist(self.q, self.row(i))
    }
    #[inline(always)]
    fn dist4(&self, c: [u32; 4]) -> [f32; 4] {
        self.s.dist4(
            self.q,
            [
                self.row(c[0]),
                self.row(c[1]),
                self.row(c[2]),
                self.row(c[3]),
            ],
        )
    }
    #[inline(always)]
    fn prefetch(&self, i: u32) {
        prefetch(self.row(i), PREFETCH_LINES);
    }
}

/// A query against f16 rows.
struct F16Dist<'a> {
    q: &'a [f32],
    rows: &'a [f16],
    dim: usize,
    l2: bool,
    fast: bool,
}

impl F16Dist<'_> {
    #[inline(always)]
    fn row(&self, i: u32) -> &[f16] {
        let s = i as usize * self.dim;
        &self.rows[s..s + self.dim]
    }
}

impl QueryDist for F16Dist<'_> {
    #[inline(always)]
    fn dist(&self, i: u32) -> f32 {
        dist_f16(self.q, self.row(i), self.l2, self.fast)
    }
    #[inline(always)]
    fn prefetch(&self, i: u32) {
        prefetch(self.row(i), PREFETCH_LINES);
    }
}

/// A query against sq8 code rows.
struct Sq8Dist<'a> {
    q: SqQuery,
    step: &'a [f32],
    codes: &'a [u8],
    dim: usize,
    fast: bool,
}

impl Sq8Dist<'_> {
    #[inline(always)]
    fn row(&self, i: u32) -> &[u8] {
        let s = i as usize * self.dim;
        &self.codes[s..s + self.dim]
    }
}

impl QueryDist for Sq8Dist<'_> {
    #[inline(always)]
    fn dist(&self, i: u32) -> f32 {
        self.q.dist(self.step, self.row(i), self.fast)
    }
    #[inline(always)]
    fn prefetch(&self, i: u32) {
        prefetch(self.row(i), PREFETCH_LINES);
    }
}

/// The stored vectors of a graph.
#[derive(Clone, Copy)]
pub(crate) enum Stored<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
    Sq8(&'a ScalarQuantizer, &'a [u8]),
}

/// Borrowed graph arrays (owned after a build, memory-mapped after an open).
#[derive(Clone, Copy)]
pub(crate) struct GraphRef<'a> {
    pub dim: usize,
    /// Rank by squared L2 distance (else by negated inner product).
    pub l2: bool,
    pub m: usize,
    pub vectors: Stored<'a>,
    pub layer0: &'a [u32],
    pub upper_offsets: &'a [u32],
    pub upper: &'a [u32],
    pub entry: u32,
    pub max_level: u32,
}

impl Graph for GraphRef<'_> {
    fn len(&self) -> usize {
        self.upper_offsets.len() - 1
    }

    #[inline(always)]
    fn with_neighbors<R>(&self, i: u32, level: u32, f: impl FnOnce(&[u32]) -> R) -> R {
        let (arr, start, w) = slot(self.m, self.upper_offsets, i, level);
        let arr = if arr == 0 { self.layer0 } else { self.upper };
        let b = &arr[start..start + w];
        f(&b[1..1 + b[0] as usize])
    }

    #[inline(always)]
    fn prefetch_neighbors(&self, i: u32, level: u32) {
        prefetch_layer0(self.layer0, self.m, i, level);
    }
}

/// Asks for the first cache line (count and first links) of node `i`'s layer-0 slot.
#[inline(always)]
fn prefetch_layer0<T>(layer0: &[T], m: usize, i: u32, level: u32) {
    if level == 0 {
        let w = 2 * m + 1;
        if let Some(b) = layer0.get(i as usize * w..(i as usize + 1) * w) {
            prefetch(b, 1);
        }
    }
}

/// Distances from the query to rows `ids` into `out`, four rows at a time, prefetched.
#[inline(always)]
fn dists<D: QueryDist>(d: &D, ids: &[u32], out: &mut Vec<f32>) {
    out.clear();
    for &j in ids {
        d.prefetch(j);
    }
    let mut groups = ids.chunks_exact(4);
    for c in &mut groups {
        out.extend_from_slice(&d.dist4([c[0], c[1], c[2], c[3]]));
    }
    for &j in groups.remainder() {
        out.push(d.dist(j));
    }
}

/// Moves to the closest neighbour on `level` until none is closer.
#[inline(always)]
fn greedy<D: QueryDist, G: Graph>(
    g: &G,
    d: &D,
    mut cur: Cand,
    level: u32,
    dist_buf: &mut Vec<f32>,
) -> Cand {
    loop {
        let next = g.with_neighbors(cur.id, level, |nbs| {
            dists(d, nbs, dist_buf);
            let mut best = cur;
            for (&j, &d) in nbs.iter().zip(dist_buf.iter()) {
                best = best.min(Cand { d, id: j });
            }
            best
        });
        if next == cur {
            return cur;
        }
        cur = next;
    }
}

/// The `ef` closest nodes found on `level` from `ep`, left in `scratch.pool` nearest first.
/// Expands the nearest unexpanded node of the pool until every pooled node is expanded: the
/// same nodes, in the same order, as hnswlib's two heaps (a frontier min-heap and a best-`ef`
/// max-heap, stopping when the nearest frontier node is farther than the worst kept one),
/// since a node that has left the best `ef` is farther than all of them.
#[inline(always)]
fn search_layer<D: QueryDist, G: Graph>(
    g: &G,
    dq: &D,
    ep: Cand,
    ef: usize,
    level: u32,
    scratch: &mut Scratch,
) {
    let Scratch {
        visited,
        pool,
        fresh,
        dists: dist_buf,
    } = scratch;
    let ef = ef.max(1);
    visited.reset(g.len());
    visited.insert(ep.id);
    pool.clear();
    pool.push(Slot { c: ep, done: false });
    // Every slot before `cur` is expanded.
    let mut cur = 0;
    while cur < pool.len() {
        pool[cur].done = true;
        let id = pool[cur].c.id;
        fresh.clear();
        g.with_neighbors(id, level, |nbs| {
            for &j in nbs {
                if visited.insert(j) {
                    fresh.push(j);
                }
            }
        });
        dists(dq, fresh, dist_buf);
        // The lowest slot a fresh node went into (everything before it is unchanged).
        let mut low = cur + 1;
        for (&j, &d) in fresh.iter().zip(dist_buf.iter()) {
            let cand = Cand { d, id: j };
            let full = pool.len() >= ef;
            if full && cand >= pool[pool.len() - 1].c {
                continue;
            }
            let at = pool.partition_point(|s| s.c < cand);
            if full {
                pool.pop();
            }
            pool.insert(
                at,
                Slot {
                    c: cand,
                    done: false,
                },
            );
            g.prefetch_neighbors(j, level);
            low = low.min(at);
        }
        cur = low;
        while cur < pool.len() && pool[cur].done {
            cur += 1;
        }
    }
}

impl GraphRef<'_> {
    #[inline(always)]
    fn search_in<D: QueryDist>(
        &self,
        d: &D,
        k: usize,
        ef: usize,
        scratch: &mut Scratch,
    ) -> Vec<Hit> {
        let mut ep = Cand {
            d: d.dist(self.entry),
            id: self.entry,
        };
        for level in (1..=self.max_level).rev() {
            ep = greedy(self, d, ep, level, &mut scratch.dists);
        }
        search_layer(self, d, ep, ef.max(k), 0, scratch);
        scratch
            .sorted_best(k)
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
            rows: &'g [f32],
            q: &'q [f32],
            k: usize,
            ef: usize,
            scratch: &'s mut Scratch,
        }
        impl WithSpace for Job<'_, '_, '_> {
            type Out = Vec<Hit>;
            #[inline(always)]
            fn run<S: Space>(self, s: S) -> Vec<Hit> {
                let d = F32Dist {
                    s,
                    q: self.q,
                    rows: self.rows,
                    dim: self.g.dim,
                };
                self.g.search_in(&d, self.k, self.ef, self.scratch)
            }
        }
        let fast = has_fast_kernels();
        match self.vectors {
            Stored::F32(rows) => with_space(
                self.l2,
                Job {
                    g: self,
                    rows,
                    q,
                    k,
                    ef,
                    scratch,
                },
            ),
            Stored::F16(rows) => {
                let d = F16Dist {
                    q,
                    rows,
                    dim: self.dim,
                    l2: self.l2,
                    fast,
                };
                self.search_in(&d, k, ef, scratch)
            }
            Stored::Sq8(sq, codes) => {
                let d = Sq8Dist {
                    q: sq.query(q, self.l2),
                    step: sq.step(),
                    codes,
                    dim: self.dim,
                    fast,
                };
                self.search_in(&d, k, ef, scratch)
            }
        }
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

/// Builds the graph. `parallel`: insert on all rayon threads with a lock per node, as hnswlib
/// does (the graph then depends on thread timing); otherwise one thread in ordinal order, the
/// same bytes for the same input and seed.
pub(crate) fn build(rows: &[f32], dim: usize, l2: bool, p: &HnswParams, parallel: bool) -> Built {
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
    let zeros = |len: usize| (0..len).map(|_| AtomicU32::new(0)).collect::<Vec<_>>();
    let b = Builder {
        dim,
        m,
        ef_construction: p.ef_construction,
        rows,
        levels: &levels,
        layer0: zeros(n * (2 * m + 1)),
        upper: zeros(acc as usize * (m + 1)),
        upper_offsets,
        locks: (0..n).map(|_| Mutex::new(())).collect(),
        top: Mutex::new((0, levels.first().copied().unwrap_or(0))),
    };
    let threads = rayon::current_num_threads();
    if parallel && threads > 1 {
        // Workers take the next ordinal from one counter (as hnswlib's ParallelFor does), so
        // nodes go in roughly in order: splitting the range would start later chunks against an
        // almost empty graph.
        let next = AtomicUsize::new(1);
        (0..threads).into_par_iter().for_each(|_| {
            let mut scratch = Scratch::new();
            loop {
                let i = next.fetch_add(1, Relaxed);
                if i >= n {
                    break;
                }
                with_space(l2, Insert(&b, i as u32, &mut scratch));
            }
        });
    } else {
        let mut scratch = Scratch::new();
        for i in 1..n as u32 {
            with_space(l2, Insert(&b, i, &mut scratch));
        }
    }
    b.finish()
}

/// One insertion, run with the CPU's best distance kernels.
struct Insert<'b, 'a, 's>(&'b Builder<'a>, u32, &'s mut Scratch);
impl WithSpace for Insert<'_, '_, '_> {
    type Out = ();
    #[inline(always)]
    fn run<S: Space>(self, s: S) {
        self.0.insert(s, self.1, self.2)
    }
}

/// The graph under construction: links are atomics written under their node's lock, so
/// insertions may run on several threads (hnswlib's scheme).
struct Builder<'a> {
    dim: usize,
    m: usize,
    ef_construction: usize,
    rows: &'a [f32],
    levels: &'a [u32],
    layer0: Vec<AtomicU32>,
    upper_offsets: Vec<u32>,
    upper: Vec<AtomicU32>,
    locks: Vec<Mutex<()>>,
    /// (entry point, max level).
    top: Mutex<(u32, u32)>,
}

impl Graph for Builder<'_> {
    fn len(&self) -> usize {
        self.levels.len()
    }

    #[inline(always)]
    fn with_neighbors<R>(&self, i: u32, level: u32, f: impl FnOnce(&[u32]) -> R) -> R {
        let mut buf = [0u32; 2 * 255];
        let n = {
            let _g = lock(&self.locks[i as usize]);
            self.read_links(i, level, &mut buf)
        };
        f(&buf[..n])
    }

    #[inline(always)]
    fn prefetch_neighbors(&self, i: u32, level: u32) {
        prefetch_layer0(&self.layer0, self.m, i, level);
    }
}

fn lock(m: &Mutex<()>) -> std::sync::MutexGuard<'_, ()> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Builder<'_> {
    #[inline(always)]
    fn row(&self, i: u32) -> &[f32] {
        let s = i as usize * self.dim;
        &self.rows[s..s + self.dim]
    }

    fn finish(self) -> Built {
        let plain = |v: Vec<AtomicU32>| v.into_iter().map(AtomicU32::into_inner).collect();
        let (entry, max_level) = *lock_top(&self.top);
        Built {
            entry,
            max_level,
            layer0: plain(self.layer0),
            upper_offsets: self.upper_offsets,
            upper: plain(self.upper),
        }
    }

    fn slot_of(&self, i: u32, level: u32) -> (&[AtomicU32], usize) {
        let (arr, start, w) = slot(self.m, &self.upper_offsets, i, level);
        let arr = if arr == 0 { &self.layer0 } else { &self.upper };
        (&arr[start..start + w], w)
    }

    /// Copies the links of (i, level) into `out`; the caller holds i's lock.
    #[inline(always)]
    fn read_links(&self, i: u32, level: u32, out: &mut [u32]) -> usize {
        let (s, _) = self.slot_of(i, level);
        let n = s[0].load(Relaxed) as usize;
        for (o, a) in out[..n].iter_mut().zip(&s[1..1 + n]) {
            *o = a.load(Relaxed);
        }
        n
    }

    /// Replaces the links of (i, level); the caller holds i's lock.
    #[inline(always)]
    fn write_links(&self, i: u32, level: u32, ids: &[u32]) {
        let (s, w) = self.slot_of(i, level);
        debug_assert!(ids.len() < w);
        s[0].store(ids.len() as u32, Relaxed);
        for (a, &v) in s[1..].iter().zip(ids) {
            a.store(v, Relaxed);
        }
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
    fn insert<S: Space>(&self, s: S, i: u32, scratch: &mut Scratch) {
        let level = self.levels[i as usize];
        // A node that will top the graph holds the top lock for its whole insertion, so no
        // other thread starts from a half-linked entry point (as hnswlib does).
        let mut top_guard = Some(lock_top(&self.top));
        let (entry, max_level) = **top_guard.as_ref().expect("just set");
        if level <= max_level {
            top_guard = None;
        }
        let q = self.row(i);
        let dq = F32Dist {
            s,
            q,
            rows: self.rows,
            dim: self.dim,
        };
        let mut ep = Cand {
            d: s.dist(q, self.row(entry)),
            id: entry,
        };
        for lc in (level + 1..=max_level).rev() {
            ep = greedy(self, &dq, ep, lc, &mut scratch.dists);
        }
        let mut buf = [0u32; 2 * 255 + 1];
        for lc in (0..=level.min(max_level)).rev() {
            search_layer(self, &dq, ep, self.ef_construction, lc, scratch);
            let found: Vec<Cand> = scratch.sorted_best(usize::MAX).collect();
            ep = found[0];
            let chosen = self.select(s, &found, self.m);
            let cap = if lc == 0 { 2 * self.m } else { self.m };
            // In a parallel build another thread may already have linked to i on this level
            // (it started from i as an upper-level entry point): keep those links too.
            {
                let _g = lock(&self.locks[i as usize]);
                let len = self.read_links(i, lc, &mut buf);
                if len == 0 {
                    self.write_links(i, lc, &chosen);
                } else {
                    let mut ids: Vec<u32> = buf[..len].to_vec();
                    ids.extend(chosen.iter().filter(|c| !buf[..len].contains(c)));
                    let mut cands: Vec<Cand> = ids
                        .iter()
                        .map(|&j| Cand {
                            d: s.dist(q, self.row(j)),
                            id: j,
                        })
                        .collect();
                    cands.sort_unstable();
                    let kept = self.select(s, &cands, cap);
                    self.write_links(i, lc, &kept);
                }
            }
            for &n in &chosen {
                if n == i {
                    continue;
                }
                let _g = lock(&self.locks[n as usize]);
                let len = self.read_links(n, lc, &mut buf);
                if len < cap {
                    buf[len] = i;
                    self.write_links(n, lc, &buf[..len + 1]);
                } else {
                    let rn = self.row(n);
                    let mut cands: Vec<Cand> = buf[..len]
                        .iter()
                        .chain(std::iter::once(&i))
                        .map(|&j| Cand {
                            d: s.dist(rn, self.row(j)),
                            id: j,
                        })
                        .collect();
                    cands.sort_unstable();
                    let kept = self.select(s, &cands, cap);
                    self.write_links(n, lc, &kept);
                }
            }
        }
        if let Some(mut t) = top_guard {
            *t = (i, level);
        }
    }
}

fn lock_top(m: &Mutex<(u32, u32)>) -> std::sync::MutexGuard<'_, (u32, u32)> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use super::*;
    use crate::simd::Portable;

    /// hnswlib's layer search as written there: a frontier min-heap and a best-`ef` max-heap,
    /// stopping when the nearest frontier node is farther than the worst kept one.
    fn two_heaps<D: QueryDist, G: Graph>(g: &G, dq: &D, ep: Cand, ef: usize) -> Vec<Cand> {
        let mut seen = vec![false; g.len()];
        seen[ep.id as usize] = true;
        let mut frontier = BinaryHeap::from([Reverse(ep)]);
        let mut best = BinaryHeap::from([ep]);
        while let Some(Reverse(c)) = frontier.pop() {
            if c > *best.peek().unwrap() && best.len() >= ef {
                break;
            }
            g.with_neighbors(c.id, 0, |nbs| {
                for &j in nbs {
                    if std::mem::replace(&mut seen[j as usize], true) {
                        continue;
                    }
                    let cand = Cand {
                        d: dq.dist(j),
                        id: j,
                    };
                    if best.len() < ef || cand < *best.peek().unwrap() {
                        frontier.push(Reverse(cand));
                        best.push(cand);
                        if best.len() > ef {
                            best.pop();
                        }
                    }
                }
            });
        }
        best.into_sorted_vec()
    }

    #[test]
    fn the_pool_search_finds_what_hnswlibs_two_heaps_find_in_the_same_order() {
        let (n, dim, m) = (600, 12, 6);
        let mut rng = SplitMix64::new(7);
        let rows: Vec<f32> = (0..n * dim)
            .map(|_| rng.next_f64_open0() as f32 - 0.5)
            .collect();
        let p = HnswParams {
            m,
            ef_construction: 40,
            ef_search: 16,
            seed: 3,
        };
        let built = build(&rows, dim, false, &p, false);
        let g = GraphRef {
            dim,
            l2: false,
            m,
            vectors: Stored::F32(&rows),
            layer0: &built.layer0,
            upper_offsets: &built.upper_offsets,
            upper: &built.upper,
            entry: built.entry,
            max_level: built.max_level,
        };
        let mut scratch = Scratch::new();
        for qi in 0..40 {
            let q: Vec<f32> = (0..dim)
                .map(|_| rng.next_f64_open0() as f32 - 0.5)
                .collect();
            let dq = F32Dist {
                s: Portable { l2: false },
                q: &q,
                rows: &rows,
                dim,
            };
            // Entry points near and far, and pools narrower and wider than a node's links.
            let id = (qi * 37 % n) as u32;
            let ep = Cand { d: dq.dist(id), id };
            for ef in [1, 2, 5, 16, 64, 700] {
                search_layer(&g, &dq, ep, ef, 0, &mut scratch);
                let got: Vec<Cand> = scratch.sorted_best(usize::MAX).collect();
                assert_eq!(got, two_heaps(&g, &dq, ep, ef), "query {qi} ef {ef}");
            }
        }
    }
}
