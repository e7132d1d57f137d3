//! Row storage: f32 or f16, owned in RAM or memory-mapped from a saved file.

use half::f16;
use memmap2::Mmap;

/// How vectors are stored. f16 halves memory; scores are still computed in f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    F16,
}

impl Precision {
    pub fn bytes_per_value(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::F16 => 2,
        }
    }
}

pub(crate) enum Rows {
    F32(Vec<f32>),
    F16(Vec<f16>),
    /// A mapped file; `offset` is where the (64-byte aligned) rows start.
    Mapped {
        map: Mmap,
        offset: usize,
        len: usize,
        precision: Precision,
    },
}

/// A borrowed view of all rows.
#[derive(Clone, Copy)]
pub(crate) enum RowsRef<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
}

impl Rows {
    pub fn empty(p: Precision) -> Rows {
        match p {
            Precision::F32 => Rows::F32(Vec::new()),
            Precision::F16 => Rows::F16(Vec::new()),
        }
    }

    pub fn precision(&self) -> Precision {
        match self {
            Rows::F32(_) => Precision::F32,
            Rows::F16(_) => Precision::F16,
            Rows::Mapped { precision, .. } => *precision,
        }
    }

    pub fn view(&self) -> RowsRef<'_> {
        match self {
            Rows::F32(v) => RowsRef::F32(v),
            Rows::F16(v) => RowsRef::F16(v),
            Rows::Mapped {
                map,
                offset,
                len,
                precision,
            } => {
                let bytes = &map[*offset..*offset + len * precision.bytes_per_value()];
                match precision {
                    Precision::F32 => RowsRef::F32(bytemuck::cast_slice(bytes)),
                    Precision::F16 => RowsRef::F16(bytemuck::cast_slice(bytes)),
                }
            }
        }
    }

    /// Appends values (already normalised if the metric needs it), un-mapping first if needed.
    pub fn extend(&mut self, values: &[f32]) {
        if let Rows::Mapped { .. } = self {
            *self = match self.view() {
                RowsRef::F32(v) => Rows::F32(v.to_vec()),
                RowsRef::F16(v) => Rows::F16(v.to_vec()),
            };
        }
        match self {
            Rows::F32(v) => v.extend_from_slice(values),
            Rows::F16(v) => v.extend(values.iter().map(|&x| f16::from_f32(x))),
            Rows::Mapped { .. } => unreachable!("un-mapped above"),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match self.view() {
            RowsRef::F32(v) => bytemuck::cast_slice(v),
            RowsRef::F16(v) => bytemuck::cast_slice(v),
        }
    }
}

impl RowsRef<'_> {
    /// Copies rows `start..end` (of width `dim`) into `out` as f32.
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
        }
    }
}
