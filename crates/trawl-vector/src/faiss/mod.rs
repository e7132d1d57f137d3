//! Import of FAISS's own index files (what `faiss.write_index` writes) into trawl's index types:
//! IndexFlatIP / IndexFlatL2 and IndexScalarQuantizer become an exact [`FlatIndex`] (the
//! scalar-quantised codes decoded as FAISS decodes them), IndexHNSWFlat an [`HnswIndex`] over
//! the same graph, IndexIVFFlat and IndexIVFPQ an [`IvfIndex`] over the same centroids, lists,
//! codebooks and codes. Searched with the same nprobe / ef, they answer as FAISS does.
//!
//! Document ordinals are FAISS labels: an IVF index's stored labels must be `0..ntotal`, each
//! once (what `index.add` gives; `add_with_ids` labels are refused with a clear error).

mod read;

use std::path::Path;

use half::f16;

use crate::array::Array;
use crate::hnsw::HnswParams;
use crate::ivf::{pq::KSUB, IvfCodec, IvfParams, Lists};
use crate::{FlatIndex, HnswIndex, IvfIndex, Metric, Precision, Result};

use read::{Raw, Reader, METRIC_L2};

/// A FAISS index converted to trawl's own type.
#[derive(Debug)]
pub enum FaissIndex {
    Flat(FlatIndex),
    Hnsw(HnswIndex),
    Ivf(IvfIndex),
}

/// What [`read_faiss`] returns.
#[derive(Debug)]
pub struct FaissImport {
    /// The file's fourcc (e.g. `IwPQ`).
    pub fourcc: String,
    pub index: FaissIndex,
}

impl FaissImport {
    pub fn dim(&self) -> usize {
        self.as_index().dim()
    }
    pub fn len(&self) -> usize {
        self.as_index().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn metric(&self) -> Metric {
        self.as_index().metric()
    }
    /// The index behind the common search interface.
    pub fn as_index(&self) -> &dyn crate::VectorIndex {
        match &self.index {
            FaissIndex::Flat(f) => f,
            FaissIndex::Hnsw(h) => h,
            FaissIndex::Ivf(i) => i,
        }
    }
    /// The vector of one ordinal as the index holds it: exact for flat, HNSW and IVF-Flat; the
    /// decoded codes for scalar quantisation; centroid + decoded residual for IVF-PQ (FAISS
    /// keeps no full vectors there).
    pub fn vector(&self, ordinal: u32) -> Option<Vec<f32>> {
        match &self.index {
            FaissIndex::Flat(f) => f.vector(ordinal),
            FaissIndex::Hnsw(h) => {
                let i = ordinal as usize;
                (i < h.len).then(|| h.vectors.rows_f32(i, i + 1, h.dim))
            }
            FaissIndex::Ivf(i) => i.reconstruct(ordinal),
        }
    }
    /// All vectors, row-major by ordinal (see [`FaissImport::vector`]).
    pub fn vectors(&self) -> Vec<f32> {
        match &self.index {
            FaissIndex::Flat(f) => f.to_f32_rows(),
            FaissIndex::Hnsw(h) => h.vectors.rows_f32(0, h.len, h.dim),
            FaissIndex::Ivf(i) => i.reconstruct_all(),
        }
    }
}

fn metric_of(code: i32) -> Metric {
    if code == METRIC_L2 {
        Metric::L2
    } else {
        Metric::InnerProduct
    }
}

/// Reads a FAISS index file and converts it (see the module docs).
pub fn read_faiss(path: impl AsRef<Path>) -> Result<FaissImport> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(crate::error::io(path))?;
    let mut r = Reader::new(&bytes, path);
    let raw = r.index()?;
    if r.pos() != bytes.len() {
        return Err(r.error(format!(
            "{} bytes after the end of the index (offset {}): not a single FAISS index file",
            bytes.len() - r.pos(),
            r.pos()
        )));
    }
    let fourcc = raw.fourcc().to_string();
    let index = convert(raw, &r)?;
    if index_len(&index) == 0 {
        return Err(r.error("the index holds no vectors".into()));
    }
    Ok(FaissImport { fourcc, index })
}

fn index_len(i: &FaissIndex) -> usize {
    match i {
        FaissIndex::Flat(f) => f.len(),
        FaissIndex::Hnsw(h) => h.len,
        FaissIndex::Ivf(i) => i.len,
    }
}

