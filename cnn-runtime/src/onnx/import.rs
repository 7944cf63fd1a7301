//! An ONNX model's weights into a declared network. The ONNX graph is not
//! translated; the declaration says what the network computes, and the
//! file gives its weights. The nodes with weights (`Conv`, `Gemm`,
//! `MatMul`, `BatchNormalization`) are matched, in the file's order (ONNX
//! keeps nodes topologically sorted), to the layers with weights of the
//! generated `GRAPH` in `predict`'s order, and each match is checked: the
//! kind, every weight's shape, a convolution's groups, strides, dilations
//! and padding against the layer's geometry. Everything else in the graph
//! must be an operator without weights that the DSL has a layer for
//! (activations, pools, flatten and reshape, add, concat, dropout); any
//! other is an error naming it.
//!
//! Layouts are converted as for PyTorch (ONNX's are PyTorch's): conv
//! weights `[c_out, c_in / groups, fh, fw]`, a `Gemm`'s B either way round
//! (`transB`), and for a dense layer that reads a flattened image the rows
//! permuted from the channels-first flatten of NCHW to ours.
//!
//! Batch norm comes in three forms, all read: a `BatchNormalization` node
//! after the `Conv` (our conv's batch norm gets its tensors; a different
//! epsilon is moved into the moving variance, so `var + eps` is the
//! file's); none, because the exporter folded it into the convolution's
//! weights and bias (PyTorch's default export: our batch norm becomes the
//! identity with the bias as beta, exact for inference; a network
//! fine-tuned from there should keep it frozen); or one after a conv of
//! ours that has a bias but no batch norm, folded into that conv here.
//!
//! Nothing is written until the whole file has been checked.

use std::collections::HashMap;
use std::path::Path;

use onnx_protobuf::{ModelProto, NodeProto, TensorProto};
use protobuf::rt::WireType;
use protobuf::{CodedInputStream, Message};

use super::dims;
use super::model::{constant_value, get_float, get_int, get_ints, get_string, read_floats};
use crate::error::{Error, Result};
use crate::geom::Conv2dGeom;
use crate::net::graph::{BatchNormTensors, Graph, Node, ValueShape};
use crate::net::import::layout;
use crate::net::TensorInfo;

/// Operators the import reads weights from.
const WEIGHTED: &[&str] = &["Conv", "Gemm", "MatMul", "BatchNormalization"];

/// Operators without weights that stand for a layer of the DSL, or for
/// the shape arithmetic exporters put around a flatten.
const STRUCTURAL: &[&str] = &[
    "Relu",
    "LeakyRelu",
    "Tanh",
    "Sigmoid",
    "Softmax",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "Flatten",
    "Reshape",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Concat",
    "Add",
    "Sum",
    "Dropout",
    "Identity",
    "Constant",
    "Shape",
    "Gather",
    "Cast",
];

/// Reads the ONNX model at `path` into `params`, the weights of a network
/// whose inference graph is `graph` and whose tensors are `tensors` (the
/// generated `GRAPH` and `TENSORS`). Every tensor the graph reads is
/// written; the others (auxiliary heads') keep their values.
///
/// Errors name the file and the ONNX node, and the layer where there is
/// one: a file that is not ONNX (or is cut short or corrupt so that it no
/// longer parses), an operator the DSL has no layer for, a node with
/// weights where the declaration has another kind of layer or none, a
/// weight of another shape, a convolution of another geometry. On `Err`,
/// `params` is untouched.
pub fn import(
    path: &Path,
    graph: &Graph,
    tensors: &[TensorInfo],
    params: &mut [f32],
) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    import_bytes(&bytes, graph, tensors, params).map_err(|message| Error::format(path, message))
}

