//! A network's inference graph as an ONNX model: one ONNX node (or a short
//! chain) per node of the generated `GRAPH`, the weights as initializers in
//! ONNX's layouts under the network's own tensor names.
//!
//! The model takes NCHW float32 with a dynamic batch (`[N, C, H, W]`; a
//! sequence `[l, c]` is the image `1 x l x c` it runs as, `[N, c, 1, l]`;
//! a volume `[d, h, w, c]` is NCDHW, `[N, c, d, h, w]`, as PyTorch's
//! `Conv3d` takes it; `[N, features]` for a flat network) and returns what
//! `predict` returns: `[N, OUTPUT_SIZE]`, and for a network that ends on
//! an image or volume its NHWC (NDHWC) flatten (a `Transpose` back to
//! channels last before the `Flatten`). Inside, every activation is
//! channels first, so the conversions sit in the weights:
//!
//! - a convolution's `[fh, fw, c_in / groups, c_out]` becomes `[c_out,
//!   c_in / groups, fh, fw]` (a volume's `[fd, fh, fw, ..]` becomes
//!   `[c_out, c_in / groups, fd, fh, fw]`); its padding is explicit `pads`
//!   (every axis's front, then every axis's end: top, left, bottom, right),
//!   the ends worked out from the output size, so TensorFlow's `same` with
//!   its odd extra row at the end is exact, and its dilation is
//!   `dilations` (the window spanning `d (f - 1) + 1`);
//! - a transposed convolution is a `ConvTranspose` with our `[fh, fw,
//!   c_out / groups, c_in]` as ONNX's `[c_in, c_out / groups, fh, fw]`,
//!   its `pads`, `output_padding`, `dilations` and `group` (ONNX's output
//!   rule is PyTorch's; an output padding at or above the stride, which
//!   ONNX Runtime refuses, is written as less padding at the end);
//! - an upsampling is a `Resize` by `scales` `[1, 1, sh, sw]`: nearest
//!   with `asymmetric` coordinates and `floor` (input `o / s`), bilinear
//!   as `linear` with `half_pixel` (PyTorch's `align_corners=False`), the
//!   two PyTorch's own exporter writes;
//! - a convolution's folded batch norm is a `BatchNormalization` node of
//!   its own with the moving statistics, so a model read back (ours or any
//!   tool's) still has them; runtimes fold it again;
//! - a dense layer is a `Gemm` with our `[in, units]` as B; one that reads
//!   an image gets a `Flatten` of the NCHW tensor in front, whose order is
//!   channel first, so B's rows are permuted from our `(h, w, c)` order to
//!   `(c, h, w)` (a volume's from `(d, h, w, c)` to `(c, d, h, w)`);
//! - pools, 2-D and 3-D, keep their semantics: padded cells never win a
//!   `MaxPool` and are not counted by `AveragePool` (`count_include_pad =
//!   0`);
//! - a layer norm, per position over the channels, is a
//!   `LayerNormalization` on the last axis between two `Transpose`s (NCHW
//!   to NHWC and back; on a flat value, the node alone);
//! - a group norm, which opset 17 has no operator for, is PyTorch's old
//!   decomposition: `Reshape` to `[N, groups, -1]`, `InstanceNormalization`
//!   with unit scale and zero bias (each group's statistics), `Reshape`
//!   back, then `Mul` by gamma and `Add` beta per channel;
//! - a gate is a `Mul` of the input by its body's output, a `[N, C]` one
//!   reshaped to `[N, C, 1, 1]` (`[N, C, 1, 1, 1]` on a volume) to
//!   broadcast over the positions;
//! - a scale is a `Mul` by its factors as an initializer, `[C, 1, 1]` on
//!   an image (PyTorch's `layer_scale` shape; `[C, 1, 1, 1]` on a volume)
//!   and `[n]` on a flat value; the node is named after the layer.

use std::path::Path;

use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::{dimension, Dimension};
use onnx_protobuf::type_proto::{self, Value};
use onnx_protobuf::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use protobuf::{Enum, Message, MessageField};

use super::model::{float, int, int64s, ints, node, string, tensor};
use super::{dims, IR_VERSION, OPSET};
use crate::error::{Error, Result};
use crate::geom::{effective_window, Act, Interpolation};
use crate::net::graph::{BatchNormTensors, Graph, Node, ValueShape};
use crate::net::import::layout;
use crate::net::TensorInfo;

/// Writes the network `name`, whose inference graph is `graph` and whose
/// weights are `params` at the offsets of `tensors`, as an ONNX model
/// (opset [`OPSET`]) to `path`, atomically. `input_shape` is the network's
/// `INPUT_SHAPE` (`[h, w, c]`, `[l, c]`, `[d, h, w, c]` or `[n]`), checked
/// against the graph. The model's input is `input`, NCHW float32 `[N, c,
/// h, w]` with `N` dynamic (`[N, c, d, h, w]` for a volume, `[N, n]` for a
/// flat network); its output `output`, `[N, outputs]`, equals `predict`'s.
///
/// Errors: a graph that does not fit its tables (a tensor it names is
/// missing or has another shape, a value out of range), and I/O.
pub fn export(
    path: &Path,
    name: &str,
    graph: &Graph,
    tensors: &[TensorInfo],
    params: &[f32],
    input_shape: &[usize],
) -> Result<()> {
    let bytes = to_bytes(name, graph, tensors, params, input_shape)?;
    crate::io::write_bytes_atomic(path, &bytes)
}

/// [`export`]'s model as bytes, for callers that keep it in memory.
pub fn to_bytes(
    name: &str,
    graph: &Graph,
    tensors: &[TensorInfo],
    params: &[f32],
    input_shape: &[usize],
) -> Result<Vec<u8>> {
    let model = model(name, graph, tensors, params, input_shape)?;
    model
        .write_to_bytes()
        .map_err(|e| Error::InvalidArgument(format!("onnx export: encoding failed: {e}")))
}

