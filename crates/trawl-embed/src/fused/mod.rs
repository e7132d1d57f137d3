//! The CPU forward pass: sequences are packed without padding into one [tokens, hidden] matrix
//! for the dense layers (one gemm each), attention runs per (sequence, head) on strided views,
//! and bias, GELU, softmax, residual and LayerNorm are fused vectorised passes.

use trawl_kernels::int8::{self, QuantizedLinear};
use trawl_kernels::rows as kernels;
use trawl_kernels::SharedMut;

use rayon::prelude::*;

use crate::config::BertConfig;
use crate::weights::Weights;

pub(crate) struct FusedBert {
    cfg: BertConfig,
    w: Weights<Vec<f32>>,
    /// Per layer, the int8 copies of its four Linear weights (then the f32 ones are dropped).
    int8: Option<Vec<Int8Layer>>,
}

/// One layer's Linear weights quantised per output channel (`--quantize int8`).
struct Int8Layer {
    qkv: QuantizedLinear,
    attn_out: QuantizedLinear,
    inter: QuantizedLinear,
    out: QuantizedLinear,
}

/// One Linear layer's weight: f32 (`n` x `k`) or int8.
#[derive(Clone, Copy)]
enum LinearWeight<'a> {
    F32(&'a [f32]),
    Int8(&'a QuantizedLinear),
}

impl<'a> LinearWeight<'a> {
    /// The int8 weight when the model is quantised, else the f32 one.
    fn of(f32: &'a [f32], int8: Option<&'a QuantizedLinear>) -> Self {
        int8.map_or(LinearWeight::F32(f32), LinearWeight::Int8)
    }
}

/// `dst (m x n) = x (m x k) W^T [+ bias]`, on gemm (f32) or the int8 kernel, whose rows are
/// quantised per token; row blocks spread over the rayon pool when `threads > 1`.
#[allow(clippy::too_many_arguments)]
fn project(
    dst: &mut [f32],
    x: &[f32],
    w: LinearWeight<'_>,
    bias: &[f32],
    m: usize,
    n: usize,
    k: usize,
    threads: usize,
) {
    match w {
        LinearWeight::F32(w) => {
            if !bias.is_empty() {
                for row in dst[..m * n].chunks_exact_mut(n) {
                    row.copy_from_slice(bias);
                }
            }
            let par = if threads > 1 {
                gemm::Parallelism::Rayon(threads)
            } else {
                gemm::Parallelism::None
            };
            linear(dst, x, w, m, n, k, !bias.is_empty(), par);
        }
        LinearWeight::Int8(q) => {
            // Rows are independent (each token has its own scale): blocks of rows in parallel.
            let block = m.div_ceil(4 * threads).next_multiple_of(48);
            if threads > 1 && m > block {
                dst[..m * n]
                    .par_chunks_mut(block * n)
                    .zip(x[..m * k].par_chunks(block * k))
                    .for_each(|(d, x)| int8::linear(d, x, x.len() / k, q, bias));
            } else {
                int8::linear(dst, x, m, q, bias);
            }
        }
    }
}

/// `dst (m x n) [+]= lhs (m x k, row stride lhs_rs) * rhs^T` where rhs is n x k row-major
/// (a PyTorch Linear weight).
#[allow(clippy::too_many_arguments)]
pub(crate) fn linear(
    dst: &mut [f32],
    lhs: &[f32],
    w: &[f32],
    m: usize,
    n: usize,
    k: usize,
    accumulate: bool,
    par: gemm::Parallelism,
) {
    assert!(dst.len() >= m * n && lhs.len() >= m * k && w.len() >= n * k);
    // SAFETY: bounds asserted above; dst row-major m x n, lhs row-major m x k, rhs read as
    // the transpose of the row-major n x k weight (column stride k, row stride 1).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            1,
            k as isize,
            w.as_ptr(),
            k as isize,
            1,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// `scores (len x len, row-major) = scale * Q K^T`, plus what `scores` held when `accumulate`;
/// Q and K are `len x dh` with rows `rs` floats apart (one head of a fused QKV buffer).
///
/// # Safety
/// `scores` must hold `len * len` floats, `q` and `k` `len` rows of stride `rs` with `dh`
/// readable floats each.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn attention_scores(
    scores: *mut f32,
    q: *const f32,
    k: *const f32,
    len: usize,
    dh: usize,
    rs: isize,
    accumulate: bool,
    scale: f32,
) {
    gemm::gemm(
        len,
        len,
        dh,
        scores,
        1,
        len as isize,
        accumulate,
        q,
        1,
        rs,
        k,
        rs,
        1,
        if accumulate { 1.0 } else { 0.0 },
        scale,
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
}

/// `out (len x dh, rows out_rs floats apart) = P V` for row-major probabilities `p` (`len x len`)
/// and values `v` (`len x dh`, rows `rs` apart).
///
/// # Safety
/// `out` must be writable for `len` rows of stride `out_rs` with `dh` floats each, `p` hold
/// `len * len` floats and `v` `len` rows of stride `rs` with `dh` readable floats each.
pub(crate) unsafe fn attention_values(
    out: *mut f32,
    out_rs: isize,
    p: *const f32,
    v: *const f32,
    len: usize,
    dh: usize,
    rs: isize,
) {
    gemm::gemm(
        len,
        dh,
        len,
        out,
        1,
        out_rs,
        false,
        p,
        1,
        len as isize,
        v,
        1,
        rs,
        0.0,
        1.0,
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
}

/// Runs `task(scratch, (sequence, head))` for every sequence `0..n` and head `0..heads`, on the
/// rayon pool when `threads > 1` (each worker reusing its own scratch buffer).
pub(crate) fn for_each_head(
    n: usize,
    heads: usize,
    threads: usize,
    task: impl Fn(&mut Vec<f32>, (usize, usize)) + Sync + Send,
) {
    let jobs = (0..n).flat_map(|i| (0..heads).map(move |hd| (i, hd)));
    if threads > 1 {
        jobs.collect::<Vec<_>>()
            .into_par_iter()
            .for_each_init(Vec::new, task);
    } else {
        let mut scores = Vec::new();
        jobs.for_each(|j| task(&mut scores, j));
    }
}

impl FusedBert {
    pub fn new(cfg: BertConfig, w: Weights<Vec<f32>>) -> FusedBert {
        FusedBert { cfg, w, int8: None }
    }

    /// Quantises the Linear layers of every encoder layer (QKV, attention output, FFN in and
    /// out) to int8 per output channel and frees their f32 weights; embeddings, LayerNorms,
    /// biases, attention and pooling stay f32. Activations are quantised per token as they come.
    pub fn quantize_int8(&mut self) {
        let (h, inter) = (self.cfg.hidden_size, self.cfg.intermediate_size);
        let layers = self
            .w
            .layers
            .iter_mut()
            .map(|l| {
                let q = Int8Layer {
                    qkv: QuantizedLinear::new(&l.qkv_w, 3 * h, h),
                    attn_out: QuantizedLinear::new(&l.attn_out_w, h, h),
                    inter: QuantizedLinear::new(&l.inter_w, inter, h),
                    out: QuantizedLinear::new(&l.out_w, h, inter),
                };
                for w in [
                    &mut l.qkv_w,
                    &mut l.attn_out_w,
                    &mut l.inter_w,
                    &mut l.out_w,
                ] {
                    *w = Vec::new();
                }
                q
            })
            .collect();
        self.int8 = Some(layers);
    }

    /// Whether [`FusedBert::quantize_int8`] ran.
    pub fn is_int8(&self) -> bool {
        self.int8.is_some()
    }

    /// Hidden states of the last layer for each sequence, packed: row `starts[i] + p` is token
    /// `p` of sequence `i`. `threads > 1` spreads the work of this one batch over the rayon pool.
    pub fn forward(&self, seqs: &[Vec<u32>], threads: usize) -> (Vec<f32>, Vec<usize>) {
        self.forward_typed(seqs, None, threads)
    }

    /// [`FusedBert::forward`] with token type ids (`types[i][p]` for token `p` of sequence `i`;
    /// None: type 0 everywhere). Cross-encoders mark the second text of a pair with type 1.
    pub fn forward_typed(
        &self,
        seqs: &[Vec<u32>],
        types: Option<&[Vec<u32>]>,
        threads: usize,
    ) -> (Vec<f32>, Vec<usize>) {
        let c = &self.cfg;
        let (h, inter) = (c.hidden_size, c.intermediate_size);
        let mut starts = Vec::with_capacity(seqs.len() + 1);
        let mut t = 0;
        for s in seqs {
            starts.push(t);
            t += s.len();
        }
        starts.push(t);
        let eps = c.layer_norm_eps as f32;

        // Embeddings: word + position (from the family's offset) + token type, then LayerNorm.
        let type_rows = self.w.token_type.len() / h;
        let offset = c.position_offset;
        let mut x = vec![0f32; t * h];
        for (i, s) in seqs.iter().enumerate() {
            for (p, &id) in s.iter().enumerate() {
                let row = &mut x[(starts[i] + p) * h..(starts[i] + p + 1) * h];
                let wi = (id as usize).min(c.vocab_size - 1);
                let ti = types.map_or(0, |t| (t[i][p] as usize).min(type_rows - 1));
                let (we, pe, te) = (
                    &self.w.word[wi * h..(wi + 1) * h],
                    &self.w.position[(p + offset) * h..(p + offset + 1) * h],
                    &self.w.token_type[ti * h..(ti + 1) * h],
                );
                for j in 0..h {
                    row[j] = we[j] + pe[j] + te[j];
                }
            }
        }
        self.rows(&mut x, h, threads, |rows, _| {
            kernels::residual_layer_norm(rows, &[], &[], &self.w.emb_ln_g, &self.w.emb_ln_b, eps)
        });

        let longest = seqs.iter().map(Vec::len).max().unwrap_or(0);
        let buckets = self
            .w
            .relative_bias
            .as_ref()
            .map(|_| crate::relative::relative_buckets_up_to(longest));
        let mut qkv = vec![0f32; t * 3 * h];
        let mut ctx = vec![0f32; t * h];
        let mut tmp = vec![0f32; t * h];
        let mut mid = vec![0f32; t * inter];
        for (i, l) in self.w.layers.iter().enumerate() {
            let q = self.int8.as_ref().map(|q| &q[i]);
            let w = LinearWeight::of(&l.qkv_w, q.map(|q| &q.qkv));
            project(&mut qkv, &x, w, &l.qkv_b, t, 3 * h, h, threads);
            self.attention(&qkv, &mut ctx, &starts, buckets.as_deref(), threads);
            let w = LinearWeight::of(&l.attn_out_w, q.map(|q| &q.attn_out));
            project(&mut tmp, &ctx, w, &[], t, h, h, threads);
            self.rows2(&mut x, &tmp, h, threads, |xr, yr| {
                kernels::residual_layer_norm(xr, yr, &l.attn_out_b, &l.ln1_g, &l.ln1_b, eps)
            });
            let w = LinearWeight::of(&l.inter_w, q.map(|q| &q.inter));
            project(&mut mid, &x, w, &[], t, inter, h, threads);
            self.rows(&mut mid, inter, threads, |rows, _| {
                kernels::gelu_bias_rows(rows, &l.inter_b)
            });
            let w = LinearWeight::of(&l.out_w, q.map(|q| &q.out));
            project(&mut tmp, &mid, w, &[], t, h, inter, threads);
            self.rows2(&mut x, &tmp, h, threads, |xr, yr| {
                kernels::residual_layer_norm(xr, yr, &l.out_b, &l.ln2_g, &l.ln2_b, eps)
            });
        }
        (x, starts)
    }

    /// Applies `f` to row blocks of `x` (width `w`), in parallel when `threads > 1`.
    fn rows(&self, x: &mut [f32], w: usize, threads: usize, f: impl Fn(&mut [f32], usize) + Sync) {
        if threads > 1 {
            x.par_chunks_mut(64 * w)
                .enumerate()
                .for_each(|(i, c)| f(c, i));
        } else {
            f(x, 0);
        }
    }

    fn rows2(
        &self,
        x: &mut [f32],
        y: &[f32],
        w: usize,
        threads: usize,
        f: impl Fn(&mut [f32], &[f32]) + Sync,
    ) {
        if threads > 1 {
            x.par_chunks_mut(64 * w)
                .zip(y.par_chunks(64 * w))
                .for_each(|(a, b)| f(a, b));
        } else {
            f(x, y);
        }
    }

    /// Self-attention of every (sequence, head): softmax(Q K^T / sqrt(d) [+ relative bias]) V
    /// into `ctx`. `buckets` (MPNet): the bucket of each relative distance, see
    /// [`crate::relative::relative_buckets_up_to`].
    fn attention(
        &self,
        qkv: &[f32],
        ctx: &mut [f32],
        starts: &[usize],
        buckets: Option<&[usize]>,
        threads: usize,
    ) {
        let c = &self.cfg;
        let (h, heads) = (c.hidden_size, c.num_attention_heads);
        let dh = h / heads;
        let scale = 1.0 / (dh as f32).sqrt();
        let n = starts.len() - 1;
        let out = SharedMut::new(ctx);
        assert!(ctx.len() >= starts[n] * h && qkv.len() >= starts[n] * 3 * h);
        let task = |scores: &mut Vec<f32>, (i, head): (usize, usize)| {
            let (s0, len) = (starts[i], starts[i + 1] - starts[i]);
            scores.resize(len * len, 0.0);
            let bias = self.w.relative_bias.as_deref().zip(buckets);
            if let Some((table, buckets)) = bias {
                // buckets has 2 * longest - 1 entries; distance 0 sits in the middle.
                let mid = buckets.len() / 2;
                for (i, row) in scores[..len * len].chunks_exact_mut(len).enumerate() {
                    for (j, x) in row.iter_mut().enumerate() {
                        *x = table[buckets[mid + j - i] * heads + head];
                    }
                }
            }
            let base = s0 * 3 * h + head * dh;
            // SAFETY: all reads stay inside qkv rows s0..s0+len (asserted length above); the
            // write goes to ctx rows s0..s0+len, columns head*dh..(head+1)*dh, a region no
            // other task touches.
            unsafe {
                let q = qkv.as_ptr().add(base);
                let k = qkv.as_ptr().add(base + h);
                let v = qkv.as_ptr().add(base + 2 * h);
                let rs = 3 * h as isize;
                attention_scores(
                    scores.as_mut_ptr(),
                    q,
                    k,
                    len,
                    dh,
                    rs,
                    bias.is_some(),
                    scale,
                );
                kernels::softmax_rows(&mut scores[..len * len], len);
                let o = out.ptr().add(s0 * h + head * dh);
                attention_values(o, h as isize, scores.as_ptr(), v, len, dh, rs);
            }
        };
        for_each_head(n, heads, threads, task);
    }
}