/// [`import`] from the bytes of a model; the error is the message that
/// [`import`] puts after the path.
pub fn import_bytes(
    bytes: &[u8],
    graph: &Graph,
    tensors: &[TensorInfo],
    params: &mut [f32],
) -> std::result::Result<(), String> {
    check_framing(bytes)?;
    let model = ModelProto::parse_from_bytes(bytes)
        .map_err(|e| format!("not an ONNX model: it does not parse as one ({e})"))?;
    let g = match model.graph.as_ref() {
        Some(g) if !g.node.is_empty() => g,
        _ => return Err("not an ONNX model: it holds no graph with nodes".to_string()),
    };
    // ONNX requires the opset; a file written in field-number order
    // (PyTorch's) has it after the graph, so one cut short there lacks it.
    if !model
        .opset_import
        .iter()
        .any(|o| o.domain.is_empty() || o.domain == "ai.onnx")
    {
        return Err(
            "not an ONNX model, or cut short: it imports no opset of ONNX's operators".to_string(),
        );
    }
    let onnx = Onnx::new(&g.node, &g.initializer)?;
    let ours = our_layers(graph, tensors)?;
    let writes = Matcher {
        onnx: &onnx,
        tensors,
        writes: Vec::new(),
    }
    .run(&ours)?;
    // Checked: every write names a tensor of the table with its length.
    let total = params.len();
    for (i, values) in &writes {
        let t = &tensors[*i];
        let dst = params.get(t.range()).ok_or_else(|| {
            format!(
                "tensor `{}` lies outside the network's {total} parameters",
                t.name
            )
        })?;
        if dst.len() != values.len() {
            return Err(format!(
                "tensor `{}`: {} values for {}",
                t.name,
                values.len(),
                dst.len()
            ));
        }
    }
    for (i, values) in writes {
        params[tensors[i].range()].copy_from_slice(&values);
    }
    Ok(())
}

/// Walks the model's top-level fields, each of which must end within the
/// file. rust-protobuf ends a nested message quietly where the input ends,
/// so a file cut at a field boundary inside the graph would otherwise
/// parse as a smaller graph; here the graph field's length says the file
/// is cut short.
fn check_framing(bytes: &[u8]) -> std::result::Result<(), String> {
    let mut input = CodedInputStream::from_bytes(bytes);
    let cut = |e: protobuf::Error| format!("not an ONNX model, or cut short: {e}");
    while let Some(tag) = input.read_raw_tag_or_eof().map_err(cut)? {
        let wire = WireType::new(tag & 7).ok_or_else(|| {
            format!(
                "not an ONNX model: field {} has wire type {}",
                tag >> 3,
                tag & 7
            )
        })?;
        input.skip_field(wire).map_err(cut)?;
    }
    Ok(())
}

/// A layer of ours with weights, as the graph has it.
enum Ours {
    Conv {
        geom: Conv2dGeom,
        groups: usize,
        weight: &'static str,
        bias: Option<&'static str>,
        bn: Option<BatchNormTensors>,
    },
    Dense {
        n_in: usize,
        units: usize,
        /// The image a flatten turned into the input.
        image: Option<[usize; 3]>,
        weight: &'static str,
        bias: Option<&'static str>,
    },
    BatchNorm {
        c: usize,
        tensors: BatchNormTensors,
    },
}

