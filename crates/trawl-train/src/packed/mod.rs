//! The CPU training path: a hand-written forward and backward pass of the BERT encoder (and
//! MPNet's: positions past the padding index, no token types, a relative position bias shared by
//! the layers, whose gradient sums over them) over
//! packed sequences (no padding), with gemm for the dense layers and fused row kernels for the
//! rest, buffers owned by the step instead of a tensor graph. The pooling output is handed to
//! candle for the head, normalisation and loss (small tensors), whose gradient then flows back
//! through the encoder here. Used for f32 models on the CPU; the candle graph path
//! ([`crate::bert`]) remains for other devices and dtypes and is the reference the tests
//! compare this one against.

mod attention;
mod encoder;
mod layer;
mod linear;
mod rows;
mod weights;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var};

pub use encoder::PackedBatch;
pub(crate) use weights::HostF32;

use crate::dropout::DropoutRng;
use crate::isotropy::{add_isotropy, IsotropyConfig};
use crate::loss::{mnrl_loss, MnrlConfig};
use crate::model::SentenceModel;
use crate::Result;

/// Whether `model` can train on this path (f32 on the CPU).
pub fn supports(model: &SentenceModel) -> bool {
    model.device().is_cpu() && model.dtype == DType::F32
}

/// Embeddings `(texts, dim)` from this path's forward pass (no dropout), through the model's
/// head and normalisation: what training computes, for comparing with inference.
pub fn embed(model: &SentenceModel, texts: &[&str]) -> Result<Tensor> {
    let batch = model.tokenize_packed(texts)?;
    let vars = model.base_vars();
    let view = weights::WeightView::new(&vars)?;
    let bert = encoder::PackedBert::new(
        model.config(),
        weights::BertWeights::new(&view, model.config()),
    );
    let (pooled, _) = bert.forward(&batch, model.pooling, None);
    let h = model.config().hidden_size;
    model.finish(&Tensor::from_vec(pooled, (texts.len(), h), &Device::Cpu)?)
}

/// The loss of one batch (times `loss_scale`) and the gradient of every trainable base and
/// head parameter, by name. `rng` draws the dropout masks (`None`: dropout off).
pub fn batch_grads(
    model: &SentenceModel,
    queries: &[&str],
    docs: &[&str],
    loss_cfg: &MnrlConfig,
    rng: Option<&mut DropoutRng>,
    loss_scale: f64,
) -> Result<(f64, HashMap<String, Tensor>)> {
    let iso = IsotropyConfig::default();
    let (loss, _, grads) =
        batch_grads_with_isotropy(model, queries, docs, loss_cfg, &iso, rng, loss_scale)?;
    Ok((loss, grads))
}

/// [`batch_grads`] with the isotropy term added to the loss; also returns the term's value.
pub fn batch_grads_with_isotropy(
    model: &SentenceModel,
    queries: &[&str],
    docs: &[&str],
    loss_cfg: &MnrlConfig,
    isotropy: &IsotropyConfig,
    rng: Option<&mut DropoutRng>,
    loss_scale: f64,
) -> Result<(f64, Option<f64>, HashMap<String, Tensor>)> {
    let texts: Vec<&str> = queries.iter().chain(docs).copied().collect();
    let batch = model.tokenize_packed(&texts)?;
    let vars = model.base_vars();
    let view = weights::WeightView::new(&vars)?;
    let bert = encoder::PackedBert::new(
        model.config(),
        weights::BertWeights::new(&view, model.config()),
    );
    let pooling = model.pooling;
    let (pooled, saved) = bert.forward(&batch, pooling, rng);

    let h = model.config().hidden_size;
    let pooled = Var::from_tensor(&Tensor::from_vec(pooled, (texts.len(), h), &Device::Cpu)?)?;
    let emb = model.finish(pooled.as_tensor())?;
    let (q, d) = (
        emb.narrow(0, 0, queries.len())?,
        emb.narrow(0, queries.len(), docs.len())?,
    );
    let (loss, iso) = add_isotropy(
        mnrl_loss(&q, &d, docs, queries, loss_cfg)?,
        &q,
        &d,
        isotropy,
    )?;
    let loss = (loss * loss_scale)?;
    let value = loss.to_scalar::<f32>()? as f64;
    let store = loss.backward()?;
    let dpooled: Vec<f32> = match store.get(pooled.as_tensor()) {
        Some(g) => g.flatten_all()?.to_vec1()?,
        None => vec![0f32; texts.len() * h],
    };
    let mut grads = bert
        .backward(&batch, saved, &dpooled, pooling)
        .into_tensors()?;
    for (name, var) in model.head_vars() {
        if let Some(g) = store.get(var.as_tensor()) {
            grads.insert(name, g.clone());
        }
    }
    Ok((value, iso, grads))
}
