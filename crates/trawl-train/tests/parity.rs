//! Forward parity: with dropout off, the trainable BERT gives sentence-transformers' own
//! all-MiniLM-L6-v2 embeddings (reference vectors from scripts/make_reference_embeddings.py).

use candle_core::DType;
use trawl_train::bert::Mode;
use trawl_train::{LoadOptions, SentenceModel};

struct Reference {
    texts: Vec<String>,
    vectors: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../trawl-embed/tests/data/minilm_reference.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let items = v["items"].as_array().unwrap();
    Reference {
        texts: items
            .iter()
            .map(|i| i["text"].as_str().unwrap().to_string())
            .collect(),
        vectors: items
            .iter()
            .map(|i| {
                i["embedding"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect(),
    }
}

fn assert_close(got: &[Vec<f32>], want: &[Vec<f32>], texts: &[String], what: &str) {
    let mut worst = 0f32;
    for ((g, w), t) in got.iter().zip(want).zip(texts) {
        assert_eq!(g.len(), w.len());
        let diff = g
            .iter()
            .zip(w)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        worst = worst.max(diff);
        assert!(
            diff < 2e-5,
            "{what}: max |diff| {diff} for {:?}",
            &t[..t.len().min(60)]
        );
    }
    eprintln!(
        "{what}: worst max |diff| {worst:e} over {} texts",
        got.len()
    );
}

#[test]
fn minilm_embeddings_equal_sentence_transformers() {
    let Some(dir) = trawl_train::testkit::locate_minilm() else {
        return;
    };
    let model = SentenceModel::load(&dir, &LoadOptions::default()).unwrap();
    assert_eq!(model.max_seq_len(), 256);
    let r = reference();
    let texts: Vec<&str> = r.texts.iter().map(String::as_str).collect();
    // Inference path (fused kernels), batched with length sorting.
    let flat = model.embed(&texts, 8).unwrap();
    let got: Vec<Vec<f32>> = flat.chunks(model.dim()).map(<[f32]>::to_vec).collect();
    assert_close(&got, &r.vectors, &r.texts, "inference");
    // Training path (primitive layer norm and softmax), dropout off.
    let mut got = Vec::new();
    for chunk in texts.chunks(6) {
        let e = model.encode(chunk, &mut Mode::Train(None), false).unwrap();
        got.extend(e.to_dtype(DType::F32).unwrap().to_vec2::<f32>().unwrap());
    }
    assert_close(&got, &r.vectors, &r.texts, "train mode, dropout off");
}
