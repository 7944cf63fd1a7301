//! The norms' side of the matching: a layer norm's `LayerNormalization`,
//! and a group norm's `InstanceNormalization` over the groups with the
//! per-channel `Mul` and `Add` after its `Reshape` back (ours and
//! PyTorch's opset-17 form), the per-group scale and bias folded in.

use super::matcher::{expect_op, Matcher};
use super::Res;
use crate::onnx::model::{get_float, get_int};

impl Matcher<'_, '_> {
    /// The per-channel `Mul` and `Add` of stored tensors after the
    /// `InstanceNormalization` node `i` of a group norm and its `Reshape`
    /// back, each when present: `x -> Reshape -> [Mul] -> [Add]`.
    pub(super) fn group_norm_affine(&self, i: usize) -> (Option<usize>, Option<usize>) {
        let nodes = self.onnx.nodes;
        let only = |j: usize, op: &str| match self.onnx.readers_of(j) {
            [r] if nodes[*r].op_type == op => Some(*r),
            _ => None,
        };
        let stored = |j: usize| {
            nodes[j]
                .input
                .iter()
                .any(|x| self.onnx.stored.contains_key(x.as_str()))
        };
        let Some(reshape) = only(i, "Reshape") else {
            return (None, None);
        };
        let mul = only(reshape, "Mul").filter(|&m| stored(m));
        let add = only(mul.unwrap_or(reshape), "Add").filter(|&a| stored(a));
        (mul, add)
    }

    /// The stored operand of node `j` (a `Mul` or `Add` of a group norm,
    /// a scale's `Mul`), which must hold `c` values.
    pub(super) fn stored_operand(&self, j: usize, c: usize, layer: &str) -> Res<Vec<f32>> {
        let n = &self.onnx.nodes[j];
        let k = n
            .input
            .iter()
            .position(|x| self.onnx.stored.contains_key(x.as_str()))
            .ok_or_else(|| format!("node {}: no stored operand", self.onnx.label(j)))?;
        let (_, values) = self
            .onnx
            .floats(j, k, "operand")?
            .ok_or_else(|| format!("node {}: no stored operand", self.onnx.label(j)))?;
        if values.len() != c {
            return Err(format!(
                "node {}: {} values where {layer} has {c} channels",
                self.onnx.label(j),
                values.len()
            ));
        }
        Ok(values)
    }

    /// The file's epsilon on node `i` (ONNX's default 1e-5), which must be
    /// the declaration's: a norm has no moving variance to move it into.
    fn same_epsilon(&self, i: usize, layer: &str, ours: f32) -> Res<()> {
        let at = self.onnx.label(i);
        let file = get_float(&self.onnx.nodes[i], "epsilon", 1e-5)
            .map_err(|e| format!("node {at}: {e}"))?;
        if (file - ours).abs() <= 1e-6 * ours.abs().max(file.abs()) {
            return Ok(());
        }
        Err(format!(
            "node {at}: epsilon {file:e} where {layer} has {ours:e}; declare it with `epsilon: {file}`"
        ))
    }

    /// A layer norm from `LayerNormalization` node `i` on the last axis:
    /// its scale is gamma, its bias (zero when absent) beta.
    pub(super) fn layer_norm(
        &mut self,
        i: usize,
        layer: &str,
        c: usize,
        gamma: &str,
        beta: &str,
        epsilon: f32,
    ) -> Res<()> {
        let nodes = self.onnx.nodes;
        expect_op(nodes, i, "LayerNormalization", "a layer norm", layer)?;
        let at = self.onnx.label(i);
        let axis = get_int(&nodes[i], "axis", -1).map_err(|e| format!("node {at}: {e}"))?;
        if axis != -1 {
            return Err(format!(
                "node {at}: normalises from axis {axis}; {layer} normalises each position over its                  channels (axis -1 of NHWC)"
            ));
        }
        self.same_epsilon(i, layer, epsilon)?;
        let read = |k: usize, what: &str| -> Res<Option<Vec<f32>>> {
            match self.onnx.floats(i, k, what)? {
                Some((_, v)) if v.len() != c => Err(format!(
                    "node {at}: {what} of {} values does not fit {layer}'s {c} channels",
                    v.len()
                )),
                Some((_, v)) => Ok(Some(v)),
                None => Ok(None),
            }
        };
        let scale = read(1, "scale")?
            .ok_or_else(|| format!("node {}: a LayerNormalization without its scale", at))?;
        let bias = read(2, "bias")?.unwrap_or_else(|| vec![0.0; c]);
        self.put(gamma, scale)?;
        self.put(beta, bias)
    }

    /// A group norm from `InstanceNormalization` node `i` over the groups,
    /// with its per-group scale `s` and bias `b` folded into the
    /// per-channel `Mul` (`m`, ones when absent) and `Add` (`a`, zeros)
    /// that follow: `gamma = s[g] * m`, `beta = b[g] * m + a`.
    #[allow(clippy::too_many_arguments)] // the node, the layer and its tensors
    pub(super) fn group_norm(
        &mut self,
        i: usize,
        layer: &str,
        c: usize,
        groups: usize,
        gamma: &str,
        beta: &str,
        epsilon: f32,
    ) -> Res<()> {
        let nodes = self.onnx.nodes;
        expect_op(nodes, i, "InstanceNormalization", "a group norm", layer)?;
        let at = self.onnx.label(i);
        self.same_epsilon(i, layer, epsilon)?;
        let mut per_group = Vec::new();
        for (k, what) in [(1, "scale"), (2, "bias")] {
            let (_, v) = self
                .onnx
                .floats(i, k, what)?
                .ok_or_else(|| format!("node {at}: an InstanceNormalization without its {what}"))?;
            if v.len() != groups {
                return Err(format!(
                    "node {at}: normalises {} groups where {layer} has {groups}",
                    v.len()
                ));
            }
            per_group.push(v);
        }
        if self.onnx.readers_of(i).len() != 1
            || nodes[self.onnx.readers_of(i)[0]].op_type != "Reshape"
        {
            return Err(format!(
                "node {at}: an InstanceNormalization that is not reshaped back to the channels,                  where {layer} is a group norm"
            ));
        }
        let (mul, add) = self.group_norm_affine(i);
        let m = match mul {
            Some(j) => self.stored_operand(j, c, layer)?,
            None => vec![1.0; c],
        };
        let a = match add {
            Some(j) => self.stored_operand(j, c, layer)?,
            None => vec![0.0; c],
        };
        let cg = c / groups.max(1);
        let (s, b) = (&per_group[0], &per_group[1]);
        let g: Vec<f32> = (0..c).map(|ch| s[ch / cg] * m[ch]).collect();
        let be: Vec<f32> = (0..c).map(|ch| b[ch / cg] * m[ch] + a[ch]).collect();
        self.put(gamma, g)?;
        self.put(beta, be)
    }
}
