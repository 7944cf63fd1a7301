//! The parameter arena of a generated network: one `f32` buffer holding
//! every tensor at an offset fixed at compile time, trainable tensors first
//! (so that an optimizer steps `params[..TRAINABLE_PARAMS]`), then the
//! non-trainable ones (batch norm's moving statistics). The macro emits the
//! table of [`TensorInfo`]; initialising, saving and loading are walks over
//! that table.

use std::path::Path;

use crate::error::{Error, Result};
use crate::rng::Rng;

/// How a tensor starts out in `Net::new(seed)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// `N(0, 2 / fan_in)`: weights followed by ReLU or LeakyRelu.
    HeNormal {
        /// Inputs of one output: `fh * fw * c_in / groups`, or a dense layer's inputs.
        fan_in: usize,
    },
    /// `U(-l, l)`, `l = sqrt(6 / (fan_in + fan_out))`: other weights.
    GlorotUniform {
        /// Inputs of one output, as for `HeNormal`.
        fan_in: usize,
        /// `fh * fw * filters`, or a dense layer's `units`.
        fan_out: usize,
    },
    /// Biases, batch norm's beta and moving mean.
    Zeros,
    /// Batch norm's gamma and moving variance.
    Ones,
    /// Every element `value`: a `Scale` layer's factors (`init`; ConvNeXt's
    /// layer scale starts at 1e-6).
    Constant {
        /// The value of every element.
        value: f32,
    },
}

/// One tensor of the parameter arena.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorInfo {
    /// `conv1.weight`: the name it is saved under.
    pub name: &'static str,
    /// The layer it belongs to: `conv1` (`res3a.conv1` inside a block).
    pub layer: &'static str,
    /// Conv weights `[fh, fw, c_in, filters]`, dense `[in, units]`,
    /// biases and batch norm vectors `[channels]`.
    pub shape: &'static [usize],
    /// Where it starts in the arena.
    pub offset: usize,
    /// Elements (the product of `shape`).
    pub len: usize,
    /// Whether the optimizer updates it (`offset + len <= TRAINABLE_PARAMS`).
    pub trainable: bool,
    /// How `new(seed)` fills it.
    pub init: Init,
}

impl TensorInfo {
    /// Its elements in the arena.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// A fresh arena of `total` parameters initialised from `seed`, tensor by
/// tensor in table order, and the generator, which the network keeps for
/// its dropout masks (so one seed fixes a whole training run).
pub fn init_params(seed: u64, tensors: &[TensorInfo], total: usize) -> (Vec<f32>, Rng) {
    let mut rng = Rng::new(seed);
    let mut params = vec![0.0f32; total];
    for t in tensors {
        let out = &mut params[t.range()];
        match t.init {
            Init::HeNormal { fan_in } => crate::init::he_normal(&mut rng, fan_in, out),
            Init::GlorotUniform { fan_in, fan_out } => {
                crate::init::glorot_uniform(&mut rng, fan_in, fan_out, out)
            }
            Init::Zeros => out.fill(0.0),
            Init::Ones => out.fill(1.0),
            Init::Constant { value } => out.fill(value),
        }
    }
    (params, rng)
}

/// Saves every tensor of the table under its name, in safetensors (the
/// write is atomic); `network` goes into the metadata.
pub fn save_params(
    path: &Path,
    network: &str,
    params: &[f32],
    tensors: &[TensorInfo],
) -> Result<()> {
    let list: Vec<(String, Vec<usize>, &[f32])> = tensors
        .iter()
        .map(|t| (t.name.to_string(), t.shape.to_vec(), &params[t.range()]))
        .collect();
    crate::io::save(path, &list, &[("network".to_string(), network.to_string())])
}

/// Loads every tensor of the table from a safetensors file into `params`.
/// The file must hold exactly these tensors with these shapes: the error
/// names the first that is missing, of another shape, or not expected.
/// `params` is left untouched on error.
pub fn load_params(path: &Path, params: &mut [f32], tensors: &[TensorInfo]) -> Result<()> {
    let mut expected = views_mut(params, tensors)?;
    crate::io::load_into(path, &mut expected)
}

/// Loads a file saved by a network used as a layer of this one (or by any
/// network whose tensors are this one's under `prefix`): every tensor named
/// `<prefix>.<name>` here is read from the file's `<name>`, and the file
/// must hold exactly those. The rest of `params` is not touched, nor is
/// any of it on error.
pub fn load_params_prefixed(
    path: &Path,
    prefix: &str,
    params: &mut [f32],
    tensors: &[TensorInfo],
) -> Result<()> {
    let dotted = format!("{prefix}.");
    let part: Vec<TensorInfo> = tensors
        .iter()
        .filter(|t| t.name.starts_with(&dotted))
        .copied()
        .collect();
    if part.is_empty() {
        let mut layers: Vec<&str> = tensors
            .iter()
            .map(|t| t.layer.split('.').next().unwrap_or(t.layer))
            .collect();
        layers.dedup();
        return Err(Error::InvalidArgument(format!(
            "no parameter of this network is under `{prefix}` (its top-level layers with parameters: {})",
            layers.join(", ")
        )));
    }
    let mut expected = views_mut(params, &part)?;
    for (name, _, _) in expected.iter_mut() {
        *name = name[dotted.len()..].to_string();
    }
    crate::io::load_into(path, &mut expected)
}

/// What `io::load_into` fills: name, shape, destination.
type Expected<'a> = (String, Vec<usize>, &'a mut [f32]);

