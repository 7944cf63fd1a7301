//! Training checkpoints: the network's named tensors (the same names and
//! shapes `save` writes, so `load` reads a checkpoint as plain weights),
//! plus `optimizer.<state>` tensors and metadata with the completed epoch,
//! the network's RNG state, the history so far, and what the run was
//! started with ([`RunInfo`]: the network's name, the data seed, the
//! initial learning rate, the batch size and the caller's own settings),
//! so that a resume with anything else can be refused. Written atomically:
//! a temporary file in the same folder, flushed, then renamed over the old
//! one, so a crash leaves the previous checkpoint whole.

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
    load_weights_from(&st::load(path)?, net)
}

/// [`load_weights`] from a checkpoint already read.
fn load_weights_from<N: Network + ?Sized>(ck: &st::Checkpoint, net: &mut N) -> Result<()> {
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
    ck.copy_into(&mut expected)
}

/// What a run was started with. A checkpoint keeps it, and resuming with
/// other values is refused ([`RunInfo::differences`]): the data order,
/// the learning-rate schedule and the batches all follow from these, so
/// only the same ones give the run that was interrupted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunInfo {
    /// The network's name ([`Network::name`]).
    pub network: Option<String>,
    /// The seed of the data order (and of augmentation).
    pub seed: u64,
    /// The optimizer's learning rate when the run started (a schedule may
    /// have moved the current one since).
    pub initial_learning_rate: Option<f32>,
    /// Examples per training step.
    pub batch_size: Option<usize>,
    /// The caller's own settings (`("epochs", "20")`), compared as text.
    pub settings: Vec<(String, String)>,
}

impl RunInfo {
    /// Every way `self` (what a checkpoint holds) differs from `current`
    /// (the run that would resume it), as `what: <file's> in the
    /// checkpoint, <current> now`. A value one side did not record is not
    /// compared, except settings, which must be the same set.
    pub fn differences(&self, current: &RunInfo) -> Vec<String> {
        let mut out = Vec::new();
        let mut differ =
            |what: &str, saved: &dyn std::fmt::Display, now: &dyn std::fmt::Display| {
                out.push(format!("{what} {saved} in the checkpoint, {now} now"))
            };
        if self.seed != current.seed {
            differ("seed", &self.seed, &current.seed);
        }
        if let (Some(a), Some(b)) = (self.initial_learning_rate, current.initial_learning_rate) {
            // Compared bit for bit: the text round-trips an f32 exactly.
            if a.to_bits() != b.to_bits() {
                differ("initial learning rate", &a, &b);
            }
        }
        if let (Some(a), Some(b)) = (self.batch_size, current.batch_size) {
            if a != b {
                differ("batch size", &a, &b);
            }
        }
        let find = |list: &[(String, String)], key: &str| {
            list.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        };
        let mut keys: Vec<&String> = self
            .settings
            .iter()
            .chain(&current.settings)
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let saved = find(&self.settings, key);
            let now = find(&current.settings, key);
            if saved != now {
                let show = |v: Option<String>| v.unwrap_or_else(|| "(not set)".into());
                differ(key, &show(saved), &show(now));
            }
        }
        out
    }

    fn to_metadata(&self, out: &mut Vec<(String, String)>) {
        if let Some(name) = &self.network {
            out.push(("network".into(), name.clone()));
        }
        out.push(("seed".into(), self.seed.to_string()));
        if let Some(lr) = self.initial_learning_rate {
            out.push(("initial_learning_rate".into(), lr.to_string()));
        }
        if let Some(b) = self.batch_size {
            out.push(("batch_size".into(), b.to_string()));
        }
        for (k, v) in &self.settings {
            out.push((format!("setting.{k}"), v.clone()));
        }
    }

    /// From a checkpoint's metadata; `None` names the first bad value.
    fn from_checkpoint(ck: &st::Checkpoint) -> std::result::Result<RunInfo, &'static str> {
        fn parse<T: std::str::FromStr>(
            ck: &st::Checkpoint,
            key: &str,
            bad: &'static str,
        ) -> std::result::Result<Option<T>, &'static str> {
            ck.metadata(key)
                .map(|v| v.parse().map_err(|_| bad))
                .transpose()
        }
        let mut settings: Vec<(String, String)> = ck
            .metadata_keys()
            .into_iter()
            .filter_map(|k| {
                let name = k.strip_prefix("setting.")?;
                Some((name.to_string(), ck.metadata(k)?.to_string()))
            })
            .collect();
        settings.sort();
        Ok(RunInfo {
            network: ck.metadata("network").map(str::to_string),
            seed: parse(ck, "seed", "bad `seed`")?.ok_or("bad `seed`")?,
            initial_learning_rate: parse(
                ck,
                "initial_learning_rate",
                "bad `initial_learning_rate`",
            )?,
            batch_size: parse(ck, "batch_size", "bad `batch_size`")?,
            settings,
        })
    }
}