fn our_layers(
    graph: &Graph,
    tensors: &[TensorInfo],
) -> std::result::Result<Vec<(String, Ours)>, String> {
    let shape = |v: usize| {
        graph
            .values
            .get(v)
            .copied()
            .ok_or_else(|| format!("the network's graph has no value {v}"))
    };
    let layer = |name: &str| {
        tensors
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.layer.to_string())
            .ok_or_else(|| {
                format!("the network's graph names tensor `{name}`, which its table does not hold")
            })
    };
    let mut out = Vec::new();
    for n in graph.nodes {
        match *n {
            Node::Conv {
                geom,
                groups,
                weight,
                bias,
                batch_norm,
                ..
            } => {
                out.push((
                    layer(weight)?,
                    Ours::Conv {
                        geom,
                        groups,
                        weight,
                        bias,
                        bn: batch_norm,
                    },
                ));
            }
            Node::Dense {
                x, y, weight, bias, ..
            } => {
                let image = match shape(x)? {
                    ValueShape::Image(hwc) => Some(hwc),
                    ValueShape::Flat(_) => None,
                };
                let (n_in, units) = (shape(x)?.len(), shape(y)?.len());
                out.push((
                    layer(weight)?,
                    Ours::Dense {
                        n_in,
                        units,
                        image,
                        weight,
                        bias,
                    },
                ));
            }
            Node::BatchNorm { x, tensors: t, .. } => {
                let c = match shape(x)? {
                    ValueShape::Image([_, _, c]) => c,
                    ValueShape::Flat(n) => n,
                };
                out.push((layer(t.gamma)?, Ours::BatchNorm { c, tensors: t }));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The ONNX graph, indexed: stored tensors by name (initializers,
/// `Constant` nodes, and `Identity` nodes of either), who reads each value.
struct Onnx<'m> {
    nodes: &'m [NodeProto],
    stored: HashMap<&'m str, &'m TensorProto>,
    readers: HashMap<&'m str, Vec<usize>>,
}

impl<'m> Onnx<'m> {
    fn new(
        nodes: &'m [NodeProto],
        initializers: &'m [TensorProto],
    ) -> std::result::Result<Self, String> {
        let mut stored: HashMap<&str, &TensorProto> =
            initializers.iter().map(|t| (t.name.as_str(), t)).collect();
        let mut readers: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, n) in nodes.iter().enumerate() {
            let op = n.op_type.as_str();
            if !(n.domain.is_empty() || n.domain == "ai.onnx") {
                return Err(format!(
                    "node {}: operator {}.{op} is not supported: the import knows ONNX's standard operators only",
                    label(n, i),
                    n.domain
                ));
            }
            if !WEIGHTED.contains(&op) && !STRUCTURAL.contains(&op) {
                return Err(format!(
                    "node {}: operator {op} is not supported: the import reads the weights of Conv, Gemm, \
                     MatMul and BatchNormalization nodes, between operators the DSL has layers for \
                     ({})",
                    label(n, i),
                    STRUCTURAL.join(", ")
                ));
            }
            match (op, n.output.first()) {
                ("Constant", Some(out)) => {
                    if let Some(t) = constant_value(n) {
                        stored.insert(out.as_str(), t);
                    }
                }
                ("Identity", Some(out)) => {
                    if let Some(t) = n
                        .input
                        .first()
                        .and_then(|x| stored.get(x.as_str()).copied())
                    {
                        stored.insert(out.as_str(), t);
                    }
                }
                _ => {}
            }
            for x in &n.input {
                readers.entry(x.as_str()).or_default().push(i);
            }
        }
        Ok(Onnx {
            nodes,
            stored,
            readers,
        })
    }

    /// The stored tensor that input `k` of node `i` reads, `None` when the
    /// node has no such input; an error when the input is computed.
    fn input(
        &self,
        i: usize,
        k: usize,
        what: &str,
    ) -> std::result::Result<Option<&'m TensorProto>, String> {
        let n = &self.nodes[i];
        match n.input.get(k).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(name) => self.stored.get(name).copied().map(Some).ok_or_else(|| {
                format!(
                    "node {}: its {what} `{name}` is computed by the graph, not stored in the file; \
                     export the model with constant folding",
                    label(n, i)
                )
            }),
        }
    }

    /// Input `k` of node `i` read as floats, with its shape.
    fn floats(
        &self,
        i: usize,
        k: usize,
        what: &str,
    ) -> std::result::Result<Option<(Vec<usize>, Vec<f32>)>, String> {
        match self.input(i, k, what)? {
            None => Ok(None),
            Some(t) => read_floats(t)
                .map(Some)
                .map_err(|e| format!("node {}: {e}", label(&self.nodes[i], i))),
        }
    }

    /// The nodes that read node `i`'s first output.
    fn readers_of(&self, i: usize) -> &[usize] {
        self.nodes[i]
            .output
            .first()
            .and_then(|y| self.readers.get(y.as_str()))
            .map_or(&[], Vec::as_slice)
    }

    fn label(&self, i: usize) -> String {
        label(&self.nodes[i], i)
    }
}

/// A node as messages name it: its name, or its index and operator.
fn label(n: &NodeProto, i: usize) -> String {
    if n.name.is_empty() {
        format!("#{i} ({})", n.op_type)
    } else {
        n.name.clone()
    }
}

struct Matcher<'a, 'm> {
    onnx: &'a Onnx<'m>,
    tensors: &'a [TensorInfo],
    /// Per tensor of the table (its index), the values to write.
    writes: Vec<(usize, Vec<f32>)>,
}