pub(super) fn model(
    name: &str,
    graph: &Graph,
    tensors: &[TensorInfo],
    params: &[f32],
    input_shape: &[usize],
) -> Result<ModelProto> {
    let shape_of = |v: usize| {
        graph.values.get(v).copied().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "onnx export: the graph names value {v}, but it has {} values",
                graph.values.len()
            ))
        })
    };
    let input = shape_of(graph.input)?;
    let declared = [input.spatial(), &[input.channels()]].concat();
    // A sequence `[l, c]` runs as the image `[1, l, c]`.
    let sequence = matches!((input, input_shape), (ValueShape::Image([1, l, c]), &[dl, dc]) if [l, c] == [dl, dc]);
    if declared != input_shape && !sequence {
        return Err(Error::InvalidArgument(format!(
            "onnx export: the graph's input is {} but the network's input shape is {}",
            dims(&declared),
            dims(input_shape)
        )));
    }
    let mut b = Builder {
        graph,
        tensors,
        params,
        nodes: Vec::new(),
        initializers: Vec::new(),
        counts: Vec::new(),
    };
    for n in graph.nodes {
        b.node(n)?;
    }
    let output = shape_of(graph.output)?;
    let out_len = output.len();
    let last = b.value(graph.output);
    match output {
        ValueShape::Flat(_) => {
            b.nodes.push(node(
                "Identity",
                "output",
                &[&last],
                &["output"],
                Vec::new(),
            ));
        }
        // predict returns the NHWC image (NDHWC volume) flattened: back to
        // channels last first.
        _ => {
            let nhwc = format!("{last}/nhwc");
            b.nodes.push(node(
                "Transpose",
                "output/Transpose",
                &[&last],
                &[&nhwc],
                vec![ints("perm", &to_channels_last(output))],
            ));
            b.nodes.push(node(
                "Flatten",
                "output/Flatten",
                &[&nhwc],
                &["output"],
                vec![int("axis", 1)],
            ));
        }
    }

    let input_dims = [&[input.channels()], input.spatial()].concat();
    let mut g = GraphProto::new();
    g.name = name.to_string();
    g.doc_string = format!(
        "{name}, exported by cnn: input NCHW float32 with a dynamic batch, \
         output what {name}::predict returns"
    );
    g.node = b.nodes;
    g.initializer = b.initializers;
    g.input.push(value_info("input", &input_dims));
    g.output.push(value_info("output", &[out_len]));

    let mut model = ModelProto::new();
    model.ir_version = IR_VERSION;
    let mut opset = OperatorSetIdProto::new();
    opset.domain = String::new();
    opset.version = OPSET;
    model.opset_import.push(opset);
    model.producer_name = "cnn".to_string();
    model.producer_version = env!("CARGO_PKG_VERSION").to_string();
    model.doc_string = g.doc_string.clone();
    model.graph = MessageField::some(g);
    Ok(model)
}

/// A float32 tensor value `[N, dims..]` with a symbolic batch `N`.
/// A convolution's weight tensor as ours holds it (`ours`) and as ONNX
/// takes it (`torch`, PyTorch's layout), with its bias and output channels.
struct ConvWeights {
    name: &'static str,
    ours: Vec<usize>,
    torch: Vec<usize>,
    bias: Option<&'static str>,
    c_out: usize,
}

/// `groups` must divide both channel counts of the convolution `weight`.
fn check_groups(weight: &str, groups: usize, c_in: usize, c_out: usize) -> Result<()> {
    if groups == 0 || !c_in.is_multiple_of(groups) || !c_out.is_multiple_of(groups) {
        return Err(Error::InvalidArgument(format!(
            "onnx export: `{weight}`: {groups} groups do not divide {c_in} -> {c_out} channels"
        )));
    }
    Ok(())
}

fn value_info(name: &str, dims: &[usize]) -> ValueInfoProto {
    let mut shape = TensorShapeProto::new();
    let mut batch = Dimension::new();
    batch.value = Some(dimension::Value::DimParam("N".to_string()));
    shape.dim.push(batch);
    for &d in dims {
        let mut dim = Dimension::new();
        dim.value = Some(dimension::Value::DimValue(d as i64));
        shape.dim.push(dim);
    }
    let mut t = type_proto::Tensor::new();
    t.elem_type = DataType::FLOAT.value();
    t.shape = MessageField::some(shape);
    let mut ty = TypeProto::new();
    ty.value = Some(Value::TensorType(t));
    let mut v = ValueInfoProto::new();
    v.name = name.to_string();
    v.type_ = MessageField::some(ty);
    v
}

struct Builder<'a> {
    graph: &'a Graph,
    tensors: &'a [TensorInfo],
    params: &'a [f32],
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    /// How many nodes of each unnamed kind so far, for their names.
    counts: Vec<(&'static str, usize)>,
}

impl<'a> Builder<'a> {
    /// The ONNX name of graph value `v`.
    fn value(&self, v: usize) -> String {
        if v == self.graph.input {
            "input".to_string()
        } else {
            format!("v{v}")
        }
    }

    fn shape(&self, v: usize) -> Result<ValueShape> {
        self.graph.values.get(v).copied().ok_or_else(|| {
            Error::InvalidArgument(format!("onnx export: no value {v} in the graph"))
        })
    }

