//! FAISS's binary index format, read as `faiss/impl/index_read.cpp` writes it down: a fourcc,
//! then the fields of that index type, little endian; `std::vector`s as a u64 count and the
//! elements. Every read is bounds-checked (a truncated file is an error naming what was being
//! read, never a panic), and no count is trusted before the bytes it promises are there.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// FAISS `MetricType` values trawl reads.
pub(crate) const METRIC_INNER_PRODUCT: i32 = 0;
pub(crate) const METRIC_L2: i32 = 1;

/// The fields of FAISS's `Index` header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub d: usize,
    pub ntotal: usize,
    pub metric: i32,
}

/// One inverted list: labels and codes (`ids.len() * code_size` bytes).
pub(crate) struct List {
    pub ids: Vec<i64>,
    pub codes: Vec<u8>,
}

/// An index as stored, before conversion to trawl's types.
pub(crate) enum Raw {
    /// `IxFI` (IndexFlatIP), `IxF2` (IndexFlatL2): `ntotal * d` floats.
    Flat {
        fourcc: String,
        h: Header,
        vectors: Vec<f32>,
    },
    /// `IxSQ` (IndexScalarQuantizer).
    Sq {
        h: Header,
        qtype: i32,
        code_size: usize,
        trained: Vec<f32>,
        codes: Vec<u8>,
    },
    /// `IwFl` (IndexIVFFlat) and `IwPQ` (IndexIVFPQ; `pq` set).
    Ivf {
        fourcc: String,
        h: Header,
        nlist: usize,
        nprobe: usize,
        quantizer: Box<Raw>,
        pq: Option<Pq>,
        code_size: usize,
        lists: Vec<List>,
    },
    /// `IHNf` (IndexHNSWFlat).
    Hnsw {
        h: Header,
        cum_nneighbor_per_level: Vec<i32>,
        levels: Vec<i32>,
        offsets: Vec<u64>,
        neighbors: Vec<i32>,
        entry_point: i32,
        max_level: i32,
        ef_construction: i32,
        ef_search: i32,
        storage: Box<Raw>,
    },
}

/// IndexIVFPQ's product quantiser.
pub(crate) struct Pq {
    pub by_residual: bool,
    pub m: usize,
    pub nbits: usize,
    pub centroids: Vec<f32>,
}

impl Raw {
    pub fn fourcc(&self) -> &str {
        match self {
            Raw::Flat { fourcc, .. } | Raw::Ivf { fourcc, .. } => fourcc,
            Raw::Sq { .. } => "IxSQ",
            Raw::Hnsw { .. } => "IHNf",
        }
    }
    pub fn header(&self) -> Header {
        match self {
            Raw::Flat { h, .. } | Raw::Sq { h, .. } | Raw::Ivf { h, .. } | Raw::Hnsw { h, .. } => {
                *h
            }
        }
    }
}

/// Names of FAISS index types a user may hand us, for the error that refuses them.
fn faiss_name(fourcc: &str) -> &'static str {
    match fourcc {
        "IxFl" => "IndexFlat (old format)",
        "IxPQ" | "IxPo" | "IxPq" => "IndexPQ",
        "IxMp" => "IndexIDMap",
        "IxM2" => "IndexIDMap2",
        "IwSQ" | "IwSq" => "IndexIVFScalarQuantizer",
        "IvFl" | "IvFL" => "IndexIVFFlat (legacy format)",
        "IvPQ" | "IvQR" => "IndexIVFPQ (legacy format)",
        "IwQR" => "IndexIVFPQR",
        "IHNp" => "IndexHNSWPQ",
        "IHNs" => "IndexHNSWSQ",
        "IHN2" => "IndexHNSW2Level",
        "IHNc" | "IHc2" => "IndexHNSWCagra",
        "IxRF" => "IndexRefineFlat",
        "IxRf" => "IndexRefine",
        "IxPT" => "IndexPreTransform",
        "IxSh" => "IndexShards",
        "IwPf" | "IwPF" => "IndexIVFPQFastScan",
        "IxLa" => "IndexLattice",
        "IxHE" | "IxHe" => "IndexLSH",
        "INSf" => "IndexNSGFlat",
        "null" => "a null index",
        _ => "an index type trawl does not know",
    }
}

