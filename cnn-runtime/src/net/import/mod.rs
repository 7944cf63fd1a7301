//! Weights from elsewhere: loading a safetensors file that was not written
//! by this network's `save`. [`load_by_name`] takes every tensor whose name
//! and shape match (a checkpoint of a related network, a trunk's weights);
//! [`load_state_dict`] takes a PyTorch `state_dict` and converts it, names
//! and layouts, to ours. Both say what they did in a [`LoadReport`] and
//! both validate the whole file before writing: on `Err` the parameters are
//! as they were. The strict [`load_params`](super::load_params), which
//! wants exactly the network's tensors, stays what `load` uses.

pub(crate) mod layout;
mod report;

pub use report::LoadReport;

use std::collections::HashMap;
use std::path::Path;

use super::TensorInfo;
use crate::error::{Error, Result};
use crate::io::Checkpoint;

/// Loads every tensor of the safetensors file at `path` whose name is a
/// tensor of the table into `params` (a network's arena, tensors at the
/// table's offsets); tensors of the table the file does not hold keep
/// their values, and tensors of the file the table does not name are left
/// out. A name that matches with another shape is an `Err` naming the
/// tensor and both shapes, and so is a tensor that is not floating point
/// (`F32`; `F64`, `F16` and `BF16` are converted). The whole file is
/// checked before anything is written, so on `Err` `params` is untouched.
pub fn load_by_name(path: &Path, params: &mut [f32], tensors: &[TensorInfo]) -> Result<LoadReport> {
    load_matching(path, params, tensors, false)
}

/// [`load_by_name`] from a classifier into its convolutional twin
/// (OverFeat's sliding windows, the course's week 3): where the file holds
/// a dense layer's weight `[in, units]` and the network, under the same
/// name, a convolution's `[fh, fw, c, units]` with `fh * fw * c = in`, the
/// values are loaded as they are. No reshuffling is needed because the
/// layouts already agree: `Flatten` turns an `h x w x c` image into a
/// vector in `(h, w, c)` order, so row `(y * w + x) * c + k` of the dense
/// weight reads pixel `(y, x)`, channel `k`, and that is where a
/// convolution's `[fh, fw, c_in, c_out]` weight keeps the tap `(y, x, k)`
/// of its window; a dense layer after that one (`[units_1, units_2]`)
/// is a `1 x 1` convolution `[1, 1, units_1, units_2]`, same numbers.
/// Biases (`[units]`) match as they are. Any other shape mismatch is the
/// `Err` of [`load_by_name`].
pub fn load_dense_as_conv(
    path: &Path,
    params: &mut [f32],
    tensors: &[TensorInfo],
) -> Result<LoadReport> {
    load_matching(path, params, tensors, true)
}

/// Whether a file's `shape` is a dense weight that a convolution's
/// weight `ours` takes unchanged: `[in, units]` for `[fh, fw, c, units]`
/// with `fh * fw * c = in`.
fn dense_fits_conv(shape: &[usize], ours: &[usize]) -> bool {
    match (shape, ours) {
        (&[n_in, units], &[fh, fw, c, filters]) => {
            units == filters
                && fh
                    .checked_mul(fw)
                    .and_then(|n| n.checked_mul(c))
                    .is_some_and(|n| n == n_in)
        }
        _ => false,
    }
}

fn load_matching(
    path: &Path,
    params: &mut [f32],
    tensors: &[TensorInfo],
    dense_as_conv: bool,
) -> Result<LoadReport> {
    check_arena(params, tensors)?;
    let file = crate::io::load(path)?;
    let index = by_name(tensors);
    let mut plan = Plan::new(tensors.len());
    for key in file.names() {
        let Some(&i) = index.get(key) else {
            plan.unused.push(key.to_string());
            continue;
        };
        let t = &tensors[i];
        let shape = file.shape(key).unwrap_or_default();
        if shape != t.shape && !(dense_as_conv && dense_fits_conv(shape, t.shape)) {
            let mut message = format!(
                "the file's {} does not fit the network's {}, which takes {}",
                dims(shape),
                t.name,
                dims(t.shape)
            );
            if let (true, &[n_in, units], &[fh, fw, c, filters]) = (dense_as_conv, shape, t.shape) {
                let window = fh as u128 * fw as u128 * c as u128;
                message.push_str(&format!(
                    " (a dense weight [in, units] loads into a convolution [fh, fw, c, filters] \
                     when fh * fw * c = in and units = filters: here {fh} * {fw} * {c} = {window} \
                     against {n_in} inputs, {filters} filters against {units} units)"
                ));
            } else if shape == torch_shape(t.shape) {
                message.push_str(
                    " (this is PyTorch's layout: load a state_dict with load_pytorch, which converts it)",
                );
            }
            return Err(checkpoint_error(path, key, message));
        }
        let (_, values) = float_tensor(&file, key, t)?;
        plan.set(i, key, values, path)?;
    }
    Ok(plan.apply(params, tensors))
}