    /// The ONNX tensor that stands for value `x` where a node writing
    /// value `y` reads it. `Flatten` makes no node of the graph: a value
    /// the graph keeps as an image may be read by a node whose output is
    /// flat (a batch norm or softmax after a flatten), which then works on
    /// the NHWC-flattened vector; in ONNX the image is NCHW, so it is
    /// transposed back to NHWC and flattened first (once per value).
    fn read(&mut self, x: usize, y: usize) -> Result<String> {
        let from = self.shape(x)?;
        if from.spatial().is_empty() || !self.shape(y)?.spatial().is_empty() {
            return Ok(self.value(x));
        }
        let name = self.value(x);
        let flat = format!("{name}/nhwc_flat");
        if !self.nodes.iter().any(|n| n.output.first() == Some(&flat)) {
            let nhwc = format!("{name}/nhwc");
            self.nodes.push(node(
                "Transpose",
                &format!("{name}/Transpose"),
                &[&name],
                &[&nhwc],
                vec![ints("perm", &to_channels_last(from))],
            ));
            self.nodes.push(node(
                "Flatten",
                &format!("{name}/Flatten"),
                &[&nhwc],
                &[&flat],
                vec![int("axis", 1)],
            ));
        }
        Ok(flat)
    }

    /// A name for a node of a kind that has no layer name: `MaxPool_3`.
    fn unnamed(&mut self, kind: &'static str) -> String {
        let k = match self.counts.iter_mut().find(|(n, _)| *n == kind) {
            Some((_, k)) => {
                *k += 1;
                *k
            }
            None => {
                self.counts.push((kind, 1));
                1
            }
        };
        format!("{kind}_{k}")
    }

