//! Row storage: f32, f16 or 8-bit scalar-quantised codes, owned in RAM or memory-mapped from a
//! saved file.

use half::f16;
use memmap2::Mmap;

use crate::sq::ScalarQuantizer;

/// How vectors are stored. f16 halves memory, sq8 (one byte per value, FAISS's `QT_8bit`)
/// quarters it; scores are still computed in f32, against the decoded values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    F16,
    /// Per-dimension 8-bit scalar quantisation, ranges trained on the vectors.
    Sq8,
}

impl Precision {
    pub fn bytes_per_value(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::F16 => 2,
            Precision::Sq8 => 1,
        }
    }

    /// "f32", "f16" or "sq8".
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Sq8 => "sq8",
        }
    }

    /// The code a saved index records its storage with.
    pub(crate) fn code(self) -> u8 {
        match self {
            Precision::F32 => 0,
            Precision::F16 => 1,
            Precision::Sq8 => 2,
        }
    }

    pub(crate) fn from_code(c: u8) -> Option<Precision> {
        match c {
            0 => Some(Precision::F32),
            1 => Some(Precision::F16),
            2 => Some(Precision::Sq8),
            _ => None,
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            "sq8" => Ok(Precision::Sq8),
            _ => Err(format!("unknown vector storage `{s}`: use f32, f16 or sq8")),
        }
    }
}

pub(crate) enum Rows {
    F32(Vec<f32>),
    F16(Vec<f16>),
    /// Codes; the quantiser is `None` until trained.
    Sq8(Option<ScalarQuantizer>, Vec<u8>),
    /// A mapped file; `offset` is where the (64-byte aligned) rows start. `sq` holds the
    /// quantiser of sq8 rows.
    Mapped {
        map: Mmap,
        offset: usize,
        len: usize,
        precision: Precision,
        sq: Option<ScalarQuantizer>,
    },
}

/// A borrowed view of all rows.
#[derive(Clone, Copy)]
pub(crate) enum RowsRef<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
    Sq8(&'a ScalarQuantizer, &'a [u8]),
}

impl Rows {
    pub fn empty(p: Precision) -> Rows {
        match p {
            Precision::F32 => Rows::F32(Vec::new()),
            Precision::F16 => Rows::F16(Vec::new()),
            Precision::Sq8 => Rows::Sq8(None, Vec::new()),
        }
    }

    pub fn precision(&self) -> Precision {
        match self {
            Rows::F32(_) => Precision::F32,
            Rows::F16(_) => Precision::F16,
            Rows::Sq8(..) => Precision::Sq8,
            Rows::Mapped { precision, .. } => *precision,
        }
    }

    /// The quantiser of sq8 rows (`None` for other storage or before training).
    pub fn quantizer(&self) -> Option<&ScalarQuantizer> {
        match self {
            Rows::Sq8(sq, _) | Rows::Mapped { sq, .. } => sq.as_ref(),
            _ => None,
        }
    }

    /// Sets the quantiser of (empty) sq8 rows.
    pub fn set_quantizer(&mut self, q: ScalarQuantizer) {
        if let Rows::Sq8(sq, _) = self {
            *sq = Some(q);
        }
    }

    pub fn view(&self) -> RowsRef<'_> {
        match self {
            Rows::F32(v) => RowsRef::F32(v),
            Rows::F16(v) => RowsRef::F16(v),
            Rows::Sq8(Some(sq), c) => RowsRef::Sq8(sq, c),
            // Untrained: `add` refuses rows until training, so there are none.
            Rows::Sq8(None, _) => RowsRef::F32(&[]),
            Rows::Mapped {
                map,
                offset,
                len,
                precision,
                sq,
            } => {
                let bytes = &map[*offset..*offset + len * precision.bytes_per_value()];
                match precision {
                    Precision::F32 => RowsRef::F32(bytemuck::cast_slice(bytes)),
                    Precision::F16 => RowsRef::F16(bytemuck::cast_slice(bytes)),
                    Precision::Sq8 => RowsRef::Sq8(
                        sq.as_ref().expect("mapped sq8 rows carry their ranges"),
                        bytes,
                    ),
                }
            }
        }
    }

    /// Appends values (already normalised if the metric needs it), un-mapping first if needed.
    /// sq8 rows must have their quantiser (the caller checks).
    pub fn extend(&mut self, values: &[f32]) {
        if let Rows::Mapped { .. } = self {
            *self = match self.view() {
                RowsRef::F32(v) => Rows::F32(v.to_vec()),
                RowsRef::F16(v) => Rows::F16(v.to_vec()),
                RowsRef::Sq8(sq, c) => Rows::Sq8(Some(sq.clone()), c.to_vec()),
            };
        }
        match self {
            Rows::F32(v) => v.extend_from_slice(values),
            Rows::F16(v) => v.extend(values.iter().map(|&x| f16::from_f32(x))),
            Rows::Sq8(sq, c) => sq
                .as_ref()
                .expect("checked by the caller")
                .encode_into(values, c),
            Rows::Mapped { .. } => unreachable!("un-mapped above"),
        }
    }

    /// The stored rows' bytes (codes only for sq8).
    pub fn bytes(&self) -> &[u8] {
        match self.view() {
            RowsRef::F32(v) => bytemuck::cast_slice(v),
            RowsRef::F16(v) => bytemuck::cast_slice(v),
            RowsRef::Sq8(_, c) => c,
        }
    }
}

impl RowsRef<'_> {
    /// Copies rows `start..end` (of width `dim`) into `out` as f32 (decoded for sq8).
    pub fn rows_f32<'b>(
        &'b self,
        start: usize,
        end: usize,
        dim: usize,
        out: &'b mut Vec<f32>,
    ) -> &'b [f32] {
        match self {
            RowsRef::F32(v) => &v[start * dim..end * dim],
            RowsRef::F16(v) => {
                use half::slice::HalfFloatSliceExt;
                let src = &v[start * dim..end * dim];
                out.resize(src.len(), 0.0);
                src.convert_to_f32_slice(out);
                out
            }
            RowsRef::Sq8(sq, c) => {
                let src = &c[start * dim..end * dim];
                out.resize(src.len(), 0.0);
                sq.decode(src, out);
                out
            }
        }
    }
}