/// Loads a PyTorch `state_dict` saved with
/// `safetensors.torch.save_file(model.state_dict(), path)` into `params`.
///
/// Each key of the file goes through `map` first (`None` leaves it out;
/// `|k| Some(k.to_string())` keeps PyTorch's names), then to the tensor of
/// the table it stands for, converted:
///
/// - a convolution's `weight` `[c_out, c_in / groups, fh, fw]` becomes
///   ours `[fh, fw, c_in / groups, c_out]` (a transposed convolution's
///   `[c_in, c_out / groups, fh, fw]` ours `[fh, fw, c_out / groups,
///   c_in]`, the same permutation; a 1-D one's `[a, b, k]` as `[a, b, 1,
///   k]`; a `Conv3d`'s `[c_out, c_in / groups, fd, fh, fw]` ours `[fd,
///   fh, fw, c_in / groups, c_out]`), and so does a `Linear`'s
///   `[out, in]` loaded into a 1x1 convolution `[1, 1, in, out]` (a
///   `Linear` applied at every position of a channels-last map, as
///   ConvNeXt's blocks do, is a 1x1 convolution here);
/// - a `Linear`'s `weight` `[out, in]` becomes ours `[in, out]` (and so
///   does a 1x1 `Conv2d`'s `[out, in, 1, 1]` loaded into a dense layer:
///   squeeze-and-excitation blocks use them on pooled maps); for the
///   dense layers listed in `flattened` (a layer name and the `[h, w, c]`
///   image that a `Flatten` in front of it turned into its input: the
///   generated `FLATTENED`) the rows are also permuted from PyTorch's
///   channels-first flatten order `(c, h, w)` to ours `(h, w, c)`;
/// - on a layer `X` for which the table holds `X.gamma` (a batch norm),
///   `weight`, `bias`, `running_mean`, `running_var` are loaded into
///   `gamma`, `beta`, `moving_mean`, `moving_variance`;
/// - a `Scale` layer's factors, the tensor named after the layer itself
///   (torchvision's bare `layer_scale` parameter), take PyTorch's
///   `[c, 1, 1]` as well as `[c]`;
/// - `bias` and anything else whose name is ours is loaded as it is.
///
/// Batch norm's `num_batches_tracked` counters, and keys that name no
/// tensor of ours, are reported as unused; a key of ours stored as an
/// integer type is an `Err`. Half-precision and `F64` files are converted
/// to `f32`. A shape that does not fit is an `Err` naming the PyTorch key,
/// our tensor and both shapes; two keys for one tensor are an `Err` too.
/// The whole file is checked before anything is written, so on `Err`
/// `params` is untouched.
pub fn load_state_dict(
    path: &Path,
    params: &mut [f32],
    tensors: &[TensorInfo],
    flattened: &[(&str, [usize; 3])],
    map: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadReport> {
    check_arena(params, tensors)?;
    let images = check_flattened(tensors, flattened)?;
    let file = crate::io::load(path)?;
    let index = by_name(tensors);
    let mut plan = Plan::new(tensors.len());
    for key in file.names() {
        let Some(i) = map(key).and_then(|ours| torch_target(&ours, &index)) else {
            plan.unused.push(key.to_string());
            continue;
        };
        let t = &tensors[i];
        let (shape, values) = float_tensor(&file, key, t)?;
        let expected = torch_shape(t.shape);
        let fits = shape == expected
            || is_pointwise_dense(shape, &expected)
            || is_sequence_conv(shape, &expected)
            || is_linear_pointwise_conv(shape, &expected)
            || is_channel_factors(shape, t);
        if !fits {
            let mut message = format!(
                "the file's {} does not fit {}, which takes {}",
                dims(shape),
                t.name,
                dims(t.shape)
            );
            if expected != t.shape {
                message.push_str(&format!(" ({} in PyTorch's layout)", dims(&expected)));
            }
            return Err(checkpoint_error(path, key, message));
        }
        let values = match *t.shape {
            [fh, fw, c_in, c_out] => layout::conv_weight(&values, [fh, fw, c_in, c_out]),
            // A 3-D kernel's taps `(z, y, x)` are one axis of `fd * fh`
            // rows by `fw` columns in both layouts (`Conv3d`).
            [fd, fh, fw, c_in, c_out] => layout::conv_weight(&values, [fd * fh, fw, c_in, c_out]),
            [n_in, units] => {
                layout::linear_weight(&values, n_in, units, images.get(t.layer).copied())
            }
            _ => values,
        };
        plan.set(i, key, values, path)?;
    }
    Ok(plan.apply(params, tensors))
}

/// The index in the table of the tensor that PyTorch's (mapped) key
/// stands for: batch norm's names translated on a layer that has a
/// `gamma`, any other name as it is. Counters are never loaded.
fn torch_target(key: &str, index: &HashMap<&str, usize>) -> Option<usize> {
    if key.ends_with(".num_batches_tracked") {
        return None;
    }
    if let Some((layer, suffix)) = key.rsplit_once('.') {
        let ours = match suffix {
            "weight" => "gamma",
            "bias" => "beta",
            "running_mean" => "moving_mean",
            "running_var" => "moving_variance",
            _ => "",
        };
        let gamma = format!("{layer}.gamma");
        if !ours.is_empty() && index.contains_key(gamma.as_str()) {
            let name = format!("{layer}.{ours}");
            return index.get(name.as_str()).copied();
        }
    }
    index.get(key).copied()
}

/// A 1x1 convolution's weight `[out, in, 1, 1]` for a dense layer's
/// `[out, in]`: torchvision's squeeze-and-excitation blocks (and
/// SqueezeNet-style heads) compute on pooled 1x1 maps with `Conv2d`s that
/// are dense layers on the pooled vector.
fn is_pointwise_dense(file: &[usize], dense: &[usize]) -> bool {
    matches!((file, dense), ([o, i, 1, 1], [units, n_in]) if o == units && i == n_in)
}

/// PyTorch's `Conv1d` weight `[out, in / groups, k]` for our height-1
/// convolution's `[1, k, c_in, c_out]` (PyTorch's `[out, in, 1, k]`): the
/// same values in the same order, without the height axis.
fn is_sequence_conv(file: &[usize], expected: &[usize]) -> bool {
    matches!((file, expected), ([o, i, k], [eo, ei, 1, ek]) if o == eo && i == ei && k == ek)
}

/// A `Linear`'s weight `[out, in]` for a 1x1 convolution's `[out, in, 1,
/// 1]` (PyTorch's layout of ours): the same values in the same order, a
/// linear layer applied per position.
fn is_linear_pointwise_conv(file: &[usize], conv: &[usize]) -> bool {
    matches!((file, conv), ([o, i], [o2, i2, 1, 1]) if o == o2 && i == i2)
}

/// A per-channel parameter stored as `[c, 1, 1]` (to broadcast over an
/// NCHW map) for a `Scale`'s `[c]`, whose tensor has the layer's name.
fn is_channel_factors(file: &[usize], t: &TensorInfo) -> bool {
    t.name == t.layer && matches!((file, t.shape), ([c, 1, 1], [c2]) if c == c2)
}

/// PyTorch's shape for one of our tensors: `[c_out, c_in, fh, fw]` for a
/// convolution's `[fh, fw, c_in, c_out]`, `[c_out, c_in, fd, fh, fw]` for
/// a 3-D convolution's `[fd, fh, fw, c_in, c_out]`, `[out, in]` for a
/// dense layer's `[in, out]`, vectors as they are.
fn torch_shape(ours: &[usize]) -> Vec<usize> {
    match *ours {
        [fh, fw, c_in, c_out] => vec![c_out, c_in, fh, fw],
        [fd, fh, fw, c_in, c_out] => vec![c_out, c_in, fd, fh, fw],
        [n_in, units] => vec![units, n_in],
        _ => ours.to_vec(),
    }
}

/// A tensor's shape and values as `f32`, or an `Err` saying it cannot be
/// loaded into `t` because of its dtype.
fn float_tensor<'f>(
    file: &'f Checkpoint,
    key: &str,
    t: &TensorInfo,
) -> Result<(&'f [usize], Vec<f32>)> {
    if !file.is_float(key) {
        let dtype = file.dtype(key).unwrap_or_default();
        return Err(checkpoint_error(
            file.path(),
            key,
            format!(
                "stored as {dtype}, which is not a floating-point type, so it cannot be loaded into {}",
                t.name
            ),
        ));
    }
    file.tensor_f32(key)
}