    /// Tensor `name`'s info and values, its shape checked against `shape`.
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<(&'a TensorInfo, &'a [f32])> {
        let (tensors, params): (&'a [TensorInfo], &'a [f32]) = (self.tensors, self.params);
        let t = tensors.iter().find(|t| t.name == name).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "onnx export: the graph names tensor `{name}`, which the table does not hold"
            ))
        })?;
        if t.shape != shape {
            return Err(Error::InvalidArgument(format!(
                "onnx export: tensor `{name}` is {} where the graph needs {}",
                dims(t.shape),
                dims(shape)
            )));
        }
        let values = params.get(t.range()).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "onnx export: tensor `{name}` lies outside the {} parameters",
                params.len()
            ))
        })?;
        Ok((t, values))
    }

    /// Adds an initializer (ours, by name, in ONNX's layout `values`).
    fn init(&mut self, name: &str, shape: &[usize], values: &[f32]) {
        self.initializers.push(tensor(name, shape, values));
    }

    /// Adds a vector tensor as it is and returns its name.
    fn vector(&mut self, name: &'static str, len: usize) -> Result<&'static str> {
        let (_, values) = self.tensor(name, &[len])?;
        let values = values.to_vec();
        self.init(name, &[len], &values);
        Ok(name)
    }

    fn node(&mut self, n: &Node) -> Result<()> {
        match *n {
            Node::Conv {
                x,
                y,
                geom: g,
                groups,
                weight,
                bias,
                batch_norm,
                act,
            } => {
                check_groups(weight, groups, g.c_in, g.c_out)?;
                let axes = [
                    Axis::new(g.in_h, g.out_h, g.fh, g.sh, g.dh, g.pad_top),
                    Axis::new(g.in_w, g.out_w, g.fw, g.sw, g.dw, g.pad_left),
                ];
                let attrs = conv_attrs(&axes, groups)?;
                let weights = ConvWeights {
                    name: weight,
                    ours: vec![g.fh, g.fw, g.c_in / groups, g.c_out],
                    torch: vec![g.c_out, g.c_in / groups, g.fh, g.fw],
                    bias,
                    c_out: g.c_out,
                };
                self.conv_node(("Conv", "conv"), x, y, weights, attrs, batch_norm, act)?;
            }
            Node::Conv3d {
                x,
                y,
                geom: g,
                weight,
                bias,
                batch_norm,
                act,
            } => {
                let groups = g.groups;
                check_groups(weight, groups, g.c_in, g.c_out)?;
                let axes = [
                    Axis::new(g.in_d, g.out_d, g.fd, g.sd, g.dd, g.pad_front),
                    Axis::new(g.in_h, g.out_h, g.fh, g.sh, g.dh, g.pad_top),
                    Axis::new(g.in_w, g.out_w, g.fw, g.sw, g.dw, g.pad_left),
                ];
                let attrs = conv_attrs(&axes, groups)?;
                let weights = ConvWeights {
                    name: weight,
                    ours: vec![g.fd, g.fh, g.fw, g.c_in / groups, g.c_out],
                    torch: vec![g.c_out, g.c_in / groups, g.fd, g.fh, g.fw],
                    bias,
                    c_out: g.c_out,
                };
                self.conv_node(("Conv", "conv"), x, y, weights, attrs, batch_norm, act)?;
            }
            Node::ConvTranspose {
                x,
                y,
                geom: g,
                groups,
                weight,
                bias,
                batch_norm,
                act,
            } => {
                check_groups(weight, groups, g.c_in, g.c_out)?;
                let (end_h, op_h) = transposed_end(g.pad_top, g.out_pad_h, g.sh);
                let (end_w, op_w) = transposed_end(g.pad_left, g.out_pad_w, g.sw);
                let attrs = vec![
                    ints("kernel_shape", &[g.fh, g.fw]),
                    ints("strides", &[g.sh, g.sw]),
                    ints("pads", &[g.pad_top, g.pad_left, end_h, end_w]),
                    ints("output_padding", &[op_h, op_w]),
                    ints("dilations", &[g.dh, g.dw]),
                    int("group", groups as i64),
                ];
                let weights = ConvWeights {
                    name: weight,
                    ours: vec![g.fh, g.fw, g.c_out / groups, g.c_in],
                    torch: vec![g.c_in, g.c_out / groups, g.fh, g.fw],
                    bias,
                    c_out: g.c_out,
                };
                let op = ("ConvTranspose", "conv_transpose");
                self.conv_node(op, x, y, weights, attrs, batch_norm, act)?;
            }
            Node::Upsample { x, y, geom: g } => {
                self.resize(x, y, &[g.sh, g.sw], g.mode);
            }
            Node::Upsample3d { x, y, geom: g } => {
                self.resize(x, y, &[g.sd, g.sh, g.sw], g.mode);
            }
            Node::ConvTranspose3d {
                x,
                y,
                geom: g,
                weight,
                bias,
                batch_norm,
                act,
            } => {
                let groups = g.groups;
                check_groups(weight, groups, g.c_in, g.c_out)?;
                let (end_d, op_d) = transposed_end(g.pad_front, g.out_pad_d, g.sd);
                let (end_h, op_h) = transposed_end(g.pad_top, g.out_pad_h, g.sh);
                let (end_w, op_w) = transposed_end(g.pad_left, g.out_pad_w, g.sw);
                let attrs = vec![
                    ints("kernel_shape", &[g.fd, g.fh, g.fw]),
                    ints("strides", &[g.sd, g.sh, g.sw]),
                    ints(
                        "pads",
                        &[g.pad_front, g.pad_top, g.pad_left, end_d, end_h, end_w],
                    ),
                    ints("output_padding", &[op_d, op_h, op_w]),
                    ints("dilations", &[g.dd, g.dh, g.dw]),
                    int("group", groups as i64),
                ];
                let weights = ConvWeights {
                    name: weight,
                    ours: vec![g.fd, g.fh, g.fw, g.c_out / groups, g.c_in],
                    torch: vec![g.c_in, g.c_out / groups, g.fd, g.fh, g.fw],
                    bias,
                    c_out: g.c_out,
                };
                let op = ("ConvTranspose", "conv_transpose");
                self.conv_node(op, x, y, weights, attrs, batch_norm, act)?;
            }
            Node::Dense {
                x,
                y,
                weight,
                bias,
                act,
            } => {
                let (n_in, units) = (self.shape(x)?.len(), self.shape(y)?.len());
                let (t, w) = self.tensor(weight, &[n_in, units])?;
                let layer = t.layer;
                let mut a = self.value(x);
                let from = self.shape(x)?;
                let w = match from.spatial() {
                    [] => w.to_vec(),
                    // ONNX's Flatten of NCHW (NCDHW) reads channel first.
                    _ => {
                        let flat = format!("{a}/flat");
                        self.nodes.push(node(
                            "Flatten",
                            &format!("{layer}/Flatten"),
                            &[&a],
                            &[&flat],
                            vec![int("axis", 1)],
                        ));
                        a = flat;
                        layout::rows_to_channels_first(w, units, as_image(from))
                    }
                };
                self.init(weight, &[n_in, units], &w);
                let mut inputs = vec![a, weight.to_string()];
                if let Some(b) = bias {
                    inputs.push(self.vector(b, units)?.to_string());
                }
                let out = if act == Act::Identity {
                    self.value(y)
                } else {
                    format!("{}/gemm", self.value(y))
                };
                let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                self.nodes
                    .push(node("Gemm", layer, &inputs, &[&out], Vec::new()));
                self.activation(&out, y, act, layer);
            }
            Node::BatchNorm { x, y, tensors, act } => {
                // After a flatten the features are the whole image's.
                let c = self.shape(y)?.channels();
                let x = self.read(x, y)?;
                let out = self.batch_norm(&x, y, tensors, c, act == Act::Identity)?;
                let layer = self.layer_of(tensors.gamma);
                self.activation(&out, y, act, &layer);
            }
            Node::Activation { x, y, act } => {
                let x = self.read(x, y)?;
                if act == Act::Identity {
                    let name = self.unnamed("Identity");
                    self.nodes.push(node(
                        "Identity",
                        &name,
                        &[&x],
                        &[&self.value(y)],
                        Vec::new(),
                    ));
                } else {
                    let name = self.unnamed(op_name(act));
                    self.activation_named(&x, y, act, name);
                }
            }
            Node::Softmax { x, y } => {
                // Softmax over the channels: axis 1 in NCHW and in [N, C].
                let name = self.unnamed("Softmax");
                let x = self.read(x, y)?;
                self.nodes.push(node(
                    "Softmax",
                    &name,
                    &[&x],
                    &[&self.value(y)],
                    vec![int("axis", 1)],
                ));
            }
            Node::L2Normalize { x, y } => {
                // Over the channels: axis 1 in NCHW and in [N, C]. ONNX's
                // operator has no epsilon: only an all-zero row differs
                // (ours stays 0).
                let name = self.unnamed("LpNormalization");
                let x = self.read(x, y)?;
                self.nodes.push(node(
                    "LpNormalization",
                    &name,
                    &[&x],
                    &[&self.value(y)],
                    vec![int("axis", 1), int("p", 2)],
                ));
            }
            Node::MaxPool { x, y, geom: g } | Node::AvgPool { x, y, geom: g } => {
                let axes = [
                    Axis::new(g.in_h, g.out_h, g.fh, g.sh, 1, g.pad_top),
                    Axis::new(g.in_w, g.out_w, g.fw, g.sw, 1, g.pad_left),
                ];
                let max = matches!(n, Node::MaxPool { .. });
                self.pool(x, y, &axes, max)?;
            }
            Node::MaxPool3d { x, y, geom: g } | Node::AvgPool3d { x, y, geom: g } => {
                let axes = [
                    Axis::new(g.in_d, g.out_d, g.fd, g.sd, 1, g.pad_front),
                    Axis::new(g.in_h, g.out_h, g.fh, g.sh, 1, g.pad_top),
                    Axis::new(g.in_w, g.out_w, g.fw, g.sw, 1, g.pad_left),
                ];
                let max = matches!(n, Node::MaxPool3d { .. });
                self.pool(x, y, &axes, max)?;
            }
            Node::GlobalAvgPool { x, y } => {
                let name = self.unnamed("GlobalAveragePool");
                let pooled = format!("{}/pooled", self.value(y));
                self.nodes.push(node(
                    "GlobalAveragePool",
                    &name,
                    &[&self.value(x)],
                    &[&pooled],
                    Vec::new(),
                ));
                // [N, C, 1, 1] (or [N, C, 1, 1, 1]) -> [N, C]
                self.nodes.push(node(
                    "Flatten",
                    &format!("{name}/Flatten"),
                    &[&pooled],
                    &[&self.value(y)],
                    vec![int("axis", 1)],
                ));
            }
            Node::LayerNorm {
                x,
                y,
                gamma,
                beta,
                epsilon,
            } => {
                let shape = self.shape(y)?;
                let c = shape.channels();
                let x = self.read(x, y)?;
                let layer = self.layer_of(gamma);
                let (gamma, beta) = (self.vector(gamma, c)?, self.vector(beta, c)?);
                let out = self.value(y);
                let attrs = || vec![int("axis", -1), float("epsilon", epsilon)];
                match shape {
                    ValueShape::Flat(_) => self.nodes.push(node(
                        "LayerNormalization",
                        &layer,
                        &[&x, gamma, beta],
                        &[&out],
                        attrs(),
                    )),
                    _ => {
                        let (nhwc, normed) = (format!("{out}/nhwc"), format!("{out}/ln"));
                        self.nodes.push(node(
                            "Transpose",
                            &format!("{layer}/to_nhwc"),
                            &[&x],
                            &[&nhwc],
                            vec![ints("perm", &to_channels_last(shape))],
                        ));
                        self.nodes.push(node(
                            "LayerNormalization",
                            &layer,
                            &[&nhwc, gamma, beta],
                            &[&normed],
                            attrs(),
                        ));
                        self.nodes.push(node(
                            "Transpose",
                            &format!("{layer}/to_nchw"),
                            &[&normed],
                            &[&out],
                            vec![ints("perm", &to_channels_first(shape))],
                        ));
                    }
                }
            }
            Node::GroupNorm {
                x,
                y,
                groups,
                gamma,
                beta,
                epsilon,
            } => self.group_norm(x, y, groups, gamma, beta, epsilon)?,
            Node::Scale { x, y, scale } => {
                let shape = self.shape(y)?;
                let c = shape.channels();
                let x = self.read(x, y)?;
                let layer = self.layer_of(scale);
                let (_, s) = self.tensor(scale, &[c])?;
                let s = s.to_vec();
                self.init(scale, &per_channel(shape), &s);
                self.nodes.push(node(
                    "Mul",
                    &layer,
                    &[&x, scale],
                    &[&self.value(y)],
                    Vec::new(),
                ));
            }
            Node::Gate { x, g, y } => {
                let name = self.unnamed("Mul");
                let x = self.read(x, y)?;
                let (to, from) = (self.shape(y)?, self.shape(g)?);
                let factors = match from {
                    // One factor per channel as [N, C]: to [N, C, 1, 1]
                    // ([N, C, 1, 1, 1] on a volume).
                    ValueShape::Flat(n) if !to.spatial().is_empty() && n == to.channels() => {
                        let shape = format!("{name}/shape");
                        let dims: Vec<i64> = [0, n as i64]
                            .into_iter()
                            .chain(to.spatial().iter().map(|_| 1))
                            .collect();
                        self.initializers.push(int64s(&shape, &dims));
                        let reshaped = format!("{}/nc11", self.value(g));
                        self.nodes.push(node(
                            "Reshape",
                            &format!("{name}/Reshape"),
                            &[&self.value(g), &shape],
                            &[&reshaped],
                            Vec::new(),
                        ));
                        reshaped
                    }
                    _ => self.read(g, y)?,
                };
                self.nodes.push(node(
                    "Mul",
                    &name,
                    &[&x, &factors],
                    &[&self.value(y)],
                    Vec::new(),
                ));
            }
            Node::Add { a, b, y } => {
                let name = self.unnamed("Add");
                let (a, b) = (self.read(a, y)?, self.read(b, y)?);
                self.nodes
                    .push(node("Add", &name, &[&a, &b], &[&self.value(y)], Vec::new()));
            }
            Node::Concat { inputs, y } => {
                let name = self.unnamed("Concat");
                let parts = inputs
                    .iter()
                    .map(|&v| self.read(v, y))
                    .collect::<Result<Vec<String>>>()?;
                let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
                // Channels are axis 1 in NCHW, and features in [N, n].
                self.nodes.push(node(
                    "Concat",
                    &name,
                    &parts,
                    &[&self.value(y)],
                    vec![int("axis", 1)],
                ));
            }
        }
        Ok(())
    }

    /// A `MaxPool` (`max`) or `AveragePool` over `axes` (2 for an image, 3
    /// for a volume) from graph value `x` to `y`.
    fn pool(&mut self, x: usize, y: usize, axes: &[Axis], max: bool) -> Result<()> {
        let (mut attrs, pads) = window_attrs(axes)?;
        let rank = axes.len();
        if (0..2 * rank).any(|k| pads[k] >= axes[k % rank].f) {
            let window: Vec<usize> = axes.iter().map(|a| a.f).collect();
            let pads: Vec<String> = pads.iter().map(usize::to_string).collect();
            return Err(Error::InvalidArgument(format!(
                "onnx export: a {} pool padded {}: ONNX needs the padding smaller than the window",
                dims(&window),
                pads.join(",")
            )));
        }
        let op = if max {
            "MaxPool"
        } else {
            // Padded cells are not counted, as ours (ONNX's default too).
            attrs.push(int("count_include_pad", 0));
            "AveragePool"
        };
        let name = self.unnamed(op);
        self.nodes
            .push(node(op, &name, &[&self.value(x)], &[&self.value(y)], attrs));
        Ok(())
    }

    /// A group norm from `x` to graph value `y` as ONNX opset 17 can say
    /// it: each example's groups as the "channels" of an
    /// `InstanceNormalization` (unit scale, zero bias), then gamma and beta
    /// per channel.
    fn group_norm(
        &mut self,
        x: usize,
        y: usize,
        groups: usize,
        gamma: &'static str,
        beta: &'static str,
        epsilon: f32,
    ) -> Result<()> {
        let shape = self.shape(y)?;
        let c = shape.channels();
        if groups == 0 || !c.is_multiple_of(groups) {
            return Err(Error::InvalidArgument(format!(
                "onnx export: `{gamma}`: {groups} groups do not divide {c} channels"
            )));
        }
        let x = self.read(x, y)?;
        let layer = self.layer_of(gamma);
        let out = self.value(y);
        // [N, C, H, W] (or [N, C, D, H, W], [N, C]) as it is, for the
        // reshape back.
        let back: Vec<i64> = [0, c]
            .iter()
            .chain(shape.spatial())
            .map(|&d| d as i64)
            .collect();
        let (grouped_shape, back_shape) = (format!("{layer}/groups"), format!("{layer}/shape"));
        self.initializers
            .push(int64s(&grouped_shape, &[0, groups as i64, -1]));
        self.initializers.push(int64s(&back_shape, &back));
        let (ones, zeros) = (format!("{layer}/ones"), format!("{layer}/zeros"));
        self.init(&ones, &[groups], &vec![1.0; groups]);
        self.init(&zeros, &[groups], &vec![0.0; groups]);
        let (grouped, normed, restored, scaled) = (
            format!("{out}/grouped"),
            format!("{out}/normed"),
            format!("{out}/restored"),
            format!("{out}/scaled"),
        );
        self.nodes.push(node(
            "Reshape",
            &format!("{layer}/Reshape"),
            &[&x, &grouped_shape],
            &[&grouped],
            Vec::new(),
        ));
        self.nodes.push(node(
            "InstanceNormalization",
            &layer,
            &[&grouped, &ones, &zeros],
            &[&normed],
            vec![float("epsilon", epsilon)],
        ));
        self.nodes.push(node(
            "Reshape",
            &format!("{layer}/Reshape_back"),
            &[&normed, &back_shape],
            &[&restored],
            Vec::new(),
        ));
        // gamma and beta as [C, 1, 1] on an image, to broadcast over H, W.
        let per_channel = per_channel(shape);
        let (_, g) = self.tensor(gamma, &[c])?;
        let g = g.to_vec();
        let (_, b) = self.tensor(beta, &[c])?;
        let b = b.to_vec();
        self.init(gamma, &per_channel, &g);
        self.init(beta, &per_channel, &b);
        self.nodes.push(node(
            "Mul",
            &format!("{layer}/Mul"),
            &[&restored, gamma],
            &[&scaled],
            Vec::new(),
        ));
        self.nodes.push(node(
            "Add",
            &format!("{layer}/Add"),
            &[&scaled, beta],
            &[&out],
            Vec::new(),
        ));
        Ok(())
    }

    /// The layer a tensor belongs to (`bn1` for `bn1.gamma`).
    fn layer_of(&self, tensor: &str) -> String {
        self.tensors.iter().find(|t| t.name == tensor).map_or_else(
            || {
                tensor
                    .rsplit_once('.')
                    .map_or(tensor, |(l, _)| l)
                    .to_string()
            },
            |t| t.layer.to_string(),
        )
    }

    /// A `Conv` or `ConvTranspose` node (`op`: the operator and the suffix
    /// of its output's name when more follows) from graph value `x`, with
    /// its weights written in PyTorch's layout and its bias, then the
    /// folded batch norm and the activation, ending at graph value `y`.
    #[allow(clippy::too_many_arguments)] // the graph node's fields
    /// A `Resize` node scaling the spatial axes of `x` by `scales` (rows
    /// and columns, with frames in front on a volume): nearest as
    /// PyTorch's (`asymmetric`, `floor`), linear with `half_pixel` (PyTorch's
    /// `align_corners=False`, bilinear or trilinear by the rank).
    fn resize(&mut self, x: usize, y: usize, scales: &[usize], mode: Interpolation) {
        let name = self.unnamed("Resize");
        let scales_name = format!("{name}/scales");
        let values: Vec<f32> = [1.0, 1.0]
            .into_iter()
            .chain(scales.iter().map(|&s| s as f32))
            .collect();
        self.init(&scales_name, &[values.len()], &values);
        let attrs = match mode {
            Interpolation::Nearest => vec![
                string("mode", "nearest"),
                string("coordinate_transformation_mode", "asymmetric"),
                string("nearest_mode", "floor"),
            ],
            Interpolation::Bilinear => vec![
                string("mode", "linear"),
                string("coordinate_transformation_mode", "half_pixel"),
            ],
        };
        // No region of interest: its input is left empty.
        self.nodes.push(node(
            "Resize",
            &name,
            &[&self.value(x), "", &scales_name],
            &[&self.value(y)],
            attrs,
        ));
    }

    fn conv_node(
        &mut self,
        (op, suffix): (&str, &str),
        x: usize,
        y: usize,
        weights: ConvWeights,
        attrs: Vec<AttributeProto>,
        batch_norm: Option<BatchNormTensors>,
        act: Act,
    ) -> Result<()> {
        let (t, w) = self.tensor(weights.name, &weights.ours)?;
        let layer = t.layer;
        let w = layout::conv_weight_to_torch(w, kernel_as_one_axis(&weights.ours));
        self.init(weights.name, &weights.torch, &w);
        let mut inputs = vec![self.value(x), weights.name.to_string()];
        if let Some(b) = weights.bias {
            inputs.push(self.vector(b, weights.c_out)?.to_string());
        }
        let last = batch_norm.is_none() && act == Act::Identity;
        let out = if last {
            self.value(y)
        } else {
            format!("{}/{suffix}", self.value(y))
        };
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.nodes.push(node(op, layer, &inputs, &[&out], attrs));
        let out = match batch_norm {
            Some(bn) => self.batch_norm(&out, y, bn, weights.c_out, act == Act::Identity)?,
            None => out,
        };
        self.activation(&out, y, act, layer);
        Ok(())
    }

    /// A `BatchNormalization` node on `x` with `c` channels; its output is
    /// graph value `y` when `last`. Returns the output's name.
    fn batch_norm(
        &mut self,
        x: &str,
        y: usize,
        t: BatchNormTensors,
        c: usize,
        last: bool,
    ) -> Result<String> {
        let names = [
            self.vector(t.gamma, c)?,
            self.vector(t.beta, c)?,
            self.vector(t.mean, c)?,
            self.vector(t.var, c)?,
        ];
        let layer = self.layer_of(t.gamma);
        let out = if last {
            self.value(y)
        } else {
            format!("{}/bn", self.value(y))
        };
        let inputs = [x, names[0], names[1], names[2], names[3]];
        self.nodes.push(node(
            "BatchNormalization",
            &layer,
            &inputs,
            &[&out],
            vec![float("epsilon", t.epsilon)],
        ));
        Ok(out)
    }

    /// The activation `act` from `x` to graph value `y`, named after
    /// `layer`; nothing for `Identity`, where `x` is `y` already.
    fn activation(&mut self, x: &str, y: usize, act: Act, layer: &str) {
        if act != Act::Identity {
            self.activation_named(x, y, act, format!("{layer}/{}", op_name(act)));
        }
    }

    /// `act` from `x` to graph value `y` as ONNX nodes named `name`: one
    /// operator where opset 17 has it, else a few. ReLU6 is `Clip(0, 6)`;
    /// SiLU `x * Sigmoid(x)`; hardsigmoid `HardSigmoid` with PyTorch's
    /// slope 1/6 (ONNX's default is 0.2); GELU, an operator only from
    /// opset 20, `x * (Erf(x / sqrt 2) + 1) / 2` or, for the tanh form,
    /// `x * (Tanh(sqrt(2 / pi) * (x + 0.044715 x^3)) + 1) / 2`, as
    /// PyTorch's exporter writes them at opset 17.
    fn activation_named(&mut self, x: &str, y: usize, act: Act, name: String) {
        let out = self.value(y);
        let mut ops = Ops {
            nodes: &mut self.nodes,
            initializers: &mut self.initializers,
            name: &name,
            count: 0,
        };
        match act {
            Act::Relu6 => {
                let (lo, hi) = (ops.constant("min", 0.0), ops.constant("max", 6.0));
                ops.nodes
                    .push(node("Clip", &name, &[x, &lo, &hi], &[&out], Vec::new()));
            }
            Act::Silu => {
                let s = ops.op("Sigmoid", &[x]);
                ops.nodes
                    .push(node("Mul", &name, &[x, &s], &[&out], Vec::new()));
            }
            Act::Hardsigmoid => {
                let attrs = vec![float("alpha", 1.0 / 6.0), float("beta", 0.5)];
                ops.nodes
                    .push(node("HardSigmoid", &name, &[x], &[&out], attrs));
            }
            Act::Gelu | Act::GeluTanh => {
                let inner = if act == Act::Gelu {
                    let r = ops.constant("sqrt2", std::f32::consts::SQRT_2);
                    let z = ops.op("Div", &[x, &r]);
                    ops.op("Erf", &[&z])
                } else {
                    let (c, k) = (ops.constant("c", 0.044_715), ops.constant("k", 0.797_884_6));
                    let x2 = ops.op("Mul", &[x, x]);
                    let x3 = ops.op("Mul", &[&x2, x]);
                    let cx3 = ops.op("Mul", &[&x3, &c]);
                    let sum = ops.op("Add", &[x, &cx3]);
                    let u = ops.op("Mul", &[&sum, &k]);
                    ops.op("Tanh", &[&u])
                };
                let (one, half) = (ops.constant("one", 1.0), ops.constant("half", 0.5));
                let p = ops.op("Add", &[&inner, &one]);
                let xp = ops.op("Mul", &[x, &p]);
                ops.nodes
                    .push(node("Mul", &name, &[&xp, &half], &[&out], Vec::new()));
            }
            _ => {
                let attrs = match act {
                    Act::LeakyRelu(alpha) => vec![float("alpha", alpha)],
                    _ => Vec::new(),
                };
                self.nodes
                    .push(node(op_name(act), &name, &[x], &[&out], attrs));
            }
        }
    }
}

