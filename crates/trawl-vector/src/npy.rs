//! NumPy `.npy` files (format version 1.0) for embedding matrices: write float32 or float16
//! `[n, dim]` arrays that `numpy.load` opens, and read the header back.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::io;
use crate::{Error, Precision, Result};

/// Shape and element type of a `.npy` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// NumPy type string, e.g. `<f4` or `<f2`.
    pub descr: String,
    pub fortran_order: bool,
    pub shape: Vec<usize>,
    /// Byte offset where the data starts.
    pub data_offset: usize,
}

fn header_bytes(precision: Precision, n: usize, dim: usize) -> Vec<u8> {
    let descr = match precision {
        Precision::F32 => "<f4",
        Precision::F16 => "<f2",
        // Refused by `write_npy` before a header is made.
        Precision::Sq8 => "|u1",
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({n}, {dim}), }}");
    // Pad with spaces so magic (6) + version (2) + length (2) + dict + '\n' is a multiple of 64.
    let unpadded = 10 + dict.len() + 1;
    dict.extend(std::iter::repeat_n(
        ' ',
        unpadded.next_multiple_of(64) - unpadded,
    ));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes `data` (row-major `n x dim`) to `path` as a `.npy` array, atomically (temp + rename).
pub fn write_npy(
    path: impl AsRef<Path>,
    data: &[f32],
    n: usize,
    dim: usize,
    precision: Precision,
) -> Result<()> {
    let path = path.as_ref();
    if precision == Precision::Sq8 {
        return Err(Error::InvalidParams(
            ".npy files hold f32 or f16 vectors, not sq8 codes".into(),
        ));
    }
    if data.len() != n * dim {
        return Err(Error::RaggedBatch {
            len: data.len(),
            dim,
        });
    }
    let mut name = path
        .file_name()
        .map(|s| s.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(name);
    let result = (|| {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        w.write_all(&header_bytes(precision, n, dim))?;
        for chunk in data.chunks(1 << 16) {
            match precision {
                Precision::F32 => w.write_all(bytemuck::cast_slice(chunk))?,
                Precision::F16 => {
                    let half: Vec<half::f16> =
                        chunk.iter().map(|&x| half::f16::from_f32(x)).collect();
                    w.write_all(bytemuck::cast_slice(&half))?
                }
                Precision::Sq8 => unreachable!("refused above"),
            }
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::Io {
            path: path.to_path_buf(),
            source: e,
        }
    })
}

/// Reads and checks the header of a `.npy` file (version 1.x/2.x/3.x).
pub fn read_npy_header(path: impl AsRef<Path>) -> Result<NpyHeader> {
    let path = path.as_ref();
    let corrupt = |reason: &str| Error::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let bytes = std::fs::read(path).map_err(io(path))?;
    if bytes.len() < 10 || &bytes[0..6] != b"\x93NUMPY" {
        return Err(corrupt("not a .npy file (bad magic)"));
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize,
            12,
        ),
        _ => return Err(corrupt("unsupported .npy version")),
    };
    let dict = bytes
        .get(start..start + len)
        .ok_or_else(|| corrupt("header runs past the end of the file"))?;
    let dict = std::str::from_utf8(dict).map_err(|_| corrupt("header is not text"))?;
    let field = |key: &str| -> Option<&str> {
        let at = dict.find(&format!("'{key}':"))? + key.len() + 3;
        Some(dict[at..].trim_start())
    };
    let descr = field("descr")
        .and_then(|s| s.strip_prefix('\''))
        .and_then(|s| s.split('\'').next())
        .ok_or_else(|| corrupt("no descr"))?;
    let fortran_order = field("fortran_order").is_some_and(|s| s.starts_with("True"));
    let shape_text = field("shape")
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| corrupt("no shape"))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| corrupt("bad shape")))
        .collect::<Result<Vec<_>>>()?;
    Ok(NpyHeader {
        descr: descr.to_string(),
        fortran_order,
        shape,
        data_offset: start + len,
    })
}

/// Reads a 2-d little-endian float32 or float16 C-order `.npy` array as f32: (values, n, dim).
pub fn read_npy_f32(path: impl AsRef<Path>) -> Result<(Vec<f32>, usize, usize)> {
    let path = path.as_ref();
    let corrupt = |reason: String| Error::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let h = read_npy_header(path)?;
    let [n, dim] = h.shape[..] else {
        return Err(corrupt(format!(
            "expected a 2-d array, found shape {:?}",
            h.shape
        )));
    };
    if h.fortran_order {
        return Err(corrupt("Fortran-order arrays are not supported".into()));
    }
    let bytes = std::fs::read(path).map_err(io(path))?;
    let width = match h.descr.as_str() {
        "<f4" => 4,
        "<f2" => 2,
        d => return Err(corrupt(format!("element type {d}: expected <f4 or <f2"))),
    };
    let data = &bytes[h.data_offset.min(bytes.len())..];
    if data.len() != n * dim * width {
        return Err(corrupt(format!(
            "truncated: shape ({n}, {dim}) needs {} data bytes, found {}",
            n * dim * width,
            data.len()
        )));
    }
    let values = if width == 4 {
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect()
    } else {
        data.chunks_exact(2)
            .map(|c| half::f16::from_le_bytes(c.try_into().expect("2 bytes")).to_f32())
            .collect()
    };
    Ok((values, n, dim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        for (precision, descr, width) in [(Precision::F32, "<f4", 4), (Precision::F16, "<f2", 2)] {
            let p = dir.path().join(format!("{descr:?}.npy"));
            let data: Vec<f32> = (0..21).map(|i| i as f32 * 0.5).collect();
            write_npy(&p, &data, 7, 3, precision).unwrap();
            let h = read_npy_header(&p).unwrap();
            assert_eq!(
                (h.descr.as_str(), h.fortran_order, h.shape.clone()),
                (descr, false, vec![7, 3])
            );
            assert_eq!(h.data_offset % 64, 0);
            let bytes = std::fs::read(&p).unwrap();
            assert_eq!(bytes.len(), h.data_offset + 21 * width);
            let last = &bytes[bytes.len() - width..];
            let v = if width == 4 {
                f32::from_le_bytes(last.try_into().unwrap())
            } else {
                half::f16::from_le_bytes(last.try_into().unwrap()).to_f32()
            };
            assert_eq!(v, 10.0);
            assert_eq!(read_npy_f32(&p).unwrap(), (data.clone(), 7, 3));
        }
        assert!(write_npy(dir.path().join("x.npy"), &[1.0; 5], 2, 3, Precision::F32).is_err());
        std::fs::write(dir.path().join("bad.npy"), b"hello world").unwrap();
        assert!(read_npy_header(dir.path().join("bad.npy")).is_err());
    }
}
