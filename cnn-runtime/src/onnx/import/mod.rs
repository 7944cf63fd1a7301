//! An ONNX model's weights into a declared network. The ONNX graph is not
//! translated; the declaration says what the network computes, and the
//! file gives its weights. The nodes with weights (`Conv`, `ConvTranspose`,
//! `Gemm`, `MatMul`, `BatchNormalization`) are matched, in the file's order (ONNX
//! keeps nodes topologically sorted), to the layers with weights of the
//! generated `GRAPH` in `predict`'s order, and each match is checked: the
//! kind, every weight's shape, a convolution's groups, strides, dilations
//! and padding (a transposed one's output padding too) against the layer's
//! geometry. Everything else in the graph must be an operator without
//! weights that the DSL has a layer for (activations, pools, `Resize` for
//! an upsampling, flatten and reshape, add, concat, dropout); any other is
//! an error naming it.
//!
//! Layouts are converted as for PyTorch (ONNX's are PyTorch's): conv
//! weights `[c_out, c_in / groups, fh, fw]` (`[c_out, c_in / groups, fd,
//! fh, fw]` for a volume's `Conv3d`), transposed conv weights
//! `[c_in, c_out / groups, fh, fw]` (`[c_in, c_out / groups, fd, fh,
//! fw]` for a `ConvTranspose3d`), a `Gemm`'s B either way round
//! (`transB`), and for a dense layer that reads a flattened image the rows
//! permuted from the channels-first flatten of NCHW (NCDHW) to ours.
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
//! Layer norm is a `LayerNormalization` node (its scale and bias are
//! gamma and beta). Group norm is read in the form opset 17 has for it,
//! ours and PyTorch's: an `InstanceNormalization` over the groups, whose
//! per-group scale and bias are folded into the per-channel `Mul` and
//! `Add` of stored tensors after the `Reshape` back (either may be absent).
//! A gate's `Mul` of two computed values has no weights. A scale is a
//! `Mul` by a stored tensor of one factor per channel (`[C, 1, 1]`, as
//! ours and PyTorch's `layer_scale` are, or any shape of `C` values); in
//! a declaration with a scale, such a `Mul` counts as a node with weights
//! and is matched in order like the others. An epsilon that differs from
//! the declaration's is an error naming both.
//!
//! Nothing is written until the whole file has been checked.

use std::collections::HashMap;
use std::path::Path;

use onnx_protobuf::{ModelProto, NodeProto, TensorProto};
use protobuf::rt::WireType;
use protobuf::{CodedInputStream, Message};

use super::export::as_image;
use super::model::{constant_value, read_floats};
use crate::error::{Error, Result};
use crate::geom::{Conv2dGeom, ConvTranspose2dGeom};
use crate::geom3d::Conv3dGeom;
use crate::geom3d_grow::ConvTranspose3dGeom;
use crate::net::graph::{BatchNormTensors, Graph, Node};
use crate::net::TensorInfo;
use matcher::Matcher;

mod geometry;
mod matcher;
mod norms;

type Res<T> = std::result::Result<T, String>;

/// Operators the import reads weights from.
const WEIGHTED: &[&str] = &[
    "Conv",
    "ConvTranspose",
    "Gemm",
    "MatMul",
    "BatchNormalization",
    "LayerNormalization",
    "InstanceNormalization",
];

/// Operators without weights that stand for a layer of the DSL (PyTorch's
/// exporter writes a global average pool as `ReduceMean`, a GELU before
/// opset 20 as `Erf` with `Div`, `Add` and `Mul` around it, a SiLU as
/// `Sigmoid` and `Mul`, `F.normalize` as `ReduceL2`, `Clip` or `Max`,
/// `Expand` and `Div`), or for the shape arithmetic exporters put around a
/// flatten.
const STRUCTURAL: &[&str] = &[
    "Relu",
    "LeakyRelu",
    "Tanh",
    "Sigmoid",
    "Clip",
    "HardSwish",
    "HardSigmoid",
    "Gelu",
    "Erf",
    "Mul",
    "Div",
    "Pow",
    "LpNormalization",
    "ReduceL2",
    "Max",
    "Expand",
    "Softmax",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "ReduceMean",
    "Flatten",
    "Reshape",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Resize",
    "Concat",
    "Add",
    "Sum",
    "Mul",
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
    /// A volume's convolution (its groups are the geometry's).
    Conv3d {
        geom: Conv3dGeom,
        weight: &'static str,
        bias: Option<&'static str>,
        bn: Option<BatchNormTensors>,
    },
    ConvTranspose {
        geom: ConvTranspose2dGeom,
        groups: usize,
        weight: &'static str,
        bias: Option<&'static str>,
        bn: Option<BatchNormTensors>,
    },
    /// A volume's transposed convolution (its groups are the geometry's).
    ConvTranspose3d {
        geom: ConvTranspose3dGeom,
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
    /// A scale's `c` factors.
    Scale {
        c: usize,
        scale: &'static str,
    },
    /// A group norm (`groups: Some(g)`) or a layer norm (`None`).
    Norm {
        c: usize,
        groups: Option<usize>,
        gamma: &'static str,
        beta: &'static str,
        epsilon: f32,
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
            Node::Conv3d {
                geom,
                weight,
                bias,
                batch_norm,
                ..
            } => {
                out.push((
                    layer(weight)?,
                    Ours::Conv3d {
                        geom,
                        weight,
                        bias,
                        bn: batch_norm,
                    },
                ));
            }
            Node::ConvTranspose {
                geom,
                groups,
                weight,
                bias,
                batch_norm,
                ..
            } => {
                out.push((
                    layer(weight)?,
                    Ours::ConvTranspose {
                        geom,
                        groups,
                        weight,
                        bias,
                        bn: batch_norm,
                    },
                ));
            }
            Node::ConvTranspose3d {
                geom,
                weight,
                bias,
                batch_norm,
                ..
            } => {
                out.push((
                    layer(weight)?,
                    Ours::ConvTranspose3d {
                        geom,
                        weight,
                        bias,
                        bn: batch_norm,
                    },
                ));
            }
            Node::Dense {
                x, y, weight, bias, ..
            } => {
                // A volume's flatten permutes as the image of its frames
                // stacked (`as_image`).
                let from = shape(x)?;
                let image = (!from.spatial().is_empty()).then(|| as_image(from));
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
            Node::BatchNorm { y, tensors: t, .. } => {
                // After a flatten the features are the whole image's.
                let c = shape(y)?.channels();
                out.push((layer(t.gamma)?, Ours::BatchNorm { c, tensors: t }));
            }
            Node::GroupNorm {
                y,
                groups,
                gamma,
                beta,
                epsilon,
                ..
            } => {
                let c = shape(y)?.channels();
                let groups = Some(groups);
                let norm = Ours::Norm {
                    c,
                    groups,
                    gamma,
                    beta,
                    epsilon,
                };
                out.push((layer(gamma)?, norm));
            }
            Node::LayerNorm {
                y,
                gamma,
                beta,
                epsilon,
                ..
            } => {
                let norm = Ours::Norm {
                    c: shape(y)?.channels(),
                    groups: None,
                    gamma,
                    beta,
                    epsilon,
                };
                out.push((layer(gamma)?, norm));
            }
            Node::Scale { y, scale, .. } => {
                let c = shape(y)?.channels();
                out.push((layer(scale)?, Ours::Scale { c, scale }));
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
    fn floats(&self, i: usize, k: usize, what: &str) -> Res<Option<(Vec<usize>, Vec<f32>)>> {
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