/// The `perm` of a `Transpose` from channels first (NCHW, NCDHW) to
/// channels last (NHWC, NDHWC) for a value of `shape`.
fn to_channels_last(shape: ValueShape) -> Vec<usize> {
    let rank = shape.spatial().len();
    [0].into_iter().chain(2..rank + 2).chain([1]).collect()
}

/// The `perm` back from channels last to channels first.
fn to_channels_first(shape: ValueShape) -> Vec<usize> {
    let rank = shape.spatial().len();
    [0, rank + 1].into_iter().chain(1..rank + 1).collect()
}

/// The shape of one factor per channel that broadcasts over a value of
/// `shape` without the batch: `[C, 1, 1]` on an image, `[C, 1, 1, 1]` on
/// a volume, `[C]` on a flat value.
fn per_channel(shape: ValueShape) -> Vec<usize> {
    [shape.channels()]
        .into_iter()
        .chain(shape.spatial().iter().map(|_| 1))
        .collect()
}

/// A spatial value as the image whose channels-first flatten permutes its
/// elements the same way: the permutation of `(d, h, w, c)` to `(c, d, h,
/// w)` is that of `(d h, w, c)` to `(c, d h, w)`.
pub(super) fn as_image(shape: ValueShape) -> [usize; 3] {
    let (c, spatial) = (shape.channels(), shape.spatial());
    match spatial.split_last() {
        Some((&w, outer)) => [outer.iter().product(), w, c],
        None => [1, 1, c],
    }
}

