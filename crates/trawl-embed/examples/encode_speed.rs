//! Encodes the "text" field of a JSONL file and prints passages/second (for tuning; the
//! benchmark of record is bench/dense.sh). Usage: encode_speed MODEL FILE.jsonl [BATCH] [MAXLEN] [fused|candle] [ROUNDS] [none|int8]

use std::time::Instant;

use trawl_embed::{Backend, EncoderOptions, SentenceEncoder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 3 {
        return Err(
            "usage: encode_speed MODEL FILE.jsonl [BATCH] [MAXLEN] [fused|candle] [ROUNDS] [none|int8]"
                .into(),
        );
    }
    let texts: Vec<String> = std::fs::read_to_string(&a[2])?
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .map(|v| v["text"].as_str().unwrap_or("").to_string())
        })
        .collect::<Result<_, _>>()?;
    let batch_size = a.get(3).map(|s| s.parse()).transpose()?.unwrap_or(32);
    let max_seq_len = a.get(4).map(|s| s.parse()).transpose()?;
    let backend = if a.get(5).map(String::as_str) == Some("candle") {
        Backend::Candle
    } else {
        Backend::Fused
    };
    let rounds: usize = a.get(6).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let quantize: trawl_embed::Quantize =
        a.get(7).map(|s| s.parse()).transpose()?.unwrap_or_default();
    let enc = SentenceEncoder::load(
        &a[1],
        &EncoderOptions {
            batch_size,
            max_seq_len,
            backend,
            quantize,
            ..Default::default()
        },
    )?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    enc.encode(&refs[..batch_size.min(refs.len())])?;
    for _ in 0..rounds {
        let t = Instant::now();
        let e = enc.encode_documents(&refs)?;
        let s = t.elapsed().as_secs_f64();
        println!(
            "{{\"n\": {}, \"seconds\": {s:.3}, \"passages_per_s\": {:.2}}}",
            e.n,
            e.n as f64 / s
        );
    }
    Ok(())
}
