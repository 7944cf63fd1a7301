//! Training checkpoints: the network's named tensors (the same names and
//! shapes `save` writes, so `load` reads a checkpoint as plain weights),
//! plus `optimizer.<state>` tensors and metadata with the completed epoch,
//! the data seed, the network's RNG state and the history so far. Written
//! atomically: a temporary file in the same folder, flushed, then renamed
//! over the old one, so a crash leaves the previous checkpoint whole.

use std::path::Path;

use super::history::History;
use super::Network;
use crate::error::{Error, Result};
use crate::io as st;
use crate::optim::Optimizer;

const FORMAT: &str = "cnn-training-checkpoint-1";

/// The network's tensors as `(name, shape, data)` for saving.
pub fn named_tensors<N: Network + ?Sized>(net: &N) -> Vec<(String, Vec<usize>, &[f32])> {
    let params = net.params();
    net.tensors()
        .iter()
        .map(|t| {
            (
                t.name.to_string(),
                t.shape.to_vec(),
                &params[t.offset..t.offset + t.len],
            )
        })
        .collect()
}

/// Saves the weights alone, as the generated `save` does.
pub fn save_weights<N: Network + ?Sized>(path: &Path, net: &N) -> Result<()> {
    st::save(path, &named_tensors(net), &[])
}

/// Loads weights saved by [`save_weights`] (or a training checkpoint) into
/// `net`; an `Err` names the first tensor that is missing or does not fit.
pub fn load_weights<N: Network + ?Sized>(path: &Path, net: &mut N) -> Result<()> {
    let infos = net.tensors();
    let mut rest = net.params_mut();
    let mut consumed = 0;
    let mut expected = Vec::with_capacity(infos.len());
    // The tensors tile the buffer in offset order; hand out disjoint slices.
    let mut order: Vec<_> = infos.iter().collect();
    order.sort_by_key(|t| t.offset);
    for t in order {
        let skip = t.offset - consumed;
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(skip);
        let (this, tail) = tail.split_at_mut(t.len);
        rest = tail;
        consumed = t.offset + t.len;
        expected.push((t.name.to_string(), t.shape.to_vec(), this));
    }
    // Not `load_into`: a training checkpoint also holds optimizer state.
    st::load(path)?.copy_into(&mut expected)
}

/// What a training checkpoint restores besides the weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Resumed {
    /// Epochs completed when it was saved.
    pub epoch: usize,
    /// The seed of the data order.
    pub seed: u64,
    /// The metrics of the epochs completed.
    pub history: History,
}

/// Saves weights, optimizer state, epoch, seeds and history.
pub fn save<N: Network + ?Sized>(
    path: &Path,
    net: &N,
    optimizer: &dyn Optimizer,
    epoch: usize,
    seed: u64,
    history: &History,
) -> Result<()> {
    let state = optimizer.state();
    let mut tensors = named_tensors(net);
    for (name, data) in &state {
        tensors.push((
            format!("optimizer.{name}"),
            vec![data.len()],
            data.as_slice(),
        ));
    }
    let rng = net.rng_state().map(|w| w.to_string()).join(",");
    let metadata = [
        ("format".to_string(), FORMAT.to_string()),
        ("epoch".to_string(), epoch.to_string()),
        ("seed".to_string(), seed.to_string()),
        ("rng".to_string(), rng),
        (
            "learning_rate".to_string(),
            optimizer.learning_rate().to_string(),
        ),
        ("history".to_string(), history.to_csv()),
    ];
    st::save(path, &tensors, &metadata)
}

/// Restores a checkpoint written by [`save`] into `net` and `optimizer`.
pub fn load<N: Network + ?Sized>(
    path: &Path,
    net: &mut N,
    optimizer: &mut dyn Optimizer,
) -> Result<Resumed> {
    load_weights(path, net)?;
    let ck = st::load(path)?;
    let bad = |what: &str| Error::format(path, format!("not a training checkpoint: {what}"));
    if ck.metadata("format") != Some(FORMAT) {
        return Err(bad(
            "no `format` metadata (a weights-only file cannot resume training)",
        ));
    }
    let epoch = ck
        .metadata("epoch")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("bad `epoch`"))?;
    let seed = ck
        .metadata("seed")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("bad `seed`"))?;
    let rng: Vec<u64> = ck
        .metadata("rng")
        .map(|v| v.split(',').filter_map(|w| w.parse().ok()).collect())
        .unwrap_or_default();
    let rng: [u64; 4] = rng.try_into().map_err(|_| bad("bad `rng`"))?;
    let history = ck
        .metadata("history")
        .and_then(History::from_csv)
        .ok_or_else(|| bad("bad `history`"))?;
    let lr: f32 = ck
        .metadata("learning_rate")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("bad `learning_rate`"))?;
    let state: Vec<(String, Vec<f32>)> = ck
        .names()
        .into_iter()
        .filter_map(|n| {
            n.strip_prefix("optimizer.")
                .map(|s| (s.to_string(), n.to_string()))
        })
        .filter_map(|(short, full)| ck.get(&full).map(|(_, data)| (short, data)))
        .collect();
    optimizer.load_state(&state)?;
    optimizer.set_learning_rate(lr);
    net.set_rng_state(rng);
    Ok(Resumed {
        epoch,
        seed,
        history,
    })
}