/// A convolution's weight shape `[kernel.., a, b]` with its kernel as one
/// axis, `[fd fh fw, 1, a, b]`: the kernel's positions run in the same
/// order in ours and in PyTorch's layout, so a volume's weights convert
/// as an image's.
pub(super) fn kernel_as_one_axis(shape: &[usize]) -> [usize; 4] {
    let (kernel, channels) = shape.split_at(shape.len().saturating_sub(2));
    let (a, b) = (
        channels.first().copied().unwrap_or(1),
        channels.get(1).copied().unwrap_or(1),
    );
    [kernel.iter().product(), 1, a, b]
}

/// One spatial axis of a convolution or pool: input and output size,
/// window, stride, dilation and the padding in front.
struct Axis {
    n: usize,
    out: usize,
    f: usize,
    s: usize,
    d: usize,
    before: usize,
}

impl Axis {
    fn new(n: usize, out: usize, f: usize, s: usize, d: usize, before: usize) -> Self {
        Axis {
            n,
            out,
            f,
            s,
            d,
            before,
        }
    }
}

/// `kernel_shape`, `strides` and `pads` (every axis's front, then every
/// axis's end) over `axes`, outermost first, and the `pads`.
fn window_attrs(axes: &[Axis]) -> Result<(Vec<AttributeProto>, Vec<usize>)> {
    let mut ends = Vec::with_capacity(axes.len());
    for a in axes {
        // A dilated kernel's window spans d (f - 1) + 1 inputs.
        let span = effective_window(a.f, a.d)?;
        ends.push(far_pad(a.n, a.out, span, a.s, a.before)?);
    }
    let pads: Vec<usize> = axes.iter().map(|a| a.before).chain(ends).collect();
    let attrs = vec![
        ints(
            "kernel_shape",
            &axes.iter().map(|a| a.f).collect::<Vec<_>>(),
        ),
        ints("strides", &axes.iter().map(|a| a.s).collect::<Vec<_>>()),
        ints("pads", &pads),
    ];
    Ok((attrs, pads))
}

