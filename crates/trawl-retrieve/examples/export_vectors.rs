//! Writes the document vectors of a KB's dense index to a `.npy` file (float32, n x dim, rows
//! in ordinal = corpus order), so a Python peer (FAISS) can search the very same vectors.
//!
//! cargo run --release -p trawl-retrieve --example export_vectors -- KB OUT.npy

use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kb, out] = args.as_slice() else {
        return Err("usage: export_vectors KB OUT.npy".into());
    };
    let kb = trawl_kb::KnowledgeBase::open(kb)?;
    let index = kb.vectors().ok_or("the KB has no dense index")?;
    let (n, dim) = (index.len(), index.dim());
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, {dim}), }}");
    // magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let tmp = format!("{out}.tmp-{}", std::process::id());
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    f.write_all(b"\x93NUMPY\x01\x00")?;
    f.write_all(&(header.len() as u16).to_le_bytes())?;
    f.write_all(header.as_bytes())?;
    for doc in 0..n as u32 {
        let v = index.vector(doc).ok_or("missing vector")?;
        for x in v {
            f.write_all(&x.to_le_bytes())?;
        }
    }
    f.into_inner()?.sync_all()?;
    std::fs::rename(&tmp, out)?;
    eprintln!("wrote {n} x {dim} vectors to {out}");
    Ok(())
}