/// `(name, shape, slice)` for every tensor, slices cut from `params` in
/// offset order.
fn views_mut<'a>(params: &'a mut [f32], tensors: &[TensorInfo]) -> Result<Vec<Expected<'a>>> {
    let mut order: Vec<&TensorInfo> = tensors.iter().collect();
    order.sort_by_key(|t| t.offset);
    let mut rest = params;
    let mut at = 0;
    let mut out = Vec::with_capacity(order.len());
    for t in order {
        let gap = t.offset.checked_sub(at).ok_or_else(|| overlap(t))?;
        if rest.len() < gap + t.len {
            return Err(overlap(t));
        }
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(gap);
        let (mine, tail) = tail.split_at_mut(t.len);
        rest = tail;
        at = t.offset + t.len;
        out.push((t.name.to_string(), t.shape.to_vec(), mine));
    }
    Ok(out)
}

fn overlap(t: &TensorInfo) -> Error {
    Error::InvalidArgument(format!(
        "internal error: tensor `{}` does not fit the parameter arena",
        t.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[TensorInfo] = &[
        TensorInfo {
            name: "d.weight",
            layer: "d",
            shape: &[3, 2],
            offset: 0,
            len: 6,
            trainable: true,
            init: Init::HeNormal { fan_in: 3 },
        },
        TensorInfo {
            name: "d.bias",
            layer: "d",
            shape: &[2],
            offset: 6,
            len: 2,
            trainable: true,
            init: Init::Zeros,
        },
        TensorInfo {
            name: "bn.moving_variance",
            layer: "bn",
            shape: &[2],
            offset: 8,
            len: 2,
            trainable: false,
            init: Init::Ones,
        },
    ];

    #[test]
    fn same_seed_same_params() {
        let (a, _) = init_params(5, TABLE, 10);
        let (b, _) = init_params(5, TABLE, 10);
        let (c, _) = init_params(6, TABLE, 10);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(&a[6..], &[0.0, 0.0, 1.0, 1.0]);
        assert!(a[..6].iter().all(|w| *w != 0.0));
    }

    #[test]
    fn views_follow_the_offsets() {
        let mut p: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let views = views_mut(&mut p, TABLE).unwrap();
        assert_eq!(views[1].0, "d.bias");
        assert_eq!(views[1].2, &[6.0, 7.0]);
        assert_eq!(views[2].2, &[8.0, 9.0]);
    }

    #[test]
    fn save_then_load_is_bit_exact_and_strict() {
        let dir = std::env::temp_dir().join(format!("cnn-net-params-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.safetensors");
        let (a, _) = init_params(9, TABLE, 10);
        save_params(&path, "Tiny", &a, TABLE).unwrap();
        let mut b = vec![0.0; 10];
        load_params(&path, &mut b, TABLE).unwrap();
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        // A table that wants another shape names the tensor and writes nothing.
        let mut other = TABLE.to_vec();
        other[0].shape = &[2, 3];
        let mut c = vec![7.0; 10];
        let err = load_params(&path, &mut c, &other).unwrap_err().to_string();
        assert!(err.contains("d.weight"), "{err}");
        assert!(c.iter().all(|&v| v == 7.0));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_part_loads_from_a_file_of_its_own_names() {
        let dir = std::env::temp_dir().join(format!("cnn-net-part-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("part.safetensors");
        // The inner network saved alone: `d.weight`, `d.bias`.
        let inner = &TABLE[..2];
        let (a, _) = init_params(3, inner, 8);
        save_params(&path, "Inner", &a, inner).unwrap();
        // The outer one holds it under `trunk.`, after a tensor of its own.
        let outer: Vec<TensorInfo> = vec![
            TensorInfo {
                name: "head.bias",
                layer: "head",
                shape: &[2],
                offset: 0,
                len: 2,
                trainable: true,
                init: Init::Zeros,
            },
            TensorInfo {
                name: "trunk.d.weight",
                layer: "trunk.d",
                offset: 2,
                ..TABLE[0]
            },
            TensorInfo {
                name: "trunk.d.bias",
                layer: "trunk.d",
                offset: 8,
                ..TABLE[1]
            },
        ];
        let mut p = vec![5.0; 10];
        load_params_prefixed(&path, "trunk", &mut p, &outer).unwrap();
        assert_eq!(&p[..2], &[5.0, 5.0]);
        assert_eq!(&p[2..], &a[..]);
        let err = load_params_prefixed(&path, "nope", &mut p, &outer)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope") && err.contains("trunk"), "{err}");
        // A file with more tensors than the part holds is refused untouched.
        let whole = dir.join("whole.safetensors");
        save_params(&whole, "Outer", &p, &outer).unwrap();
        let mut q = vec![1.0; 10];
        assert!(load_params_prefixed(&whole, "trunk", &mut q, &outer).is_err());
        assert!(q.iter().all(|&v| v == 1.0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