/// What a load will write, gathered before anything is: per tensor of the
/// table the file key it comes from and its values in our layout.
struct Plan {
    writes: Vec<Option<(String, Vec<f32>)>>,
    unused: Vec<String>,
}

impl Plan {
    fn new(n: usize) -> Self {
        Plan {
            writes: vec![None; n],
            unused: Vec::new(),
        }
    }

    /// Records `values` for tensor `i` from `key`; a second key for the
    /// same tensor is an error (a `map` that sends two names to one).
    fn set(&mut self, i: usize, key: &str, values: Vec<f32>, path: &Path) -> Result<()> {
        if let Some((first, _)) = &self.writes[i] {
            return Err(checkpoint_error(
                path,
                key,
                format!("goes to the same tensor as `{first}`; each tensor can be loaded from one key only"),
            ));
        }
        self.writes[i] = Some((key.to_string(), values));
        Ok(())
    }

    /// Writes every planned tensor (lengths were checked against the
    /// shapes, and the table against the arena, before).
    fn apply(self, params: &mut [f32], tensors: &[TensorInfo]) -> LoadReport {
        let mut report = LoadReport {
            unused: self.unused,
            ..LoadReport::default()
        };
        for (t, write) in tensors.iter().zip(self.writes) {
            match write {
                Some((_, values)) => {
                    params[t.range()].copy_from_slice(&values);
                    report.loaded.push(t.name.to_string());
                }
                None => report.kept.push(t.name.to_string()),
            }
        }
        report
    }
}