fn flat(h: read::Header, vectors: &[f32]) -> Result<FlatIndex> {
    let mut f = FlatIndex::new(h.d.max(1), metric_of(h.metric), Precision::F32)?;
    f.add(vectors)?;
    Ok(f)
}

fn convert(raw: Raw, r: &Reader<'_>) -> Result<FaissIndex> {
    match raw {
        Raw::Flat { h, vectors, .. } => Ok(FaissIndex::Flat(flat(h, &vectors)?)),
        Raw::Sq {
            h,
            qtype,
            code_size,
            trained,
            codes,
        } => {
            let v = decode_sq(h.d, qtype, code_size, &trained, &codes).map_err(|m| r.error(m))?;
            Ok(FaissIndex::Flat(flat(h, &v)?))
        }
        Raw::Hnsw { .. } => hnsw(raw, r).map(FaissIndex::Hnsw),
        Raw::Ivf { .. } => ivf(raw, r).map(FaissIndex::Ivf),
    }
}

/// FAISS ScalarQuantizer decoding: `vmin + (code + 0.5) / (2^bits - 1) * vdiff`, per dimension
/// (non-uniform: `trained` = d minima then d ranges) or shared (uniform: one of each).
fn decode_sq(
    d: usize,
    qtype: i32,
    code_size: usize,
    trained: &[f32],
    codes: &[u8],
) -> std::result::Result<Vec<f32>, String> {
    // (name, bits, uniform)
    let (name, bits, uniform) = match qtype {
        0 => ("QT_8bit", 8, false),
        1 => ("QT_4bit", 4, false),
        2 => ("QT_8bit_uniform", 8, true),
        3 => ("QT_4bit_uniform", 4, true),
        4 => ("QT_fp16", 16, false),
        5 => ("QT_8bit_direct", 8, false),
        7 => ("QT_bf16", 16, false),
        8 => ("QT_8bit_direct_signed", 8, false),
        q => {
            return Err(format!(
                "scalar quantizer type {q} is not supported (trawl decodes QT_8bit, QT_4bit, QT_8bit_uniform, QT_4bit_uniform, QT_fp16, QT_bf16, QT_8bit_direct, QT_8bit_direct_signed)"
            ))
        }
    };
    let expected = (d * bits).div_ceil(8);
    if code_size != expected {
        return Err(format!(
            "{name} over {d} dimensions has {expected}-byte codes, the file says {code_size}"
        ));
    }
    let ranged = matches!(qtype, 0..=3);
    let need = if !ranged {
        0
    } else if uniform {
        2
    } else {
        2 * d
    };
    if trained.len() != need {
        return Err(format!(
            "{name} needs {need} trained range values, the file holds {}",
            trained.len()
        ));
    }
    let n = codes.len().checked_div(code_size).unwrap_or(0);
    let mut out = Vec::with_capacity(n * d);
    for code in codes.chunks_exact(code_size.max(1)) {
        for i in 0..d {
            let x = match qtype {
                0..=3 => {
                    let (c, levels) = if bits == 8 {
                        (code[i] as f32, 255.0)
                    } else {
                        (((code[i / 2] >> ((i & 1) * 4)) & 0xf) as f32, 15.0)
                    };
                    let (vmin, vdiff) = if uniform {
                        (trained[0], trained[1])
                    } else {
                        (trained[i], trained[d + i])
                    };
                    vmin + (c + 0.5) / levels * vdiff
                }
                4 => f16::from_le_bytes([code[2 * i], code[2 * i + 1]]).to_f32(),
                7 => f32::from_bits(
                    (u16::from_le_bytes([code[2 * i], code[2 * i + 1]]) as u32) << 16,
                ),
                5 => code[i] as f32,
                _ => code[i] as f32 - 128.0,
            };
            out.push(x);
        }
    }
    Ok(out)
}

