//! The inference program of a generated network as a graph: the values one
//! example flows through (each with its shape) and the kernel calls between
//! them, with the names of the parameter tensors each call reads. The
//! `network!` macro emits it as the `GRAPH` constant, fused as `predict`
//! runs it (a convolution carries the batch norm that follows it and its
//! activation); exporters (ONNX) read it, and nothing at run time needs it.
//!
//! Values are numbered in the order they are produced; every value is
//! written by exactly one node (a concatenation is one node with all its
//! parts), so the graph is in SSA form whatever slots `predict` reuses.
//! Shapes are NHWC (NDHWC for a volume), one example's, as everywhere in
//! the library.

use crate::geom::{Act, Conv2dGeom, ConvTranspose2dGeom, PoolGeom, UpsampleGeom};
use crate::geom3d::{Conv3dGeom, Pool3dGeom};
use crate::geom3d_grow::{ConvTranspose3dGeom, Upsample3dGeom};
use crate::layers::batch_norm;

/// The shape of one example of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueShape {
    /// `[h, w, c]` (a sequence `[l, c]` is the image `[1, l, c]`).
    Image([usize; 3]),
    /// `[d, h, w, c]`, NDHWC: `d` frames (or slices) of `h x w x c`.
    Volume([usize; 4]),
    /// `n` features.
    Flat(usize),
}

impl ValueShape {
    /// Elements of one example.
    pub const fn len(&self) -> usize {
        match *self {
            ValueShape::Image([h, w, c]) => h * w * c,
            ValueShape::Volume([d, h, w, c]) => d * h * w * c,
            ValueShape::Flat(n) => n,
        }
    }

    /// The channels (the last axis; a flat value's features).
    pub const fn channels(&self) -> usize {
        match *self {
            ValueShape::Image([_, _, c]) | ValueShape::Volume([_, _, _, c]) => c,
            ValueShape::Flat(n) => n,
        }
    }

    /// The spatial axes, outermost first (`[h, w]`, `[d, h, w]`; none for
    /// a flat value).
    pub fn spatial(&self) -> &[usize] {
        match self {
            ValueShape::Image(s) => &s[..2],
            ValueShape::Volume(s) => &s[..3],
            ValueShape::Flat(_) => &[],
        }
    }

    /// Whether it holds no element.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A batch norm's tensors (names in `TENSORS`) and epsilon.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormTensors {
    /// Scale, `[c]`.
    pub gamma: &'static str,
    /// Offset, `[c]`.
    pub beta: &'static str,
    /// Moving mean, `[c]`.
    pub mean: &'static str,
    /// Moving variance, `[c]`.
    pub var: &'static str,
    /// Added to the variance.
    pub epsilon: f32,
}

impl BatchNormTensors {
    /// Gamma and beta, looked up by `tensor`.
    fn params<'p>(
        &self,
        tensor: impl Fn(&str) -> crate::Result<&'p [f32]>,
    ) -> crate::Result<batch_norm::Params<'p>> {
        Ok(batch_norm::Params {
            gamma: tensor(self.gamma)?,
            beta: tensor(self.beta)?,
        })
    }

    /// The moving mean and variance, looked up by `tensor`.
    fn running<'p>(
        &self,
        tensor: impl Fn(&str) -> crate::Result<&'p [f32]>,
    ) -> crate::Result<batch_norm::RunningStats<'p>> {
        Ok(batch_norm::RunningStats {
            mean: tensor(self.mean)?,
            var: tensor(self.var)?,
        })
    }
}