/// A `Conv`'s attributes over `axes` (2 for an image, 3 for a volume).
fn conv_attrs(axes: &[Axis], groups: usize) -> Result<Vec<AttributeProto>> {
    let (mut attrs, _) = window_attrs(axes)?;
    let dilations: Vec<usize> = axes.iter().map(|a| a.d).collect();
    attrs.push(ints("dilations", &dilations));
    attrs.push(int("group", groups as i64));
    Ok(attrs)
}

/// The nodes of one activation written as several: intermediate values
/// and scalar constants named after the activation's node.
struct Ops<'n> {
    nodes: &'n mut Vec<NodeProto>,
    initializers: &'n mut Vec<TensorProto>,
    name: &'n str,
    count: usize,
}

impl Ops<'_> {
    /// A scalar initializer; returns its name.
    fn constant(&mut self, what: &str, v: f32) -> String {
        let name = format!("{}/{what}", self.name);
        self.initializers.push(tensor(&name, &[], &[v]));
        name
    }

    /// A node `op` with a fresh output; returns the output's name.
    fn op(&mut self, op: &str, inputs: &[&str]) -> String {
        self.count += 1;
        let out = format!("{}/{}", self.name, self.count);
        let name = format!("{}/{op}_{}", self.name, self.count);
        self.nodes
            .push(node(op, &name, inputs, &[&out], Vec::new()));
        out
    }
}