pub(crate) const SUPPORTED: &str = "IndexFlatIP (IxFI), IndexFlatL2 (IxF2), IndexIVFFlat (IwFl), IndexIVFPQ (IwPQ), IndexHNSWFlat (IHNf), IndexScalarQuantizer (IxSQ)";

/// A cursor over the file's bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], path: &'a Path) -> Self {
        Reader { buf, pos: 0, path }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn error(&self, message: String) -> Error {
        Error::Faiss {
            path: PathBuf::from(self.path),
            message,
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let left = self.buf.len() - self.pos;
        if n > left {
            return Err(self.error(format!(
                "truncated: {what} needs {n} bytes at offset {}, the file ends after {left} more (a partial copy or an interrupted write?)",
                self.pos
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        Ok(self.take(N, what)?.try_into().expect("took N bytes"))
    }

    pub fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    pub fn bool(&mut self, what: &str) -> Result<bool> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.error(format!("{what}: invalid bool encoding {b:#04x}"))),
        }
    }
    pub fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }
    pub fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }
    pub fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    pub fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }
    /// A `size_t` that must fit memory (counts, dimensions).
    pub fn size(&mut self, what: &str) -> Result<usize> {
        let v = self.u64(what)?;
        usize::try_from(v)
            .ok()
            .filter(|&v| v <= self.buf.len().max(1 << 32))
            .ok_or_else(|| self.error(format!("{what}: implausible value {v}")))
    }

    pub fn fourcc(&mut self, what: &str) -> Result<String> {
        let b = self.array::<4>(what)?;
        Ok(b.iter()
            .map(|&c| if c.is_ascii_graphic() { c as char } else { '?' })
            .collect())
    }

    /// `READVECTOR` of `elem`-byte values: a u64 count, then the values (checked to be there
    /// before anything is allocated).
    fn vector_bytes(&mut self, elem: usize, what: &str) -> Result<&'a [u8]> {
        let count = self.u64(what)?;
        let bytes = count
            .checked_mul(elem as u64)
            .filter(|&b| b <= (self.buf.len() - self.pos) as u64);
        match bytes {
            Some(b) => self.take(b as usize, what),
            None => Err(self.error(format!(
                "truncated: {what} claims {count} values of {elem} bytes at offset {}, more than the {} bytes left",
                self.pos - 8,
                self.buf.len() - self.pos
            ))),
        }
    }
    pub fn vec_u8(&mut self, what: &str) -> Result<Vec<u8>> {
        Ok(self.vector_bytes(1, what)?.to_vec())
    }
    pub fn vec_f32(&mut self, what: &str) -> Result<Vec<f32>> {
        Ok(self
            .vector_bytes(4, what)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
    pub fn vec_i32(&mut self, what: &str) -> Result<Vec<i32>> {
        Ok(self
            .vector_bytes(4, what)?
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
    pub fn vec_u64(&mut self, what: &str) -> Result<Vec<u64>> {
        Ok(self
            .vector_bytes(8, what)?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }
    /// `n` raw values of `elem` bytes (sizes known from elsewhere).
    fn known(&mut self, n: usize, elem: usize, what: &str) -> Result<&'a [u8]> {
        let bytes = n
            .checked_mul(elem)
            .ok_or_else(|| self.error(format!("{what}: size overflows")))?;
        self.take(bytes, what)
    }
    pub fn skip_vector(&mut self, elem: usize, what: &str) -> Result<()> {
        self.vector_bytes(elem, what).map(|_| ())
    }

    /// `read_index_header`.
    fn header(&mut self) -> Result<Header> {
        let d = self.i32("index header d")?;
        let ntotal = self.i64("index header ntotal")?;
        if !(0..=(1 << 20)).contains(&d) || ntotal < 0 {
            return Err(self.error(format!(
                "invalid index header: dimension {d}, {ntotal} vectors"
            )));
        }
        self.i64("index header (unused)")?;
        self.i64("index header (unused)")?;
        self.bool("index header is_trained")?;
        let metric = self.i32("index header metric_type")?;
        if metric > 1 {
            self.f32("index header metric_arg")?;
        }
        if metric != METRIC_INNER_PRODUCT && metric != METRIC_L2 {
            return Err(self.error(format!(
                "metric type {metric} is not supported: trawl imports METRIC_INNER_PRODUCT (0) and METRIC_L2 (1)"
            )));
        }
        let ntotal = usize::try_from(ntotal)
            .ok()
            .filter(|&n| n < u32::MAX as usize)
            .ok_or_else(|| {
                self.error(format!(
                    "{ntotal} vectors: trawl indexes hold fewer than 2^32"
                ))
            })?;
        Ok(Header {
            d: d as usize,
            ntotal,
            metric,
        })
    }

    /// `read_index`, for the types trawl imports.
    pub fn index(&mut self) -> Result<Raw> {
        let at = self.pos;
        let fourcc = self.fourcc("index type (fourcc)")?;
        match fourcc.as_str() {
            "IxFI" | "IxF2" => {
                let h = self.header()?;
                // READXBVECTOR: the count is in units of 4 bytes (one float each).
                let vectors = self.vec_f32("flat vectors")?;
                if vectors.len() != h.ntotal * h.d {
                    return Err(self.error(format!(
                        "flat index holds {} floats, expected {} vectors x dimension {}",
                        vectors.len(),
                        h.ntotal,
                        h.d
                    )));
                }
                Ok(Raw::Flat {
                    fourcc,
                    h,
                    vectors,
                })
            }
            "IxSQ" => {
                let h = self.header()?;
                let qtype = self.i32("scalar quantizer qtype")?;
                self.i32("scalar quantizer rangestat")?;
                self.f32("scalar quantizer rangestat_arg")?;
                let d = self.size("scalar quantizer d")?;
                let code_size = self.size("scalar quantizer code_size")?;
                if d != h.d {
                    return Err(self.error(format!(
                        "scalar quantizer dimension {d} differs from the index's {}",
                        h.d
                    )));
                }
                let trained = self.vec_f32("scalar quantizer trained ranges")?;
                let codes = self.vec_u8("scalar quantizer codes")?;
                if codes.len() != h.ntotal * code_size {
                    return Err(self.error(format!(
                        "{} code bytes for {} vectors of {code_size} bytes",
                        codes.len(),
                        h.ntotal
                    )));
                }
                Ok(Raw::Sq {
                    h,
                    qtype,
                    code_size,
                    trained,
                    codes,
                })
            }
            "IwFl" | "IwPQ" => self.ivf(fourcc),
            "IHNf" => {
                let h = self.header()?;
                // read_HNSW
                self.skip_vector(8, "HNSW assign_probas")?;
                let cum_nneighbor_per_level = self.vec_i32("HNSW cum_nneighbor_per_level")?;
                let levels = self.vec_i32("HNSW levels")?;
                let offsets = self.vec_u64("HNSW offsets")?;
                let neighbors = self.vec_i32("HNSW neighbors")?;
                let entry_point = self.i32("HNSW entry_point")?;
                let max_level = self.i32("HNSW max_level")?;
                let ef_construction = self.i32("HNSW efConstruction")?;
                let ef_search = self.i32("HNSW efSearch")?;
                self.i32("HNSW upper_beam (unused)")?;
                let storage = Box::new(self.index()?);
                Ok(Raw::Hnsw {
                    h,
                    cum_nneighbor_per_level,
                    levels,
                    offsets,
                    neighbors,
                    entry_point,
                    max_level,
                    ef_construction,
                    ef_search,
                    storage,
                })
            }
            other => Err(self.error(format!(
                "unsupported FAISS index type `{other}` ({}) at offset {at}: trawl imports {SUPPORTED}",
                faiss_name(other)
            ))),
        }
    }

    /// `read_ivf_header`, the IVF-PQ fields, then `read_InvertedLists` (`ilar`).
    fn ivf(&mut self, fourcc: String) -> Result<Raw> {
        let h = self.header()?;
        let nlist = self.size("IVF nlist")?;
        let nprobe = self.size("IVF nprobe")?;
        let quantizer = Box::new(self.index()?);
        // read_direct_map: a type byte, the array, and for a hash table its (key, value) pairs.
        let dm = self.u8("IVF direct map type")?;
        self.skip_vector(8, "IVF direct map")?;
        if dm == 2 {
            self.skip_vector(16, "IVF direct map hash table")?;
        }
        let (pq, code_size) = if fourcc == "IwPQ" {
            let by_residual = self.bool("IVFPQ by_residual")?;
            let code_size = self.size("IVFPQ code_size")?;
            let d = self.size("PQ d")?;
            let m = self.size("PQ M")?;
            let nbits = self.size("PQ nbits")?;
            if d != h.d || m == 0 || !(1..=24).contains(&nbits) {
                return Err(self.error(format!(
                    "invalid product quantizer: d {d} (index {}), M {m}, nbits {nbits}",
                    h.d
                )));
            }
            let centroids = self.vec_f32("PQ centroids")?;
            if centroids.len() as u64 != (d as u64) << nbits {
                return Err(self.error(format!(
                    "PQ holds {} centroid values, expected d x 2^nbits = {}",
                    centroids.len(),
                    (d as u64) << nbits
                )));
            }
            let pq = Pq {
                by_residual,
                m,
                nbits,
                centroids,
            };
            (Some(pq), code_size)
        } else {
            (None, h.d * 4)
        };
        let lists = self.inverted_lists(nlist, code_size)?;
        Ok(Raw::Ivf {
            fourcc,
            h,
            nlist,
            nprobe,
            quantizer,
            pq,
            code_size,
            lists,
        })
    }

    fn inverted_lists(&mut self, nlist: usize, code_size: usize) -> Result<Vec<List>> {
        let kind = self.fourcc("inverted lists type")?;
        match kind.as_str() {
            "ilar" => {}
            "il00" => {
                return Err(self.error(
                    "the index was saved without its inverted lists (il00): save it with the lists stored in the file".into(),
                ))
            }
            other => {
                return Err(self.error(format!(
                    "inverted lists of type `{other}` are not supported (trawl reads array lists, `ilar`; on-disk lists must be merged into the file first)"
                )))
            }
        }
        let n = self.size("inverted lists nlist")?;
        let cs = self.size("inverted lists code_size")?;
        if n != nlist || cs != code_size {
            return Err(self.error(format!(
                "inverted lists ({n} lists, {cs}-byte codes) do not match the index ({nlist} lists, {code_size}-byte codes)"
            )));
        }
        let mut sizes = vec![0usize; nlist];
        match self.fourcc("inverted list sizes type")?.as_str() {
            "full" => {
                let s = self.vec_u64("inverted list sizes")?;
                if s.len() != nlist {
                    return Err(self.error(format!("{} list sizes for {nlist} lists", s.len())));
                }
                for (d, v) in sizes.iter_mut().zip(s) {
                    *d = v as usize;
                }
            }
            "sprs" => {
                let s = self.vec_u64("sparse inverted list sizes")?;
                if s.len() % 2 != 0 {
                    return Err(self.error("sparse list sizes: odd number of values".into()));
                }
                for p in s.chunks_exact(2) {
                    let slot = sizes.get_mut(p[0] as usize).ok_or_else(|| Error::Faiss {
                        path: PathBuf::from(self.path),
                        message: format!("sparse list sizes name list {} of {nlist}", p[0]),
                    })?;
                    *slot = p[1] as usize;
                }
            }
            other => return Err(self.error(format!("list sizes type `{other}` not recognized"))),
        }
        let mut lists = Vec::with_capacity(nlist);
        for (l, &n) in sizes.iter().enumerate() {
            if n == 0 {
                lists.push(List {
                    ids: Vec::new(),
                    codes: Vec::new(),
                });
                continue;
            }
            let codes = self
                .known(n, code_size, &format!("codes of inverted list {l}"))?
                .to_vec();
            let ids = self
                .known(n, 8, &format!("ids of inverted list {l}"))?
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect();
            lists.push(List { ids, codes });
        }
        Ok(lists)
    }
}