fn hnsw(raw: Raw, r: &Reader<'_>) -> Result<HnswIndex> {
    let Raw::Hnsw {
        h,
        cum_nneighbor_per_level: cum,
        levels,
        offsets,
        neighbors,
        entry_point,
        max_level,
        ef_construction,
        ef_search,
        storage,
    } = raw
    else {
        unreachable!("called on an HNSW index")
    };
    let vectors = match *storage {
        Raw::Flat { h: sh, vectors, .. } if sh.d == h.d && sh.ntotal == h.ntotal => vectors,
        other => {
            return Err(r.error(format!(
                "IndexHNSWFlat storage is `{}` with {} vectors of dimension {}: expected a flat index of {} vectors of dimension {}",
                other.fourcc(),
                other.header().ntotal,
                other.header().d,
                h.ntotal,
                h.d
            )))
        }
    };
    let n = h.ntotal;
    // trawl's layout: 2M links on level 0, M on each level above (FAISS's default).
    let m = if cum.len() > 2 {
        (cum[2] - cum[1]) as usize
    } else {
        cum.get(1).copied().unwrap_or(0).max(0) as usize / 2
    };
    let layout_ok = cum.first() == Some(&0)
        && (2..=255).contains(&m)
        && cum
            .windows(2)
            .enumerate()
            .all(|(l, w)| w[1] - w[0] == if l == 0 { 2 * m as i32 } else { m as i32 });
    if !layout_ok {
        return Err(r.error(format!(
            "HNSW neighbours per level {cum:?}: trawl imports graphs with 2M links on level 0 and M above (FAISS's default, M between 2 and 255)"
        )));
    }
    if levels.len() != n || offsets.len() != n + 1 {
        return Err(r.error(format!(
            "HNSW graph: {} levels and {} offsets for {n} vectors",
            levels.len(),
            offsets.len()
        )));
    }
    let bad = |msg: String| r.error(format!("corrupt HNSW graph: {msg}"));
    let mut upper_offsets = Vec::with_capacity(n + 1);
    upper_offsets.push(0u32);
    let mut acc = 0u64;
    for (i, &l) in levels.iter().enumerate() {
        if l < 1 || l as usize >= cum.len() {
            return Err(bad(format!("node {i} has {l} levels")));
        }
        let expected_end = offsets[i] + cum[l as usize] as u64;
        if offsets[i + 1] != expected_end || expected_end > neighbors.len() as u64 {
            return Err(bad(format!(
                "the neighbour range of node {i} is inconsistent"
            )));
        }
        acc += l as u64 - 1;
        upper_offsets.push(u32::try_from(acc).map_err(|_| bad("too many levels".into()))?);
    }
    if entry_point < 0
        || entry_point as usize >= n
        || max_level < 0
        || levels[entry_point as usize] != max_level + 1
    {
        return Err(bad(format!(
            "entry point {entry_point} is not a node on the top level {max_level}"
        )));
    }
    // Links, each list cut at its first -1 (where FAISS's search stops too).
    let links = |i: usize, level: usize| -> Result<Vec<u32>> {
        let s = offsets[i] as usize + cum[level] as usize;
        let e = offsets[i] as usize + cum[level + 1] as usize;
        let mut out = Vec::new();
        for &j in &neighbors[s..e] {
            if j < 0 {
                break;
            }
            if j as usize >= n {
                return Err(bad(format!("node {i} links to {j}, outside {n} nodes")));
            }
            out.push(j as u32);
        }
        Ok(out)
    };
    let mut layer0 = vec![0u32; n * (2 * m + 1)];
    let mut upper = vec![0u32; acc as usize * (m + 1)];
    for i in 0..n {
        let l0 = links(i, 0)?;
        let s = &mut layer0[i * (2 * m + 1)..(i + 1) * (2 * m + 1)];
        s[0] = l0.len() as u32;
        s[1..1 + l0.len()].copy_from_slice(&l0);
        for level in 1..levels[i] as usize {
            let ids = links(i, level)?;
            let block = upper_offsets[i] as usize + level - 1;
            let s = &mut upper[block * (m + 1)..(block + 1) * (m + 1)];
            s[0] = ids.len() as u32;
            s[1..1 + ids.len()].copy_from_slice(&ids);
        }
    }
    let params = HnswParams {
        m,
        ef_construction: ef_construction.max(1) as usize,
        ef_search: ef_search.max(1) as usize,
        seed: 0,
    };
    Ok(HnswIndex {
        dim: h.d,
        metric: metric_of(h.metric),
        params,
        len: n,
        entry: entry_point as u32,
        max_level: max_level as u32,
        vectors: crate::hnsw::Vectors::F32(Array::Owned(vectors)),
        layer0: Array::Owned(layer0),
        upper_offsets: Array::Owned(upper_offsets),
        upper: Array::Owned(upper),
    })
}