/// One kernel call of inference, from value `x` (or several) to value `y`.
// The fields `x`, `y`, `a`, `b` are value numbers and `geom` the call's
// geometry in every variant, as said here once.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Node {
    /// `y = act(bn(conv(x, weight) + bias))`; weights `[fh, fw, c_in / groups, c_out]`.
    Conv {
        x: usize,
        y: usize,
        geom: Conv2dGeom,
        groups: usize,
        weight: &'static str,
        bias: Option<&'static str>,
        /// A batch norm right after the convolution (folded into it by `predict`).
        batch_norm: Option<BatchNormTensors>,
        act: Act,
    },
    /// `y = act(bn(conv3d(x, weight) + bias))` on volumes; weights `[fd,
    /// fh, fw, c_in / groups, c_out]` (the groups are the geometry's).
    Conv3d {
        x: usize,
        y: usize,
        geom: Conv3dGeom,
        weight: &'static str,
        bias: Option<&'static str>,
        /// A batch norm right after the convolution (folded into it by `predict`).
        batch_norm: Option<BatchNormTensors>,
        act: Act,
    },
    /// `y = act(bn(conv_transpose(x, weight) + bias))`; weights `[fh, fw,
    /// c_out / groups, c_in]` (the convolution's it transposes).
    ConvTranspose {
        x: usize,
        y: usize,
        geom: ConvTranspose2dGeom,
        groups: usize,
        weight: &'static str,
        bias: Option<&'static str>,
        /// A batch norm right after it (folded into it by `predict`).
        batch_norm: Option<BatchNormTensors>,
        act: Act,
    },
    /// Each pixel repeated or interpolated into `sh x sw` (see
    /// [`UpsampleGeom`]).
    Upsample {
        x: usize,
        y: usize,
        geom: UpsampleGeom,
    },
    /// `y = act(bn(conv_transpose3d(x, weight) + bias))` on volumes;
    /// weights `[fd, fh, fw, c_out / groups, c_in]` (the convolution's it
    /// transposes; the groups are the geometry's).
    ConvTranspose3d {
        x: usize,
        y: usize,
        geom: ConvTranspose3dGeom,
        weight: &'static str,
        bias: Option<&'static str>,
        /// A batch norm right after it (folded into it by `predict`).
        batch_norm: Option<BatchNormTensors>,
        act: Act,
    },
    /// Each voxel repeated or interpolated (trilinear) into `sd x sh x
    /// sw` (see [`Upsample3dGeom`]).
    Upsample3d {
        x: usize,
        y: usize,
        geom: Upsample3dGeom,
    },
    /// `y = act(x W + bias)` with `x` flattened in NHWC order; `W` is `[in, units]`.
    Dense {
        x: usize,
        y: usize,
        weight: &'static str,
        bias: Option<&'static str>,
        act: Act,
    },
    /// `y = act(gamma * (x - mean) / sqrt(var + eps) + beta)` per channel.
    BatchNorm {
        x: usize,
        y: usize,
        tensors: BatchNormTensors,
        act: Act,
    },
    /// `y = gamma * (x - mean) / sqrt(var + epsilon) + beta` with the
    /// statistics of each example's group of `c / groups` channels over
    /// every position (PyTorch's `GroupNorm`); gamma and beta `[c]`.
    GroupNorm {
        x: usize,
        y: usize,
        groups: usize,
        gamma: &'static str,
        beta: &'static str,
        epsilon: f32,
    },
    /// As `GroupNorm` with the statistics of each position's channels
    /// (PyTorch's `LayerNorm(c)` on NHWC data; a flat value is one vector).
    LayerNorm {
        x: usize,
        y: usize,
        gamma: &'static str,
        beta: &'static str,
        epsilon: f32,
    },
    /// `y = x * scale`: a learnt factor per channel (`scale` is `[c]`),
    /// the same at every position and for every example.
    Scale {
        x: usize,
        y: usize,
        scale: &'static str,
    },
    /// `y = x * g`: `g` one factor per channel (`[c]` or `[1, 1, c]`),
    /// broadcast over the positions, or of `x`'s own length.
    Gate { x: usize, g: usize, y: usize },
    /// An activation on its own.
    Activation { x: usize, y: usize, act: Act },
    /// Softmax over the channels (the last axis) of every row.
    Softmax { x: usize, y: usize },
    /// Each row of channels (the last axis) divided by its L2 norm, at
    /// least `1e-12`.
    L2Normalize { x: usize, y: usize },
    /// Max pooling; padded cells never win.
    MaxPool { x: usize, y: usize, geom: PoolGeom },
    /// Average pooling; padded cells are not counted.
    AvgPool { x: usize, y: usize, geom: PoolGeom },
    /// Max pooling of a volume; padded cells never win.
    MaxPool3d {
        x: usize,
        y: usize,
        geom: Pool3dGeom,
    },
    /// Average pooling of a volume; padded cells are not counted.
    AvgPool3d {
        x: usize,
        y: usize,
        geom: Pool3dGeom,
    },
    /// The mean of every channel over the image (or volume), to a flat vector.
    GlobalAvgPool { x: usize, y: usize },
    /// `y = a + b`.
    Add { a: usize, b: usize, y: usize },
    /// The inputs joined along channels, in order.
    Concat { inputs: &'static [usize], y: usize },
}

