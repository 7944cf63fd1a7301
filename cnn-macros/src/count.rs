//! Parameters, trainable parameters and multiply-adds, counted as Keras
//! and the course count them, with checked arithmetic:
//!
//! - a convolution holds `fh * fw * c_in * filters` weights plus `filters`
//!   biases, and costs `out_h * out_w * filters * fh * fw * c_in` MACs; in
//!   `g` groups each filter sees `c_in / g` channels, so both lose a factor
//!   `g` (a depthwise convolution: `c_in / g = 1`);
//! - a dense layer holds `inputs * units` weights plus `units` biases, and
//!   costs `inputs * units` MACs;
//! - a batch norm holds 4 numbers per channel (gamma, beta, moving mean,
//!   moving variance), of which the 2 moving ones are not trainable;
//! - every other layer holds nothing and costs 0;
//! - a frozen layer's (`trainable: false`) parameters are all non-trainable;
//! - a block's counts are the sums over the layers it holds, and the net's
//!   totals the sums over its top-level layers.
//!
//! Layers whose shapes are unknown (after an earlier mistake) count 0.

use crate::diag::{Diag, Diags};
use crate::ir::{Layer, LayerKind, Net, Shape};

/// One layer's (or block's, or net's) counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub params: usize,
    pub trainable: usize,
    pub macs: u64,
}

impl Counts {
    fn checked_add(self, other: Counts) -> Option<Counts> {
        Some(Counts {
            params: self.params.checked_add(other.params)?,
            trainable: self.trainable.checked_add(other.trainable)?,
            macs: self.macs.checked_add(other.macs)?,
        })
    }
}

/// Counts every layer and the net, reporting overflows. A checked net
/// guarantees more than its totals fit: every row of a summary (blocks and
/// the layers in them) adds up without overflow, and so do the bytes of
/// every layer's output, so code summing them naively cannot overflow.
pub fn count(net: &mut Net, diags: &mut Diags) {
    let before = diags.len();
    let total = count_list(&mut net.layers, diags);
    let activations_fit = activations_fit(&net.layers);
    if !activations_fit {
        // Reported below unless a count overflow (the usual cause) already
        // was; either way the shapes are forgotten, so code summing them
        // cannot overflow.
        forget_shapes(&mut net.layers);
    }
    let problem = match total {
        _ if diags.len() > before => None,
        Some(_) if !activations_fit => {
            Some("the activations of one example overflow (4 bytes per value)")
        }
        Some(_) if rows_fit(&net.layers) => None,
        _ => Some("the network's parameter or multiply-add count overflows"),
    };
    if let Some(problem) = problem {
        let message = format!("{}: {problem}", net.name);
        diags.push(
            Diag::new(net.site_input, message).help("arithmetic overflow: use a smaller network"),
        );
    }
    let totals = match total {
        Some(total) if diags.len() == before => total,
        _ => Counts::default(),
    };
    net.params = totals.params;
    net.trainable = totals.trainable;
    net.macs = totals.macs;
}

/// Parameters and multiply-adds of inference: every layer's but those
/// inside auxiliary heads, which only train. The counts of a checked net
/// fit, so the sums cannot overflow.
pub fn without_aux_heads(layers: &[Layer]) -> (usize, u64) {
    let mut params = 0;
    let mut macs = 0;
    for layer in layers {
        match &layer.kind {
            LayerKind::AuxHead { .. } => {}
            _ if layer.is_block() => {
                for list in layer.children() {
                    let (p, m) = without_aux_heads(list);
                    params += p;
                    macs += m;
                }
            }
            _ => {
                params += layer.params;
                macs += layer.macs;
            }
        }
    }
    (params, macs)
}

/// Counts a list of layers, `None` when the sum overflows.
fn count_list(layers: &mut [Layer], diags: &mut Diags) -> Option<Counts> {
    let mut total = Some(Counts::default());
    for layer in layers {
        let counts = count_layer(layer, diags);
        total = total.and_then(|t| t.checked_add(counts));
    }
    total
}

/// Counts one layer (a block: its children first) and stores the counts.
fn count_layer(layer: &mut Layer, diags: &mut Diags) -> Counts {
    let counts = if !layer.is_block() {
        let frozen = layer.frozen;
        own_counts(layer)
            .map(|c| Counts {
                // A frozen layer's parameters all count as non-trainable.
                trainable: if frozen { 0 } else { c.trainable },
                ..c
            })
            .unwrap_or_else(|sum| {
                let message = format!("{}: the {sum} overflows", layer.name);
                let key = match layer.kind {
                    LayerKind::Dense { .. } => "units",
                    _ => "filters",
                };
                diags.push(
                    Diag::new(layer.key_site(key), message)
                        .help("arithmetic overflow: make the layer smaller"),
                );
                Counts::default()
            })
    } else {
        let before = diags.len();
        let mut total = Some(Counts::default());
        for list in layer.children_mut() {
            let sum = count_list(list, diags);
            total = total.and_then(|t| sum.and_then(|s| t.checked_add(s)));
        }
        total.unwrap_or_else(|| {
            if diags.len() == before {
                let message = format!(
                    "{}: the block's parameter or multiply-add count overflows",
                    layer.name
                );
                diags.push(
                    Diag::new(layer.site, message)
                        .help("arithmetic overflow: make the block smaller"),
                );
            }
            Counts::default()
        })
    };
    layer.params = counts.params;
    layer.trainable = counts.trainable;
    layer.macs = counts.macs;
    counts
}