fn by_name(tensors: &[TensorInfo]) -> HashMap<&str, usize> {
    tensors
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name, i))
        .collect()
}

/// Every tensor of the table lies inside `params` and has `len` elements:
/// what the writes of [`Plan::apply`] rely on.
fn check_arena(params: &[f32], tensors: &[TensorInfo]) -> Result<()> {
    for t in tensors {
        let fits = t
            .offset
            .checked_add(t.len)
            .is_some_and(|end| end <= params.len());
        let elements = t.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if !fits || elements != Some(t.len) {
            return Err(Error::InvalidArgument(format!(
                "tensor `{}` ({} at offset {}) does not fit a parameter arena of {} values",
                t.name,
                dims(t.shape),
                t.offset,
                params.len()
            )));
        }
    }
    Ok(())
}

/// The `flattened` list as layer -> image, each entry checked: a dense
/// layer of the table whose input count is `h * w * c`.
fn check_flattened<'a>(
    tensors: &[TensorInfo],
    flattened: &[(&'a str, [usize; 3])],
) -> Result<HashMap<&'a str, [usize; 3]>> {
    let mut images = HashMap::new();
    for &(layer, [h, w, c]) in flattened {
        let weight = format!("{layer}.weight");
        let t = tensors.iter().find(|t| t.name == weight).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "flattened: the network has no dense layer `{layer}` (no tensor `{weight}`)"
            ))
        })?;
        let pixels = h.checked_mul(w).and_then(|n| n.checked_mul(c));
        match *t.shape {
            [n_in, _] if Some(n_in) == pixels => {}
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "flattened: `{layer}` follows a flattened {h}x{w}x{c} image, but its weight is {}, not {}x<units>",
                    dims(t.shape),
                    pixels.map_or("an overflowing size".to_string(), |n| n.to_string())
                )))
            }
        }
        images.insert(layer, [h, w, c]);
    }
    Ok(images)
}

/// `3x3x32x128`, as shapes are written in messages; `scalar` for `[]`.
fn dims(shape: &[usize]) -> String {
    if shape.is_empty() {
        return "scalar".to_string();
    }
    shape
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("x")
}

fn checkpoint_error(path: &Path, tensor: &str, message: String) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        tensor: tensor.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests;