/// The inference graph of a network.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Graph {
    /// Every value's shape, by number.
    pub values: &'static [ValueShape],
    /// The nodes in the order `predict` runs them.
    pub nodes: &'static [Node],
    /// The network's input value.
    pub input: usize,
    /// What `predict` returns.
    pub output: usize,
}

impl Graph {
    /// Runs the graph on `batch` examples `x` (NHWC, `[batch, input...]`)
    /// with the kernels, value by value, reading tensors by name from
    /// `params` through `tensors`: an executor independent of the code the
    /// macro generates, so tests can hold one against the other (and any
    /// exporter's reading of the graph against `predict`). Allocates.
    pub fn run(
        &self,
        tensors: &[super::TensorInfo],
        params: &[f32],
        batch: usize,
        x: &[f32],
    ) -> crate::Result<Vec<f32>> {
        use crate::error::{check_len, Error};
        use crate::layers::{
            activation, conv2d, conv3d, conv_transpose, conv_transpose3d, dense, gate, group_norm,
            l2_normalize, layer_norm, merge, pool, pool3d, scale, upsample, upsample3d,
        };
        let tensor = |name: &str| -> crate::Result<&[f32]> {
            tensors
                .iter()
                .find(|t| t.name == name)
                .map(|t| &params[t.range()])
                .ok_or_else(|| Error::InvalidArgument(format!("graph: no tensor `{name}`")))
        };
        // A batch norm after a convolution, folded into the per-channel
        // scale and shift of its epilogue (zeros, unread, without one).
        let folded =
            |bn: Option<BatchNormTensors>, c: usize| -> crate::Result<(Vec<f32>, Vec<f32>)> {
                let (mut scale, mut shift) = (vec![0.0; c], vec![0.0; c]);
                if let Some(t) = bn {
                    let out = batch_norm::Folded {
                        scale: &mut scale,
                        shift: &mut shift,
                    };
                    batch_norm::fold(t.params(tensor)?, t.running(tensor)?, t.epsilon, out)?;
                }
                Ok((scale, shift))
            };
        // A layer with weights from value `x` to value `y`: its epilogue
        // (the `Tail`: bias, folded batch norm, activation), then
        // `kernel(epilogue, input, output)`. One place for every kind of
        // convolution.
        type Kernel<'k> = dyn Fn(&conv2d::Epilogue, &[f32], &mut [f32]) -> crate::Result<()> + 'k;
        type Tail = (Option<&'static str>, Option<BatchNormTensors>, Act);
        let weighted = |v: &mut [Vec<f32>],
                        [x, y]: [usize; 2],
                        c_out: usize,
                        (bias, bn, act): Tail,
                        kernel: &Kernel<'_>|
         -> crate::Result<()> {
            let (scale, shift) = folded(bn, c_out)?;
            let ep = conv2d::Epilogue {
                bias: bias.map(tensor).transpose()?,
                affine: bn.map(|_| (&scale[..], &shift[..])),
                act,
            };
            let mut out = std::mem::take(&mut v[y]);
            kernel(&ep, &v[x], &mut out)?;
            v[y] = out;
            Ok(())
        };
        let input_len = self.values.get(self.input).map_or(0, ValueShape::len);
        check_len("graph input", x.len(), batch * input_len)?;
        let mut v: Vec<Vec<f32>> = self
            .values
            .iter()
            .map(|s| vec![0.0; batch * s.len()])
            .collect();
        v[self.input].copy_from_slice(x);
        let channels = |s: ValueShape| s.channels();
        for node in self.nodes {
            match *node {
                Node::ConvTranspose {
                    x,
                    y,
                    geom,
                    groups,
                    weight,
                    bias,
                    batch_norm: bn,
                    act,
                } => weighted(
                    &mut v,
                    [x, y],
                    geom.c_out,
                    (bias, bn, act),
                    &|ep, input, out| {
                        conv_transpose::forward(
                            &geom,
                            groups,
                            batch,
                            input,
                            tensor(weight)?,
                            ep,
                            out,
                        )
                    },
                )?,
                Node::Upsample { x, y, geom } => {
                    let mut out = std::mem::take(&mut v[y]);
                    upsample::forward(&geom, batch, &v[x], &mut out)?;
                    v[y] = out;
                }
                Node::ConvTranspose3d {
                    x,
                    y,
                    geom,
                    weight,
                    bias,
                    batch_norm: bn,
                    act,
                } => weighted(
                    &mut v,
                    [x, y],
                    geom.c_out,
                    (bias, bn, act),
                    &|ep, input, out| {
                        conv_transpose3d::forward(&geom, batch, input, tensor(weight)?, ep, out)
                    },
                )?,
                Node::Upsample3d { x, y, geom } => {
                    let mut out = std::mem::take(&mut v[y]);
                    upsample3d::forward(&geom, batch, &v[x], &mut out)?;
                    v[y] = out;
                }
                Node::Conv {
                    x,
                    y,
                    geom,
                    groups,
                    weight,
                    bias,
                    batch_norm: bn,
                    act,
                } => weighted(
                    &mut v,
                    [x, y],
                    geom.c_out,
                    (bias, bn, act),
                    &|ep, input, out| {
                        conv2d::forward(&geom, groups, batch, input, tensor(weight)?, ep, out)
                    },
                )?,
                Node::Conv3d {
                    x,
                    y,
                    geom,
                    weight,
                    bias,
                    batch_norm: bn,
                    act,
                } => weighted(
                    &mut v,
                    [x, y],
                    geom.c_out,
                    (bias, bn, act),
                    &|ep, input, out| {
                        conv3d::forward(&geom, batch, input, tensor(weight)?, ep, out)
                    },
                )?,
                Node::Dense {
                    x,
                    y,
                    weight,
                    bias,
                    act,
                } => {
                    let (n_in, n_out) = (self.values[x].len(), self.values[y].len());
                    let mut out = std::mem::take(&mut v[y]);
                    dense::forward(
                        batch,
                        n_in,
                        n_out,
                        &v[x],
                        tensor(weight)?,
                        bias.map(tensor).transpose()?,
                        act,
                        &mut out,
                    )?;
                    v[y] = out;
                }
                Node::BatchNorm {
                    x,
                    y,
                    tensors: t,
                    act,
                } => {
                    // The output's channels: after a flatten, which makes
                    // no node, `x` is still the image but the batch norm
                    // works on all its features.
                    let c = channels(self.values[y]);
                    let rows = batch * self.values[x].len() / c.max(1);
                    let mut out = std::mem::take(&mut v[y]);
                    let shape = batch_norm::Shape { m: rows, c };
                    // Inference reads no momentum; 1 would leave the
                    // moving statistics where they are.
                    let settings = batch_norm::Settings {
                        eps: t.epsilon,
                        momentum: 1.0,
                        act,
                    };
                    let (params, running) = (t.params(tensor)?, t.running(tensor)?);
                    batch_norm::forward_infer(shape, &v[x], params, running, settings, &mut out)?;
                    v[y] = out;
                }
                Node::GroupNorm {
                    x,
                    y,
                    groups,
                    gamma,
                    beta,
                    epsilon,
                } => {
                    // As for batch norm: after a flatten the features are
                    // the channels, one position.
                    let c = channels(self.values[y]);
                    let hw = self.values[x].len() / c.max(1);
                    let mut out = std::mem::take(&mut v[y]);
                    let shape = group_norm::Shape {
                        n: batch,
                        hw,
                        c,
                        groups,
                    };
                    let params = group_norm::Params {
                        gamma: tensor(gamma)?,
                        beta: tensor(beta)?,
                    };
                    group_norm::forward(shape, &v[x], params, epsilon, &mut out)?;
                    v[y] = out;
                }
                Node::LayerNorm {
                    x,
                    y,
                    gamma,
                    beta,
                    epsilon,
                } => {
                    let c = channels(self.values[y]);
                    let rows = batch * self.values[x].len() / c.max(1);
                    let mut out = std::mem::take(&mut v[y]);
                    let params = layer_norm::Params {
                        gamma: tensor(gamma)?,
                        beta: tensor(beta)?,
                    };
                    let shape = layer_norm::Shape { m: rows, c };
                    layer_norm::forward(shape, &v[x], params, epsilon, &mut out)?;
                    v[y] = out;
                }
                Node::Scale { x, y, scale } => {
                    let c = channels(self.values[y]);
                    let rows = batch * self.values[x].len() / c.max(1);
                    let mut out = std::mem::take(&mut v[y]);
                    scale::forward(rows, c, &v[x], tensor(scale)?, &mut out)?;
                    v[y] = out;
                }
                Node::Gate { x, g, y } => {
                    let (len, factors) = (self.values[x].len(), self.values[g].len());
                    let (hw, c) = if factors == len {
                        (1, len)
                    } else {
                        (len / factors.max(1), factors)
                    };
                    let mut out = std::mem::take(&mut v[y]);
                    gate::forward(batch, hw, c, &v[x], &v[g], &mut out)?;
                    v[y] = out;
                }
                Node::Activation { x, y, act } => {
                    let mut out = std::mem::take(&mut v[y]);
                    activation::forward(act, &v[x], &mut out)?;
                    v[y] = out;
                }
                Node::Softmax { x, y } => {
                    let c = channels(self.values[y]);
                    let rows = batch * self.values[x].len() / c.max(1);
                    let mut out = std::mem::take(&mut v[y]);
                    activation::softmax(rows, c, &v[x], &mut out)?;
                    v[y] = out;
                }
                Node::L2Normalize { x, y } => {
                    let c = channels(self.values[y]);
                    let rows = batch * self.values[x].len() / c.max(1);
                    let mut out = std::mem::take(&mut v[y]);
                    l2_normalize::forward(rows, c, &v[x], &mut out)?;
                    v[y] = out;
                }
                Node::MaxPool { x, y, geom } => {
                    let mut out = std::mem::take(&mut v[y]);
                    let mut argmax = vec![0u32; out.len()];
                    pool::max_forward(&geom, batch, &v[x], &mut out, &mut argmax)?;
                    v[y] = out;
                }
                Node::AvgPool { x, y, geom } => {
                    let mut out = std::mem::take(&mut v[y]);
                    pool::avg_forward(&geom, batch, &v[x], &mut out)?;
                    v[y] = out;
                }
                Node::MaxPool3d { x, y, geom } => {
                    let mut out = std::mem::take(&mut v[y]);
                    let mut argmax = vec![0u32; out.len()];
                    pool3d::max_forward(&geom, batch, &v[x], &mut out, &mut argmax)?;
                    v[y] = out;
                }
                Node::AvgPool3d { x, y, geom } => {
                    let mut out = std::mem::take(&mut v[y]);
                    pool3d::avg_forward(&geom, batch, &v[x], &mut out)?;
                    v[y] = out;
                }
                Node::GlobalAvgPool { x, y } => {
                    let c = channels(self.values[x]);
                    let hw = self.values[x].len() / c.max(1);
                    let mut out = std::mem::take(&mut v[y]);
                    pool::global_avg_forward(batch, hw, c, &v[x], &mut out)?;
                    v[y] = out;
                }
                Node::Add { a, b, y } => {
                    let mut out = std::mem::take(&mut v[y]);
                    merge::add(&v[a], &v[b], &mut out)?;
                    v[y] = out;
                }
                Node::Concat { inputs, y } => {
                    let c_total = channels(self.values[y]);
                    let rows = batch * self.values[y].len() / c_total.max(1);
                    let mut out = std::mem::take(&mut v[y]);
                    let mut offset = 0;
                    for &i in inputs {
                        // A flat output joins whole (flattened) inputs.
                        let c_part = match self.values[y] {
                            ValueShape::Flat(_) => self.values[i].len(),
                            ValueShape::Image(_) | ValueShape::Volume(_) => {
                                channels(self.values[i])
                            }
                        };
                        merge::concat_part(rows, c_total, offset, c_part, &v[i], &mut out)?;
                        offset += c_part;
                    }
                    v[y] = out;
                }
            }
        }
        Ok(std::mem::take(&mut v[self.output]))
    }
}