type Res<T> = std::result::Result<T, String>;

impl Matcher<'_, '_> {
    fn run(mut self, ours: &[(String, Ours)]) -> Res<Vec<(usize, Vec<f32>)>> {
        let nodes = self.onnx.nodes;
        let weighted: Vec<usize> = (0..nodes.len())
            .filter(|&i| WEIGHTED.contains(&nodes[i].op_type.as_str()))
            .collect();
        self.check_adds()?;
        let mut absorbed = vec![false; nodes.len()];
        let mut k = 0;
        for (layer, item) in ours {
            while k < weighted.len() && absorbed[weighted[k]] {
                k += 1;
            }
            let Some(&i) = weighted.get(k) else {
                return Err(format!(
                    "{layer} ({}) has no node left in the ONNX graph, whose {} nodes with weights \
                     ({}) are all matched to layers before it",
                    kind(item),
                    weighted.len(),
                    census(nodes, &weighted)
                ));
            };
            k += 1;
            match item {
                Ours::Conv {
                    geom,
                    groups,
                    weight,
                    bias,
                    bn,
                } => {
                    let bn_node = self.conv(i, layer, geom, *groups, weight, *bias, *bn)?;
                    if let Some(j) = bn_node {
                        absorbed[j] = true;
                    }
                }
                Ours::Dense {
                    n_in,
                    units,
                    image,
                    weight,
                    bias,
                } => self.dense(i, layer, *n_in, *units, *image, weight, *bias)?,
                Ours::BatchNorm { c, tensors } => {
                    expect_op(nodes, i, "BatchNormalization", "a batch norm", layer)?;
                    let file = self.batch_norm_tensors(i, *c, layer)?;
                    self.put_batch_norm(tensors, file)?;
                }
            }
        }
        if let Some(&i) = weighted[k.min(weighted.len())..]
            .iter()
            .find(|&&i| !absorbed[i])
        {
            return Err(format!(
                "node {}: a {} with weights left over: the declaration's {} layers with weights \
                 are all matched to nodes before it",
                self.onnx.label(i),
                nodes[i].op_type,
                ours.len()
            ));
        }
        Ok(self.writes)
    }

    /// An `Add` of a stored tensor is a bias, which only a `MatMul` in
    /// front of it can have (a `Linear` exported as `MatMul` + `Add`).
    fn check_adds(&self) -> Res<()> {
        for (i, n) in self.onnx.nodes.iter().enumerate() {
            if n.op_type != "Add" && n.op_type != "Sum" {
                continue;
            }
            for x in &n.input {
                if self.onnx.stored.contains_key(x.as_str()) && self.matmul_before(i).is_none() {
                    return Err(format!(
                        "node {}: adds the stored tensor `{x}`, a bias that no layer of the \
                         declaration has (only a MatMul's bias may follow it as an Add)",
                        self.onnx.label(i)
                    ));
                }
            }
        }
        Ok(())
    }

    /// The `MatMul` whose output `Add` node `i` adds a stored bias to.
    fn matmul_before(&self, i: usize) -> Option<usize> {
        let n = &self.onnx.nodes[i];
        if n.op_type != "Add" || n.input.len() != 2 {
            return None;
        }
        n.input.iter().find_map(|x| {
            (0..i).find(|&j| {
                let m = &self.onnx.nodes[j];
                m.op_type == "MatMul" && m.output.first() == Some(x)
            })
        })
    }