/// What a training checkpoint restores besides the weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Resumed {
    /// Epochs completed when it was saved.
    pub epoch: usize,
    /// What the run was started with.
    pub run: RunInfo,
    /// The metrics of the epochs completed.
    pub history: History,
}

/// Saves weights, optimizer state, epoch, the network's generator, the
/// run's settings and the history.
pub fn save<N: Network + ?Sized>(
    path: &Path,
    net: &N,
    optimizer: &dyn Optimizer,
    epoch: usize,
    run: &RunInfo,
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
    let mut metadata = vec![
        ("format".to_string(), FORMAT.to_string()),
        ("epoch".to_string(), epoch.to_string()),
        ("rng".to_string(), rng),
        (
            "learning_rate".to_string(),
            optimizer.learning_rate().to_string(),
        ),
        ("history".to_string(), history.to_csv()),
    ];
    run.to_metadata(&mut metadata);
    st::save(path, &tensors, &metadata)
}

/// Refuses a checkpoint of another network before anything is loaded: one
/// saved under another [`Network::name`] (an [`Error::Mismatch`] naming
/// both), or holding a weight tensor this network does not have (an
/// [`Error::Checkpoint`] naming it; one this network has and the file
/// lacks, or of another shape, is found by the load itself).
fn check_network<N: Network + ?Sized>(path: &Path, ck: &st::Checkpoint, net: &N) -> Result<()> {
    let here = net.name();
    let params: usize = net.tensors().iter().map(|t| t.len).sum();
    if let Some(there) = ck.metadata("network") {
        if there != here {
            let theirs = ck
                .names()
                .into_iter()
                .filter(|n| !n.starts_with("optimizer."))
                .count();
            return Err(Error::Mismatch {
                path: path.to_path_buf(),
                message: format!(
                    "a checkpoint of another network: `{there}` ({theirs} tensors), \
                     not `{here}` ({} tensors, {params} parameters)",
                    net.tensors().len()
                ),
            });
        }
    }
    let ours: std::collections::HashSet<&str> = net.tensors().iter().map(|t| t.name).collect();
    if let Some(extra) = ck
        .names()
        .into_iter()
        .find(|n| !n.starts_with("optimizer.") && !ours.contains(n))
    {
        return Err(Error::Checkpoint {
            path: path.to_path_buf(),
            tensor: extra.to_string(),
            message: format!(
                "is in the checkpoint but not part of `{here}` \
                 ({} tensors; a checkpoint of another network?)",
                ours.len()
            ),
        });
    }
    Ok(())
}

/// Restores a checkpoint written by [`save`] into `net` and `optimizer`,
/// after checking that it is a checkpoint of this network (its name and
/// its tensors).
pub fn load<N: Network + ?Sized>(
    path: &Path,
    net: &mut N,
    optimizer: &mut dyn Optimizer,
) -> Result<Resumed> {
    let ck = st::load(path)?;
    let bad = |what: &str| Error::format(path, format!("not a training checkpoint: {what}"));
    if ck.metadata("format") != Some(FORMAT) {
        return Err(bad(
            "no `format` metadata (a weights-only file cannot resume training)",
        ));
    }
    check_network(path, &ck, net)?;
    let epoch = ck
        .metadata("epoch")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("bad `epoch`"))?;
    let run = RunInfo::from_checkpoint(&ck).map_err(bad)?;
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
    load_weights_from(&ck, net)?;
    optimizer.load_state(&state)?;
    optimizer.set_learning_rate(lr);
    net.set_rng_state(rng);
    Ok(Resumed {
        epoch,
        run,
        history,
    })
}