/// The counts of a layer that is not a block; `Err` names the sum that
/// overflowed, with its numbers.
fn own_counts(layer: &Layer) -> Result<Counts, String> {
    let (Some(input), Some(output)) = (layer.input, layer.output) else {
        return Ok(Counts::default());
    };
    match (&layer.kind, input, output) {
        // A volume's kernel has a depth too: `fd * fh * fw * c_in` weights
        // per filter, used at every output voxel.
        (
            LayerKind::Conv2d {
                filters,
                kernel,
                bias,
                groups,
                depth: Some(dp),
                ..
            },
            Shape::Image { c: c_total, .. },
            Shape::Image {
                h: out_h,
                w: out_w,
                depth: Some(out_d),
                ..
            },
        ) => {
            let ([fh, fw], fd) = (*kernel, dp.f);
            let c_in = c_total / (*groups).max(1);
            let weights = mul(&[fd, fh, fw, c_in, *filters]).ok_or_else(|| {
                format!(
                    "parameter count fd * fh * fw * c_in * filters = {fd} * {fh} * {fw} * {c_in} * {filters}"
                )
            })?;
            let params = weights
                .checked_add(if *bias { *filters } else { 0 })
                .ok_or_else(|| {
                    format!("parameter count (weights + biases = {weights} + {filters})")
                })?;
            let macs = mul(&[out_d, out_h, out_w, *filters, fd, fh, fw, c_in])
                .and_then(|m| u64::try_from(m).ok())
                .ok_or_else(|| {
                    format!("multiply-add count out_d * out_h * out_w * filters * fd * fh * fw * c_in = {out_d} * {out_h} * {out_w} * {filters} * {fd} * {fh} * {fw} * {c_in}")
                })?;
            Ok(Counts {
                params,
                trainable: params,
                macs,
            })
        }
        (
            LayerKind::Conv2d {
                filters,
                kernel,
                bias,
                groups,
                ..
            },
            Shape::Image { c: c_total, .. },
            Shape::Image {
                h: out_h, w: out_w, ..
            },
        ) => {
            let [fh, fw] = *kernel;
            // The checker made sure groups divides the channels.
            let c_in = c_total / (*groups).max(1);
            let weights = mul(&[fh, fw, c_in, *filters]).ok_or_else(|| {
                format!(
                    "parameter count fh * fw * c_in * filters = {fh} * {fw} * {c_in} * {filters}"
                )
            })?;
            let params = weights
                .checked_add(if *bias { *filters } else { 0 })
                .ok_or_else(|| {
                    format!("parameter count (weights + biases = {weights} + {filters})")
                })?;
            let macs = mul(&[out_h, out_w, *filters, fh, fw, c_in])
                .and_then(|m| u64::try_from(m).ok())
                .ok_or_else(|| {
                    format!("multiply-add count out_h * out_w * filters * fh * fw * c_in = {out_h} * {out_w} * {filters} * {fh} * {fw} * {c_in}")
                })?;
            Ok(Counts {
                params,
                trainable: params,
                macs,
            })
        }
        // A volume's transposed convolution: the depth is one more factor
        // of the weights and of the input voxels.
        (
            LayerKind::ConvTranspose2d {
                filters,
                kernel,
                bias,
                groups,
                depth: Some(dp),
                ..
            },
            Shape::Image {
                h: in_h,
                w: in_w,
                c: c_in,
                depth: Some(in_d),
                ..
            },
            _,
        ) => {
            let ([fh, fw], fd) = (*kernel, dp.f);
            let og = filters / (*groups).max(1);
            let weights = mul(&[fd, fh, fw, og, c_in]).ok_or_else(|| {
                format!(
                    "parameter count fd * fh * fw * (filters / groups) * c_in = {fd} * {fh} * {fw} * {og} * {c_in}"
                )
            })?;
            let params = weights
                .checked_add(if *bias { *filters } else { 0 })
                .ok_or_else(|| {
                    format!("parameter count (weights + biases = {weights} + {filters})")
                })?;
            let macs = mul(&[in_d, in_h, in_w, c_in, fd, fh, fw, og])
                .and_then(|m| u64::try_from(m).ok())
                .ok_or_else(|| {
                    format!("multiply-add count in_d * in_h * in_w * c_in * fd * fh * fw * (filters / groups) = {in_d} * {in_h} * {in_w} * {c_in} * {fd} * {fh} * {fw} * {og}")
                })?;
            Ok(Counts {
                params,
                trainable: params,
                macs,
            })
        }
        // Each input pixel times each tap into the filters of its group
        // (PyTorch's profilers count a transposed convolution so, taps
        // that land in the cut padding included); the weights are the
        // convolution's it transposes, `fh * fw * (filters / groups) * c_in`.
        (
            LayerKind::ConvTranspose2d {
                filters,
                kernel,
                bias,
                groups,
                ..
            },
            Shape::Image {
                h: in_h,
                w: in_w,
                c: c_in,
                ..
            },
            _,
        ) => {
            let [fh, fw] = *kernel;
            let og = filters / (*groups).max(1);
            let weights = mul(&[fh, fw, og, c_in]).ok_or_else(|| {
                format!(
                    "parameter count fh * fw * (filters / groups) * c_in = {fh} * {fw} * {og} * {c_in}"
                )
            })?;
            let params = weights
                .checked_add(if *bias { *filters } else { 0 })
                .ok_or_else(|| {
                    format!("parameter count (weights + biases = {weights} + {filters})")
                })?;
            let macs = mul(&[in_h, in_w, c_in, fh, fw, og])
                .and_then(|m| u64::try_from(m).ok())
                .ok_or_else(|| {
                    format!("multiply-add count in_h * in_w * c_in * fh * fw * (filters / groups) = {in_h} * {in_w} * {c_in} * {fh} * {fw} * {og}")
                })?;
            Ok(Counts {
                params,
                trainable: params,
                macs,
            })
        }
        (LayerKind::Dense { units, bias }, input, _) => {
            let inputs = input.len();
            let weights = mul(&[inputs, *units])
                .ok_or_else(|| format!("parameter count inputs * units = {inputs} * {units}"))?;
            let params = weights
                .checked_add(if *bias { *units } else { 0 })
                .ok_or_else(|| {
                    format!("parameter count (weights + biases = {weights} + {units})")
                })?;
            let macs = u64::try_from(weights)
                .map_err(|_| format!("multiply-add count inputs * units = {inputs} * {units}"))?;
            Ok(Counts {
                params,
                trainable: params,
                macs,
            })
        }
        (LayerKind::BatchNorm { .. }, input, _) => {
            let c = input.channels();
            let params = c
                .checked_mul(4)
                .ok_or_else(|| format!("parameter count 4 * channels = 4 * {c}"))?;
            Ok(Counts {
                params,
                trainable: 2 * c,
                macs: 0,
            })
        }
        // gamma and beta per channel, all trainable (no running statistics).
        (LayerKind::GroupNorm { .. } | LayerKind::LayerNorm { .. }, input, _) => {
            let c = input.channels();
            let params = c
                .checked_mul(2)
                .ok_or_else(|| format!("parameter count 2 * channels = 2 * {c}"))?;
            Ok(Counts {
                params,
                trainable: params,
                macs: 0,
            })
        }
        // One trainable factor per channel (per feature of a flat input).
        (LayerKind::Scale { .. }, input, _) => {
            let c = input.channels();
            Ok(Counts {
                params: c,
                trainable: c,
                macs: 0,
            })
        }
        _ => Ok(Counts::default()),
    }
}