    /// Records `values` for our tensor `name`, checking its length.
    fn put(&mut self, name: &str, values: Vec<f32>) -> Res<()> {
        let i = self
            .tensors
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| format!("the network has no tensor `{name}`"))?;
        if self.tensors[i].len != values.len() {
            return Err(format!(
                "`{name}` holds {} values, not {}",
                self.tensors[i].len,
                values.len()
            ));
        }
        self.writes.push((i, values));
        Ok(())
    }

    #[allow(clippy::too_many_arguments)] // one layer's fields, unpacked
    fn conv(
        &mut self,
        i: usize,
        layer: &str,
        g: &Conv2dGeom,
        groups: usize,
        weight: &str,
        bias: Option<&str>,
        bn: Option<BatchNormTensors>,
    ) -> Res<Option<usize>> {
        let nodes = self.onnx.nodes;
        expect_op(nodes, i, "Conv", "a convolution", layer)?;
        let at = self.onnx.label(i);
        let c_in_group = g.c_in / groups.max(1);
        let expected = [g.c_out, c_in_group, g.fh, g.fw];
        let (shape, w) = self
            .onnx
            .floats(i, 1, "weight")?
            .ok_or_else(|| format!("node {at}: a Conv without a weight"))?;
        if shape != expected {
            return Err(format!(
                "node {at}: weight {} does not fit {layer}, which takes {}x{}x{c_in_group} -> {} \
                 ({} in ONNX's layout)",
                dims(&shape),
                g.fh,
                g.fw,
                g.c_out,
                dims(&expected)
            ));
        }
        check_geometry(&nodes[i], &at, layer, g, groups)?;
        let file_bias = match self.onnx.floats(i, 2, "bias")? {
            Some((_, b)) if b.len() != g.c_out => {
                return Err(format!(
                    "node {at}: a bias of {} values does not fit {layer}'s {} filters",
                    b.len(),
                    g.c_out
                ))
            }
            other => other.map(|(_, b)| b),
        };
        // A BatchNormalization that reads only this convolution's output.
        let readers = self.onnx.readers_of(i);
        let bn_node = match readers {
            [j] if nodes[*j].op_type == "BatchNormalization"
                && nodes[*j].input.first() == nodes[i].output.first() =>
            {
                Some(*j)
            }
            _ => None,
        };
        let mut w = layout::conv_weight(&w, [g.fh, g.fw, c_in_group, g.c_out]);
        match (bn, bn_node) {
            (Some(ours), Some(j)) => {
                let mut file = self.batch_norm_tensors(j, g.c_out, layer)?;
                let conv_bias = match bias {
                    Some(_) => file_bias.unwrap_or_else(|| vec![0.0; g.c_out]),
                    // Ours has no bias: the file's shifts the mean instead,
                    // (y + b) - mean = y - (mean - b).
                    None => {
                        if let Some(b) = &file_bias {
                            file.mean.iter_mut().zip(b).for_each(|(m, b)| *m -= b);
                        }
                        Vec::new()
                    }
                };
                if let Some(name) = bias {
                    self.put(name, conv_bias)?;
                }
                self.put_batch_norm(&ours, file)?;
            }
            (Some(ours), None) => {
                // Folded by the exporter: our batch norm passes values
                // through, 1 * (y - 0) / sqrt((1 - eps) + eps) + beta,
                // with the file's bias as beta where ours has none.
                let b = file_bias.unwrap_or_else(|| vec![0.0; g.c_out]);
                let beta = match bias {
                    Some(name) => {
                        self.put(name, b)?;
                        vec![0.0; g.c_out]
                    }
                    None => b,
                };
                self.put(ours.gamma, vec![1.0; g.c_out])?;
                self.put(ours.beta, beta)?;
                self.put(ours.mean, vec![0.0; g.c_out])?;
                self.put(ours.var, vec![1.0 - ours.epsilon; g.c_out])?;
            }
            (None, Some(j)) => {
                // Fold the file's batch norm into our conv:
                // s = gamma / sqrt(var + eps), w' = w s, b' = (b - mean) s + beta.
                let Some(name) = bias else {
                    return Err(format!(
                        "node {at}: followed by the BatchNormalization {}, but {layer} has neither \
                         a batch norm after it nor a bias to fold one into; add `BatchNorm` after {layer}",
                        self.onnx.label(j)
                    ));
                };
                let file = self.batch_norm_tensors(j, g.c_out, layer)?;
                let b = file_bias.unwrap_or_else(|| vec![0.0; g.c_out]);
                let mut folded = Vec::with_capacity(g.c_out);
                let mut scale = Vec::with_capacity(g.c_out);
                for o in 0..g.c_out {
                    let s = file.gamma[o] / (file.var[o] + file.epsilon).sqrt();
                    scale.push(s);
                    folded.push((b[o] - file.mean[o]) * s + file.beta[o]);
                }
                for row in w.chunks_exact_mut(g.c_out) {
                    row.iter_mut().zip(&scale).for_each(|(v, s)| *v *= s);
                }
                self.put(name, folded)?;
            }
            (None, None) => match (bias, file_bias) {
                (Some(name), b) => self.put(name, b.unwrap_or_else(|| vec![0.0; g.c_out]))?,
                (None, Some(b)) if b.iter().any(|&v| v != 0.0) => {
                    return Err(format!(
                        "node {at}: has a bias, but {layer} has none; declare it with `bias: true`"
                    ))
                }
                (None, _) => {}
            },
        }
        self.put(weight, w)?;
        Ok(bn_node)
    }

    #[allow(clippy::too_many_arguments)] // one layer's fields, unpacked
    fn dense(
        &mut self,
        i: usize,
        layer: &str,
        n_in: usize,
        units: usize,
        image: Option<[usize; 3]>,
        weight: &str,
        bias: Option<&str>,
    ) -> Res<()> {
        let nodes = self.onnx.nodes;
        let n = &nodes[i];
        let at = self.onnx.label(i);
        let op = n.op_type.as_str();
        if op != "Gemm" && op != "MatMul" {
            return Err(mismatch(nodes, i, "a dense layer", layer));
        }
        let attr = |e: String| format!("node {at}: {e}");
        let (trans_b, alpha, beta) = if op == "Gemm" {
            if get_int(n, "transA", 0).map_err(attr)? != 0 {
                return Err(format!(
                    "node {at}: a Gemm with transA = 1, which no dense layer computes"
                ));
            }
            (
                get_int(n, "transB", 0).map_err(attr)? != 0,
                get_float(n, "alpha", 1.0).map_err(attr)?,
                get_float(n, "beta", 1.0).map_err(attr)?,
            )
        } else {
            (false, 1.0, 1.0)
        };
        let (shape, b) = self
            .onnx
            .floats(i, 1, "weight")?
            .ok_or_else(|| format!("node {at}: a {op} without a weight"))?;
        let expected = if trans_b {
            [units, n_in]
        } else {
            [n_in, units]
        };
        if shape != expected {
            return Err(format!(
                "node {at}: weight {} does not fit {layer}, which takes {n_in} -> {units} ({} in ONNX's layout{})",
                dims(&shape),
                dims(&expected),
                if op == "Gemm" { if trans_b { ", transB = 1" } else { ", transB = 0" } } else { "" }
            ));
        }
        let mut w = if trans_b {
            layout::linear_weight(&b, n_in, units, image)
        } else {
            match image {
                Some(hwc) => layout::rows_from_channels_first(&b, units, hwc),
                None => b,
            }
        };
        if alpha != 1.0 {
            w.iter_mut().for_each(|v| *v *= alpha);
        }
        let file_bias = if op == "Gemm" {
            self.onnx.floats(i, 2, "bias")?.map(|(_, c)| c)
        } else {
            // MatMul's bias is the stored operand of the Add after it.
            let add = self
                .onnx
                .readers_of(i)
                .iter()
                .copied()
                .find(|&j| self.matmul_before(j) == Some(i));
            match add {
                Some(j) => {
                    let k = nodes[j]
                        .input
                        .iter()
                        .position(|x| self.onnx.stored.contains_key(x.as_str()));
                    match k {
                        Some(k) => self.onnx.floats(j, k, "bias")?.map(|(_, c)| c),
                        None => None,
                    }
                }
                None => None,
            }
        };
        let file_bias = match file_bias {
            None => None,
            Some(c) if c.len() == units => {
                Some(c.into_iter().map(|v| v * beta).collect::<Vec<_>>())
            }
            Some(c) if c.len() == 1 => Some(vec![c[0] * beta; units]),
            Some(c) => {
                return Err(format!(
                    "node {at}: a bias of {} values does not fit {layer}'s {units} units",
                    c.len()
                ))
            }
        };
        match (bias, file_bias) {
            (Some(name), c) => self.put(name, c.unwrap_or_else(|| vec![0.0; units]))?,
            (None, Some(c)) if c.iter().any(|&v| v != 0.0) => {
                return Err(format!(
                    "node {at}: has a bias, but {layer} has none; declare it with `bias: true`"
                ))
            }
            (None, _) => {}
        }
        self.put(weight, w)
    }

    /// The four vectors and epsilon of `BatchNormalization` node `i`, each
    /// of `c` values.
    fn batch_norm_tensors(&self, i: usize, c: usize, layer: &str) -> Res<FileBatchNorm> {
        let at = self.onnx.label(i);
        let mut v = Vec::with_capacity(4);
        for (k, what) in [(1, "scale"), (2, "bias"), (3, "mean"), (4, "variance")] {
            let (_, values) = self
                .onnx
                .floats(i, k, what)?
                .ok_or_else(|| format!("node {at}: a BatchNormalization without its {what}"))?;
            if values.len() != c {
                return Err(format!(
                    "node {at}: {what} of {} values does not fit {layer}'s {c} channels",
                    values.len()
                ));
            }
            v.push(values);
        }
        let epsilon = get_float(&self.onnx.nodes[i], "epsilon", 1e-5)
            .map_err(|e| format!("node {at}: {e}"))?;
        let var = v.pop().unwrap_or_default();
        let mean = v.pop().unwrap_or_default();
        let beta = v.pop().unwrap_or_default();
        let gamma = v.pop().unwrap_or_default();
        if let Some(o) = (0..c).find(|&o| !(var[o] + epsilon > 0.0)) {
            return Err(format!(
                "node {at}: channel {o}'s variance {} plus epsilon {epsilon} is not positive",
                var[o]
            ));
        }
        Ok(FileBatchNorm {
            gamma,
            beta,
            mean,
            var,
            epsilon,
            at,
        })
    }

    /// Our batch norm's tensors from the file's; a different epsilon is
    /// moved into the moving variance, so that `var + eps` is the file's.
    fn put_batch_norm(&mut self, ours: &BatchNormTensors, file: FileBatchNorm) -> Res<()> {
        let shift = file.epsilon - ours.epsilon;
        let var: Vec<f32> = file.var.iter().map(|v| v + shift).collect();
        if let Some(o) = (0..var.len()).find(|&o| !(var[o] + ours.epsilon > 0.0)) {
            return Err(format!(
                "node {}: channel {o}'s variance {} with epsilon {} does not fit a batch norm \
                 with epsilon {}; declare it with `epsilon: {}`",
                file.at, file.var[o], file.epsilon, ours.epsilon, file.epsilon
            ));
        }
        self.put(ours.gamma, file.gamma)?;
        self.put(ours.beta, file.beta)?;
        self.put(ours.mean, file.mean)?;
        self.put(ours.var, var)
    }
}

