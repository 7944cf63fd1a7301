//! The matching itself: the ONNX graph's nodes with weights against our
//! layers with weights, one pair at a time, each check giving a message
//! that names the node and the layer, and the values (in our layouts)
//! gathered for writing.

use super::geometry::{
    axes_2d, axes_3d, check_geometry, check_transposed_geometry, transposed_axes_2d,
    transposed_axes_3d,
};
use super::{label, Onnx, Ours, Res, WEIGHTED};
use crate::geom::{Conv2dGeom, ConvTranspose2dGeom};
use crate::geom3d::Conv3dGeom;
use crate::geom3d_grow::ConvTranspose3dGeom;
use crate::net::graph::BatchNormTensors;
use crate::net::import::layout;
use crate::net::TensorInfo;
use crate::onnx::dims;
use crate::onnx::export::kernel_as_one_axis;
use crate::onnx::model::{get_float, get_int};
use onnx_protobuf::NodeProto;

/// One import's matching: the file, our tensor table, and what to write.
pub(super) struct Matcher<'a, 'm> {
    pub(super) onnx: &'a Onnx<'m>,
    pub(super) tensors: &'a [TensorInfo],
    /// Per tensor of the table (its index), the values to write.
    pub(super) writes: Vec<(usize, Vec<f32>)>,
}