/// ONNX's operator for an activation (the first of several for those
/// written as a few).
fn op_name(act: Act) -> &'static str {
    match act {
        Act::Identity => "Identity",
        Act::Relu => "Relu",
        Act::LeakyRelu(_) => "LeakyRelu",
        Act::Tanh => "Tanh",
        Act::Sigmoid => "Sigmoid",
        Act::Relu6 => "Clip",
        Act::Silu => "Silu",
        Act::Hardswish => "HardSwish",
        Act::Hardsigmoid => "HardSigmoid",
        Act::Gelu | Act::GeluTanh => "Gelu",
    }
}

/// A transposed convolution's padding at the end and output padding
/// along an axis, as ONNX Runtime takes them: it refuses an output
/// padding not below the stride (PyTorch allows one below the dilation),
/// so the part at or above the stride is taken off the padding at the end
/// instead, which gives the same rows (cutting `p - e` from the end of
/// the full output is cutting `p` and adding `e`). Where the padding is
/// smaller than that part, the layer's own numbers are written (ONNX's
/// rule is PyTorch's; ONNX Runtime refuses such a model).
fn transposed_end(pad: usize, out_pad: usize, stride: usize) -> (usize, usize) {
    let kept = out_pad.min(stride - 1);
    let extra = out_pad - kept;
    if extra <= pad {
        (pad - extra, kept)
    } else {
        (pad, out_pad)
    }
}

/// The padding after the input (bottom or right) on an axis of `n` inputs,
/// `out` outputs, window `f`, stride `s` and `before` cells of padding in
/// front. ONNX's output is `floor((n + before + after - f) / s) + 1`, so
/// every `after` from `(out - 1) * s + f - n - before` (the last window's
/// end) up to one stride more gives `out`; the padding in front is used
/// when it is one of them (symmetric, as PyTorch writes `padding: 1`), else
/// the smallest (TensorFlow's `same` with an odd total: one more after).
pub(super) fn far_pad(n: usize, out: usize, f: usize, s: usize, before: usize) -> Result<usize> {
    if s == 0 {
        return Err(Error::InvalidArgument("onnx export: a stride of 0".into()));
    }
    let onnx_out = |after: usize| (n + before + after).checked_sub(f).map(|span| span / s + 1);
    let needed = (out.saturating_sub(1) * s + f).saturating_sub(n + before);
    let after = if before >= needed && onnx_out(before) == Some(out) {
        before
    } else {
        needed
    };
    if onnx_out(after) != Some(out) {
        return Err(Error::InvalidArgument(format!(
            "onnx export: no padding after gives {out} outputs from {n} inputs (window {f}, stride {s}, padding before {before})"
        )));
    }
    Ok(after)
}