fn ivf(raw: Raw, r: &Reader<'_>) -> Result<IvfIndex> {
    let Raw::Ivf {
        fourcc,
        h,
        nlist,
        nprobe,
        quantizer,
        pq,
        code_size,
        lists,
    } = raw
    else {
        unreachable!("called on an IVF index")
    };
    let (probe_ip, centroids) = match *quantizer {
        Raw::Flat {
            fourcc: qf,
            h: qh,
            vectors,
        } if qh.d == h.d && qh.ntotal == nlist => (qf == "IxFI", vectors),
        other => {
            return Err(r.error(format!(
                "{fourcc}: the coarse quantizer is `{}` with {} centroids of dimension {}: trawl imports a flat quantizer (IndexFlatL2 or IndexFlatIP) of {nlist} centroids of dimension {}",
                other.fourcc(),
                other.header().ntotal,
                other.header().d,
                h.d
            )))
        }
    };
    let n = h.ntotal;
    if nlist == 0 || lists.len() != nlist {
        return Err(r.error(format!("{} inverted lists for nlist {nlist}", lists.len())));
    }
    // Labels must be the ordinals 0..n, each once.
    let mut seen = vec![false; n];
    let mut offsets = Vec::with_capacity(nlist + 1);
    offsets.push(0u64);
    let mut ids = Vec::with_capacity(n);
    for list in &lists {
        for &label in &list.ids {
            let ok = usize::try_from(label).ok().filter(|&l| l < n && !seen[l]);
            let Some(l) = ok else {
                return Err(r.error(format!(
                    "label {label} in the inverted lists: trawl needs the labels 0..{n} (each once), as `index.add` assigns them; an index built with `add_with_ids` cannot be imported (map its ids with --ids instead)"
                )));
            };
            seen[l] = true;
            ids.push(l as u32);
        }
        offsets.push(ids.len() as u64);
    }
    if ids.len() != n {
        return Err(r.error(format!(
            "the inverted lists hold {} vectors, the header says {n}",
            ids.len()
        )));
    }
    let codes: Vec<u8> = lists.iter().flat_map(|l| l.codes.iter().copied()).collect();
    let (codec, lists) = match pq {
        None => {
            let v = codes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect();
            (IvfCodec::Flat, Lists::Flat(Array::Owned(v)))
        }
        Some(p) => {
            if p.nbits != 8 || code_size != p.m || !h.d.is_multiple_of(p.m) {
                return Err(r.error(format!(
                    "IndexIVFPQ with M {} and {} bits per code ({code_size}-byte codes, dimension {}): trawl imports 8-bit codes with M dividing the dimension",
                    p.m, p.nbits, h.d
                )));
            }
            if !p.by_residual {
                return Err(r.error(
                    "IndexIVFPQ with by_residual = false is not supported (trawl encodes residuals against the coarse centroid)".into(),
                ));
            }
            debug_assert_eq!(p.centroids.len(), KSUB * h.d);
            (
                IvfCodec::Pq { m: p.m },
                Lists::pq(p.m, Array::Owned(codes), Array::Owned(p.centroids), h.d),
            )
        }
    };
    let params = IvfParams {
        nlist,
        codec,
        nprobe: nprobe.clamp(1, nlist),
        train_size: None,
        seed: 0,
        keep_vectors: false,
    };
    Ok(IvfIndex {
        dim: h.d,
        metric: metric_of(h.metric),
        params,
        len: n,
        centroids: Array::Owned(centroids),
        offsets: Array::Owned(offsets),
        ids: Array::Owned(ids),
        lists,
        full: None,
        probe_ip,
        cnorms: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sq8_decodes_as_faiss_does() {
        // d = 2, non-uniform ranges: vmin = [0, -1], vdiff = [1, 2].
        let v = decode_sq(2, 0, 2, &[0.0, -1.0, 1.0, 2.0], &[0, 255]).unwrap();
        assert!((v[0] - 0.5 / 255.0).abs() < 1e-7);
        assert!((v[1] - (-1.0 + 255.5 / 255.0 * 2.0)).abs() < 1e-6);
        let err = decode_sq(2, 6, 2, &[], &[0, 0]).unwrap_err();
        assert!(err.contains("type 6"), "{err}");
    }

    #[test]
    fn unknown_types_and_truncation_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.faiss");
        std::fs::write(&p, b"IxPQ\0\0").unwrap();
        let e = read_faiss(&p).unwrap_err().to_string();
        assert!(e.contains("`IxPQ` (IndexPQ)"), "{e}");
        std::fs::write(&p, b"IxF2\x04\0\0").unwrap();
        let e = read_faiss(&p).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
    }
}