impl Matcher<'_, '_> {
    pub(super) fn run(mut self, ours: &[(String, Ours)]) -> Res<Vec<(usize, Vec<f32>)>> {
        let nodes = self.onnx.nodes;
        // A `Mul` by stored factors has weights when the declaration has
        // scales to take them; without any, it is check_adds's error.
        let scales = ours.iter().any(|(_, o)| matches!(o, Ours::Scale { .. }));
        let stored_muls = if scales {
            self.stored_muls()
        } else {
            Vec::new()
        };
        let weighted: Vec<usize> = (0..nodes.len())
            .filter(|&i| WEIGHTED.contains(&nodes[i].op_type.as_str()) || stored_muls.contains(&i))
            .collect();
        self.check_adds(scales)?;
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
                    let g = Geometry::Conv(geom);
                    let bn_node = self.conv(i, layer, g, *groups, weight, *bias, *bn)?;
                    if let Some(j) = bn_node {
                        absorbed[j] = true;
                    }
                }
                Ours::Conv3d {
                    geom,
                    weight,
                    bias,
                    bn,
                } => {
                    let g = Geometry::Conv3d(geom);
                    let bn_node = self.conv(i, layer, g, geom.groups, weight, *bias, *bn)?;
                    if let Some(j) = bn_node {
                        absorbed[j] = true;
                    }
                }
                Ours::ConvTranspose {
                    geom,
                    groups,
                    weight,
                    bias,
                    bn,
                } => {
                    let g = Geometry::Transposed(geom);
                    let bn_node = self.conv(i, layer, g, *groups, weight, *bias, *bn)?;
                    if let Some(j) = bn_node {
                        absorbed[j] = true;
                    }
                }
                Ours::ConvTranspose3d {
                    geom,
                    weight,
                    bias,
                    bn,
                } => {
                    let g = Geometry::Transposed3d(geom);
                    let bn_node = self.conv(i, layer, g, geom.groups, weight, *bias, *bn)?;
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
                Ours::Norm {
                    c,
                    groups: None,
                    gamma,
                    beta,
                    epsilon,
                } => self.layer_norm(i, layer, *c, gamma, beta, *epsilon)?,
                Ours::Norm {
                    c,
                    groups: Some(groups),
                    gamma,
                    beta,
                    epsilon,
                } => self.group_norm(i, layer, *c, *groups, gamma, beta, *epsilon)?,
                Ours::Scale { c, scale } => self.scale(i, layer, *c, scale)?,
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

    /// The `Mul` and `Add` nodes of group norms' gamma and beta.
    fn affine_nodes(&self) -> Vec<usize> {
        (0..self.onnx.nodes.len())
            .filter(|&i| self.onnx.nodes[i].op_type == "InstanceNormalization")
            .flat_map(|i| {
                let (mul, add) = self.group_norm_affine(i);
                mul.into_iter().chain(add)
            })
            .collect()
    }

    /// The `Mul` nodes by a stored tensor with dimensions (a scalar is a
    /// constant of an activation's formula, GELU's `0.5 * x`) that are no
    /// group norm's gamma: scales.
    fn stored_muls(&self) -> Vec<usize> {
        let affine = self.affine_nodes();
        (0..self.onnx.nodes.len())
            .filter(|&i| {
                let n = &self.onnx.nodes[i];
                n.op_type == "Mul"
                    && !affine.contains(&i)
                    && n.input.iter().any(|x| {
                        self.onnx
                            .stored
                            .get(x.as_str())
                            .is_some_and(|t| !t.dims.is_empty())
                    })
            })
            .collect()
    }

    /// A scale from `Mul` node `i`: its stored operand, `c` values in any
    /// shape (`[C, 1, 1]` on an image), is the factors.
    fn scale(&mut self, i: usize, layer: &str, c: usize, scale: &str) -> Res<()> {
        expect_op(self.onnx.nodes, i, "Mul", "a scale", layer)?;
        let values = self.stored_operand(i, c, layer)?;
        self.put(scale, values)
    }

    /// An `Add` of a stored tensor is a bias, which only a `MatMul` in
    /// front of it can have (a `Linear` exported as `MatMul` + `Add`), or
    /// a group norm's beta; a `Mul` of a stored tensor is a scale, which
    /// only a group norm's gamma or, when the declaration has them
    /// (`scales`), a `Scale` layer is. A scalar (no dimensions) is a
    /// constant of an activation's formula instead (GELU's `erf(..) + 1`).
    fn check_adds(&self, scales: bool) -> Res<()> {
        let affine = self.affine_nodes();
        for (i, n) in self.onnx.nodes.iter().enumerate() {
            if n.op_type == "Mul" && !affine.contains(&i) && !scales {
                if let Some(x) = n.input.iter().find(|x| {
                    self.onnx
                        .stored
                        .get(x.as_str())
                        .is_some_and(|t| !t.dims.is_empty())
                }) {
                    return Err(format!(
                        "node {}: multiplies by the stored tensor `{x}`, a scale that no layer of \
                         the declaration has (a group norm's gamma may follow it as a Mul, and a \
                         Scale layer is one)",
                        self.onnx.label(i)
                    ));
                }
            }
            if n.op_type != "Add" && n.op_type != "Sum" || affine.contains(&i) {
                continue;
            }
            for x in &n.input {
                let bias = self
                    .onnx
                    .stored
                    .get(x.as_str())
                    .is_some_and(|t| !t.dims.is_empty());
                if bias && self.matmul_before(i).is_none() {
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
    pub(super) fn put(&mut self, name: &str, values: Vec<f32>) -> Res<()> {
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

    /// A `Conv` or `ConvTranspose` node against our (transposed)
    /// convolution, and a `BatchNormalization` after it against our batch
    /// norm (or folded into ours, or ours left as the identity when the
    /// exporter folded it). Returns the batch norm node it took.
    #[allow(clippy::too_many_arguments)] // one layer's fields, unpacked
    fn conv(
        &mut self,
        i: usize,
        layer: &str,
        g: Geometry<'_>,
        groups: usize,
        weight: &str,
        bias: Option<&str>,
        bn: Option<BatchNormTensors>,
    ) -> Res<Option<usize>> {
        let nodes = self.onnx.nodes;
        let (c_in, c_out, kernel) = g.sizes();
        let groups = groups.max(1);
        let (cg, og) = (c_in / groups, c_out / groups);
        // ONNX's layout (PyTorch's), and ours.
        let (op, [a, b]) = match g {
            Geometry::Transposed(_) | Geometry::Transposed3d(_) => ("ConvTranspose", [c_in, og]),
            _ => ("Conv", [c_out, cg]),
        };
        let expected = [&[a, b], &kernel[..]].concat();
        let ours = [&kernel[..], &[b, a]].concat();
        let what = match g {
            Geometry::Conv(_) => "a convolution",
            Geometry::Conv3d(_) => "a volume's convolution",
            Geometry::Transposed(_) => "a transposed convolution",
            Geometry::Transposed3d(_) => "a volume's transposed convolution",
        };
        expect_op(nodes, i, op, what, layer)?;
        let at = self.onnx.label(i);
        let (shape, w) = self
            .onnx
            .floats(i, 1, "weight")?
            .ok_or_else(|| format!("node {at}: a {op} without a weight"))?;
        if shape != expected {
            return Err(format!(
                "node {at}: weight {} does not fit {layer}, which takes {}x{b} -> {c_out} \
                 ({} in ONNX's layout)",
                dims(&shape),
                dims(&kernel),
                dims(&expected)
            ));
        }
        match g {
            Geometry::Conv(g) => check_geometry(&nodes[i], &at, layer, &axes_2d(g), groups)?,
            Geometry::Conv3d(g) => check_geometry(&nodes[i], &at, layer, &axes_3d(g), groups)?,
            Geometry::Transposed(g) => {
                let axes = transposed_axes_2d(g);
                check_transposed_geometry(&nodes[i], &at, layer, &axes, groups)?
            }
            Geometry::Transposed3d(g) => {
                let axes = transposed_axes_3d(g);
                check_transposed_geometry(&nodes[i], &at, layer, &axes, groups)?
            }
        }
        let g = GeomSizes { c_out };
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
        let mut w = layout::conv_weight(&w, kernel_as_one_axis(&ours));
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
                let scale: Vec<f32> = file
                    .gamma
                    .iter()
                    .zip(&file.var)
                    .map(|(gamma, var)| gamma / (var + file.epsilon).sqrt())
                    .collect();
                let folded: Vec<f32> = (0..g.c_out)
                    .map(|o| (b[o] - file.mean[o]) * scale[o] + file.beta[o])
                    .collect();
                // Element `k` of ours feeds output channel `out_channel(k)`.
                let transposed = op == "ConvTranspose";
                let out_channel = |k: usize| {
                    if transposed {
                        // [fh, fw, og, c_in] (a volume's with fd in
                        // front): input channel ci (of group
                        // ci / cg) feeds output channel (ci / cg) og + j.
                        (k % c_in) / cg * og + (k / c_in) % og
                    } else {
                        k % c_out
                    }
                };
                for (k, v) in w.iter_mut().enumerate() {
                    *v *= scale[out_channel(k)];
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
        if let Some(o) = (0..c).find(|&o| !positive(var[o] + epsilon)) {
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
        if let Some(o) = (0..var.len()).find(|&o| !positive(var[o] + ours.epsilon)) {
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

/// Above zero, and so not NaN: what `var + eps` must be.
fn positive(v: f32) -> bool {
    v > 0.0
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
        Ours::Conv3d { .. } => "a volume's convolution",
        Ours::ConvTranspose { .. } => "a transposed convolution",
        Ours::ConvTranspose3d { .. } => "a volume's transposed convolution",
        Ours::Dense { .. } => "a dense layer",
        Ours::BatchNorm { .. } => "a batch norm",
        Ours::Norm { groups: None, .. } => "a layer norm",
        Ours::Norm { .. } => "a group norm",
        Ours::Scale { .. } => "a scale",
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

pub(super) fn expect_op(
    nodes: &[NodeProto],
    i: usize,
    op: &str,
    what: &str,
    layer: &str,
) -> Res<()> {
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

/// The layer a `Conv` or `ConvTranspose` node is matched to.
#[derive(Clone, Copy)]
pub(super) enum Geometry<'g> {
    Conv(&'g Conv2dGeom),
    Conv3d(&'g Conv3dGeom),
    Transposed(&'g ConvTranspose2dGeom),
    Transposed3d(&'g ConvTranspose3dGeom),
}

impl Geometry<'_> {
    /// `c_in, c_out` and the kernel (`[fh, fw]`, `[fd, fh, fw]`).
    fn sizes(self) -> (usize, usize, Vec<usize>) {
        match self {
            Geometry::Conv(g) => (g.c_in, g.c_out, vec![g.fh, g.fw]),
            Geometry::Conv3d(g) => (g.c_in, g.c_out, vec![g.fd, g.fh, g.fw]),
            Geometry::Transposed(g) => (g.c_in, g.c_out, vec![g.fh, g.fw]),
            Geometry::Transposed3d(g) => (g.c_in, g.c_out, vec![g.fd, g.fh, g.fw]),
        }
    }
}

/// What the rest of `conv` reads of the geometry: the output channels.
#[derive(Clone, Copy)]
struct GeomSizes {
    c_out: usize,
}