fn mul(factors: &[usize]) -> Option<usize> {
    factors
        .iter()
        .try_fold(1usize, |acc, &x| acc.checked_mul(x))
}

/// Whether the counts of every row of a summary (blocks and the layers in
/// them) still add up without overflow, so that code summing them naively
/// cannot overflow either.
fn rows_fit(layers: &[Layer]) -> bool {
    fn rows(layers: &[Layer], sum: &mut (u128, u128)) {
        for layer in layers {
            sum.0 += layer.params as u128;
            sum.1 += u128::from(layer.macs);
            for list in layer.children() {
                rows(list, sum);
            }
        }
    }
    let mut sum = (0, 0);
    rows(layers, &mut sum);
    sum.0 <= usize::MAX as u128 && sum.1 <= u128::from(u64::MAX)
}

/// Whether the `f32` activations of one example, every layer's output
/// (blocks and the layers in them alike), fit in `usize` bytes: the
/// summary's activation memory is a sum of some of them.
fn activations_fit(layers: &[Layer]) -> bool {
    fn bytes(layers: &[Layer], sum: &mut u128) {
        for layer in layers {
            *sum += 4 * layer.output.map_or(0, |s| s.len() as u128);
            for list in layer.children() {
                bytes(list, sum);
            }
        }
    }
    let mut sum = 0;
    bytes(layers, &mut sum);
    sum <= usize::MAX as u128
}

fn forget_shapes(layers: &mut [Layer]) {
    for layer in layers {
        layer.input = None;
        layer.output = None;
        for list in layer.children_mut() {
            forget_shapes(list);
        }
    }
}