/// A `BatchNormalization` node's tensors, read.
struct FileBatchNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    mean: Vec<f32>,
    var: Vec<f32>,
    epsilon: f32,
    /// The node, for messages.
    at: String,
}

fn kind(item: &Ours) -> &'static str {
    match item {
        Ours::Conv { .. } => "a convolution",
        Ours::Dense { .. } => "a dense layer",
        Ours::BatchNorm { .. } => "a batch norm",
    }
}

/// `3 Conv, 1 Gemm, 2 BatchNormalization`.
fn census(nodes: &[NodeProto], weighted: &[usize]) -> String {
    WEIGHTED
        .iter()
        .filter_map(|op| {
            let n = weighted
                .iter()
                .filter(|&&i| nodes[i].op_type == *op)
                .count();
            (n > 0).then(|| format!("{n} {op}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn expect_op(nodes: &[NodeProto], i: usize, op: &str, what: &str, layer: &str) -> Res<()> {
    if nodes[i].op_type == op {
        Ok(())
    } else {
        Err(mismatch(nodes, i, what, layer))
    }
}

fn mismatch(nodes: &[NodeProto], i: usize, what: &str, layer: &str) -> String {
    format!(
        "node {}: a {} where the declaration has {layer}, {what}; the layers with weights must \
         come in the same order in both",
        label(&nodes[i], i),
        nodes[i].op_type
    )
}

/// A `Conv` node's groups, kernel, strides, dilations and padding against
/// our layer's geometry: applied to our layer's input size, the node's
/// attributes must give our padding in front and our output size.
fn check_geometry(n: &NodeProto, at: &str, layer: &str, g: &Conv2dGeom, groups: usize) -> Res<()> {
    let attr = |e: String| format!("node {at}: {e}");
    let two = |name: &str, default: [usize; 2]| -> Res<[usize; 2]> {
        match get_ints(n, name).map_err(attr)? {
            None => Ok(default),
            Some(&[a, b]) if a >= 0 && b >= 0 => Ok([a as usize, b as usize]),
            Some(v) => Err(format!(
                "node {at}: {name} {v:?} is not two sizes (height, width)"
            )),
        }
    };
    let group = get_int(n, "group", 1).map_err(attr)?;
    if group != groups as i64 {
        return Err(format!(
            "node {at}: group {group}, but {layer} has groups: {groups}"
        ));
    }
    if two("kernel_shape", [g.fh, g.fw])? != [g.fh, g.fw] {
        let k = two("kernel_shape", [g.fh, g.fw])?;
        return Err(format!(
            "node {at}: kernel_shape {}x{} does not fit {layer}'s {}x{} kernel",
            k[0], k[1], g.fh, g.fw
        ));
    }
    let [d_h, d_w] = two("dilations", [1, 1])?;
    if (d_h, d_w) != (1, 1) {
        return Err(format!(
            "node {at}: dilations {d_h}x{d_w}; the DSL's convolutions are not dilated"
        ));
    }
    let [sh, sw] = two("strides", [1, 1])?;
    let auto_pad = get_string(n, "auto_pad", "NOTSET").map_err(attr)?;
    let same = |n_in: usize, f: usize, s: usize, upper: bool| {
        let out = n_in.div_ceil(s.max(1));
        let total = ((out.max(1) - 1) * s + f).saturating_sub(n_in);
        let before = if upper { total / 2 } else { total - total / 2 };
        (before, total - before)
    };
    let pads: [usize; 4] = match auto_pad.as_str() {
        "NOTSET" | "" => match get_ints(n, "pads").map_err(attr)? {
            None => [0; 4],
            Some(&[a, b, c, d]) if [a, b, c, d].iter().all(|&p| p >= 0) => {
                [a as usize, b as usize, c as usize, d as usize]
            }
            Some(v) => {
                return Err(format!(
                    "node {at}: pads {v:?} are not four sizes (top, left, bottom, right)"
                ))
            }
        },
        "VALID" => [0; 4],
        "SAME_UPPER" | "SAME_LOWER" => {
            let upper = auto_pad == "SAME_UPPER";
            let (t, b) = same(g.in_h, g.fh, sh, upper);
            let (l, r) = same(g.in_w, g.fw, sw, upper);
            [t, l, b, r]
        }
        other => {
            return Err(format!(
                "node {at}: auto_pad {other:?} is not one ONNX defines"
            ))
        }
    };
    let out = |n_in: usize, before: usize, after: usize, f: usize, s: usize| {
        n_in.checked_add(before)
            .and_then(|v| v.checked_add(after))
            .and_then(|v| v.checked_sub(f))
            .and_then(|v| v.checked_div(s))
            .map(|v| v + 1)
    };
    let (oh, ow) = (
        out(g.in_h, pads[0], pads[2], g.fh, sh),
        out(g.in_w, pads[1], pads[3], g.fw, sw),
    );
    let fits = (sh, sw) == (g.sh, g.sw)
        && (pads[0], pads[1]) == (g.pad_top, g.pad_left)
        && (oh, ow) == (Some(g.out_h), Some(g.out_w));
    if !fits {
        let size = |o: Option<usize>| o.map_or("no".to_string(), |o| o.to_string());
        return Err(format!(
            "node {at}: strides {sh}x{sw} and pads {},{},{},{} (top, left, bottom, right) give {}x{} \
             outputs from {layer}'s {}x{} input, but {layer} has stride {}x{}, padding {} on top and \
             {} on the left, and {}x{} outputs",
            pads[0], pads[1], pads[2], pads[3], size(oh), size(ow), g.in_h, g.in_w,
            g.sh, g.sw, g.pad_top, g.pad_left, g.out_h, g.out_w
        ));
    }
    Ok(())
}
