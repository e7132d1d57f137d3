//! Times streaming a corpus: `cargo run --release -p trawl-data --example read_corpus_speed --
//! CORPUS`. Prints documents, bytes of text and MB/s.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = std::env::args().nth(1) else {
        return Err("usage: read_corpus_speed CORPUS".into());
    };
    let size = std::fs::metadata(&path)?.len() as f64;
    let t = Instant::now();
    let (mut docs, mut chars) = (0usize, 0usize);
    for doc in trawl_data::read_documents(&path)? {
        let doc = doc?;
        docs += 1;
        chars += doc.text.len() + doc.title.len();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{docs} documents, {chars} bytes of text in {secs:.3}s ({:.0} MB/s of file)",
        size / secs / 1e6
    );
    Ok(())
}
