//! The programs the generated code runs, worked out at compile time: the
//! layers fused into kernel calls (convolution + batch norm at inference +
//! activation as one `conv2d::forward`; dense + activation as one
//! `dense::forward`; a final `Softmax` + cross-entropy as one loss call in
//! training), and every activation, gradient, mask and saved statistic
//! placed in the workspace at a per-example offset.
//!
//! A program is a list of ops over numbered values (activations); blocks
//! (`Residual`, `Concat`, `AuxHead`) are planned recursively into the same
//! list, joined by `Add` and `ConcatPart` ops, and each auxiliary head adds
//! a loss. In training every value keeps its slot until backward has run
//! ([`build`]); gradient slots are handed out in reverse op order, reused
//! once consumed, and summed where a value feeds several ops ([`grads`]).
//! At inference a value's slot is freed after its last reader.

mod arena;
mod build;
mod grads;

pub use build::Planner;

/// Training (batch statistics, dropout on) or inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train,
    Infer,
}

/// A slot: offset and length, per example in the batch-scaled arenas, or
/// absolute in the fixed arena and in the parameter arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub offset: usize,
    pub len: usize,
}

/// An activation function (the kernels' `Act`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    Identity,
    Relu,
    LeakyRelu(f64),
    Tanh,
    Sigmoid,
    Relu6,
    Silu,
    Hardswish,
    Hardsigmoid,
    Gelu,
    GeluTanh,
}

impl Act {
    /// Whether backward needs the activation's input (the kernels'
    /// `Act::needs_input`): its output does not give the derivative.
    pub fn needs_input(self) -> bool {
        matches!(self, Act::Silu | Act::Hardswish | Act::Gelu | Act::GeluTanh)
    }
}

/// The numbers of a `Conv2dGeom` (a `PoolGeom` leaves `c_out` = `c_in`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geom {
    pub in_h: usize,
    pub in_w: usize,
    pub c_in: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub c_out: usize,
    pub fh: usize,
    pub fw: usize,
    pub sh: usize,
    pub sw: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    /// Rows and columns between kernel taps (1 for pooling).
    pub dh: usize,
    pub dw: usize,
    /// A volume's depth axis (3D kinds): the kernels are `conv3d` and
    /// `pool3d`, with a `Conv3dGeom` or `Pool3dGeom`.
    pub depth: Option<DepthGeom>,
}

/// The depth axis of a 3D convolution or pooling: frames in and out,
/// taps, stride, zero frames in front, frames between taps; a transposed
/// convolution's frames cut from each end and added at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthGeom {
    pub in_d: usize,
    pub out_d: usize,
    pub fd: usize,
    pub sd: usize,
    pub pad_front: usize,
    pub dd: usize,
    pub out_pad: usize,
}

/// Batch norm's tensors (parameter slots) and constants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bn {
    /// The index of gamma in `TENSORS` (whether it is frozen at run time).
    pub gamma_tensor: usize,
    pub gamma: Slot,
    pub beta: Slot,
    pub mean: Slot,
    pub var: Slot,
    pub eps: f64,
    pub momentum: f64,
}

/// What an op computes from its input value `x` into its output `y`.
// A convolution's geometry makes its variant the largest; a program holds
// a few dozen ops, built once per macro call, so boxing it buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    /// `y = act((conv(x, w) + b) * scale + shift)`; at inference a batch
    /// norm that follows is folded into `scale, shift` (fixed slots).
    Conv {
        g: Geom,
        /// Channel groups (1: an ordinary convolution).
        groups: usize,
        /// A transposed convolution, with its output padding: `g` is its
        /// own geometry (in, out and `pad_top`, `pad_left` as PyTorch's
        /// `padding`), and its weights are `[fh, fw, c_out / groups, c_in]`.
        transposed: Option<[usize; 2]>,
        /// The weight's index in `TENSORS` (whether it is frozen at run
        /// time, when backward leaves its gradient out).
        w_tensor: usize,
        w: Slot,
        b: Option<Slot>,
        fold: Option<(Bn, Slot, Slot)>,
        act: Act,
    },
    Dense {
        n_in: usize,
        n_out: usize,
        w_tensor: usize,
        w: Slot,
        b: Option<Slot>,
        act: Act,
    },
    /// `rows` per example by `c` channels; `saved` (mean, inv_std) in
    /// training; `act` applied in the same pass (its derivative in
    /// backward is recomputed from x, so the output is not read).
    BatchNorm {
        rows: usize,
        c: usize,
        bn: Bn,
        saved: Option<(Slot, Slot)>,
        act: Act,
    },
    /// Group norm over `n * hw` positions of `c` channels in `groups`
    /// groups per example, `n` examples per batch example: a group norm is
    /// `n = 1`, a layer norm `hw = 1, groups = 1, n = positions` (each
    /// position its own example). No saved statistics: backward recomputes
    /// them from x.
    Norm {
        layer_norm: bool,
        n: usize,
        hw: usize,
        c: usize,
        groups: usize,
        /// The index of gamma in `TENSORS` (whether it is frozen at run time).
        gamma_tensor: usize,
        gamma: Slot,
        beta: Slot,
        eps: f64,
    },
    /// `y[r, ch] = x[r, ch] * s[ch]` for `rows` rows per example of `c`
    /// channels (a `Scale`); backward reads x for the factors' gradient.
    Scale {
        rows: usize,
        c: usize,
        /// The factors' index in `TENSORS` (whether they are frozen at run
        /// time).
        s_tensor: usize,
        s: Slot,
    },
    /// In place when `x == y` (never, in training, for an activation
    /// whose backward reads its input).
    Activation {
        act: Act,
    },
    /// Each row of `c` values (`rows` per example) divided by its norm;
    /// backward reads `x`.
    L2Normalize {
        rows: usize,
        c: usize,
    },
    Softmax {
        rows: usize,
        classes: usize,
    },
    MaxPool {
        g: Geom,
        argmax: Slot,
    },
    AvgPool {
        g: Geom,
    },
    GlobalAvgPool {
        hw: usize,
        c: usize,
    },
    /// Each pixel into `sh x sw` (nearest, or bilinear when `bilinear`);
    /// on a volume, `depth` holds the input frames and their scale, and
    /// `bilinear` is trilinear.
    Upsample {
        depth: Option<(usize, usize)>,
        in_h: usize,
        in_w: usize,
        c: usize,
        sh: usize,
        sw: usize,
        bilinear: bool,
    },
    /// `index` tells the layer's mask seed apart from the others'.
    Dropout {
        rate: f64,
        mask: Slot,
        index: u64,
    },
    /// `y = x + other` (a residual block's body and shortcut).
    Add {
        other: usize,
    },
    /// `y = x * other`, `other` being `c` factors per example broadcast
    /// over `hw` positions (a gate's input and its body's output).
    Gate {
        other: usize,
        hw: usize,
        c: usize,
    },
    /// `y[r, offset..offset + c_part] = x[r, ..]` for `rows` rows per
    /// example (one branch of a concatenation).
    ConcatPart {
        rows: usize,
        c_total: usize,
        offset: usize,
        c_part: usize,
    },
}

/// One kernel call (forward) and, in training, its backward.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    pub kind: OpKind,
    /// The layer it starts at.
    pub layer: String,
    /// The layer is frozen: its parameters get no gradient.
    pub frozen: bool,
    pub x: usize,
    pub y: usize,
}

impl Op {
    /// Whether it has trainable parameters.
    fn trainable(&self) -> bool {
        !self.frozen
            && matches!(
                self.kind,
                OpKind::Conv { .. }
                    | OpKind::Dense { .. }
                    | OpKind::BatchNorm { .. }
                    | OpKind::Norm { .. }
                    | OpKind::Scale { .. }
            )
    }
    /// Whether its backward reads its own output (so that output must not
    /// be overwritten by an in-place activation).
    fn reads_output(&self) -> bool {
        match &self.kind {
            OpKind::Conv { act, .. } | OpKind::Dense { act, .. } => *act != Act::Identity,
            OpKind::Activation { act } => !act.needs_input(),
            OpKind::Softmax { .. } => true,
            _ => false,
        }
    }
    /// The values its forward reads.
    fn reads(&self) -> Vec<usize> {
        match self.kind {
            OpKind::Add { other } | OpKind::Gate { other, .. } => vec![self.x, other],
            _ => vec![self.x],
        }
    }
}

/// An activation in the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Value {
    pub slot: Slot,
    /// Its gradient's slot (training, when something below it trains).
    pub grad: Option<Slot>,
    pub needs_grad: bool,
}

/// Gradient bookkeeping after a backward kernel (or instead of one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `to = from`: a second reader's gradient starts as a copy.
    Copy { from: Slot, to: Slot },
    /// `into += from`: a value read by several ops sums their gradients.
    AddInto { into: Slot, from: Slot },
}

/// A backward step: the op's index and where the gradients go.
#[derive(Clone, Debug, PartialEq)]
pub struct Back {
    pub op: usize,
    /// Gradient w.r.t. the op's output (before its fused activation).
    pub dy: Slot,
    /// Where the kernel writes the gradient w.r.t. its input, when needed
    /// (batch norm's kernel always writes one: scratch when nothing below
    /// trains). An activation's is `dy` itself (in place).
    pub dx: Option<Slot>,
    /// A gate's: where its kernel writes the gradient w.r.t. the body's
    /// output (`None` for other ops, or when nothing in the body trains).
    pub dother: Option<Slot>,
    /// Run after the kernel.
    pub after: Vec<Step>,
    /// Run before the kernel: taps of the op's output, whose gradients a
    /// held pass may add into the output's (`first`: the tap's gradient
    /// is the whole gradient, zero when none is given).
    pub taps: Vec<TapStep>,
}

/// A tap's gradient, added where its value's gradient is complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TapStep {
    /// Its index in the declaration's `taps`.
    pub tap: usize,
    pub into: Slot,
    pub first: bool,
}

/// The final activation of the main output that training leaves to the
/// loss (fused) or to a held pass, with the slots a held pass keeps its
/// output and that output's gradient in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Final {
    pub kind: FinalKind,
    pub probs: Slot,
    pub dprobs: Slot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalKind {
    /// Over the channels of each position.
    Softmax {
        channels: usize,
    },
    Sigmoid,
}

/// One cross-entropy term: the main output's (weight 1) or an auxiliary
/// head's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Loss {
    /// The value holding the logits.
    pub logits: usize,
    pub classes: usize,
    pub weight: f64,
    /// Its gradient (training).
    pub dlogits: Slot,
    /// Positions per example: 1 for a vector of class scores, `h * w`
    /// for a softmax per position (`classes / positions` channels each).
    pub positions: usize,
}

/// A compiled forward (and backward) pass.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub ops: Vec<Op>,
    pub values: Vec<Value>,
    pub input: usize,
    /// The network's output (at inference: what `predict` returns).
    pub output: usize,
    /// Training: the auxiliary heads' losses in order, then the main one.
    pub losses: Vec<Loss>,
    /// Training: sums of loss gradients that land on one value, run first
    /// in backward.
    pub loss_steps: Vec<Step>,
    pub back: Vec<Back>,
    /// Per-example `f32`s and `u32`s, and the fixed `f32`s.
    pub per_example: usize,
    pub per_example_u32: usize,
    pub fixed: usize,
    /// Training: where the non-trainable parameters are backed up during a
    /// step (restored when the loss is not finite).
    pub backup: Option<Slot>,
    /// The shape of one example of each value (`values[i]`'s is `shapes[i]`).
    pub shapes: Vec<crate::ir::Shape>,
    /// Training: for each trainable tensor (by index in `TENSORS`), the op
    /// that holds it; run-time freezing cuts backward below the lowest op
    /// that still trains.
    pub tensor_op: Vec<usize>,
    /// Training: the value of each tap, in the declaration's order.
    pub taps: Vec<usize>,
    /// Training: the main output's final activation, left out of the ops.
    pub fin: Option<Final>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expand::layout;
    use crate::expand::testnets::{bn_net, lenet5, net};
    use crate::ir::Net;

    fn plan(net: &Net, mode: Mode) -> Program {
        let params = layout::params(&net.layers);
        let (prog, unsupported) = Planner::new(mode, &params).plan(net.input, &net.layers);
        assert!(unsupported.is_empty(), "{unsupported:?}");
        prog
    }

    fn kinds(p: &Program) -> Vec<&'static str> {
        p.ops
            .iter()
            .map(|op| match &op.kind {
                OpKind::Conv {
                    act: Act::Relu,
                    fold: None,
                    ..
                } => "conv+relu",
                OpKind::Conv {
                    act: Act::Relu,
                    fold: Some(_),
                    ..
                } => "conv+bn+relu",
                OpKind::Conv { .. } => "conv",
                OpKind::Dense { act: Act::Relu, .. } => "dense+relu",
                OpKind::Dense { .. } => "dense",
                OpKind::BatchNorm { act: Act::Relu, .. } => "bn+relu",
                OpKind::BatchNorm { .. } => "bn",
                OpKind::Norm {
                    layer_norm: true, ..
                } => "ln",
                OpKind::Norm { .. } => "gn",
                OpKind::Gate { .. } => "gate",
                OpKind::Scale { .. } => "scale",
                OpKind::Activation { .. } if op.x == op.y => "act in place",
                OpKind::Activation { .. } => "act",
                OpKind::Softmax { .. } => "softmax",
                OpKind::L2Normalize { .. } => "l2",
                OpKind::MaxPool { .. } => "max",
                OpKind::AvgPool { .. } => "avg",
                OpKind::GlobalAvgPool { .. } => "gap",
                OpKind::Upsample { .. } => "upsample",
                OpKind::Dropout { .. } => "dropout",
                OpKind::Add { .. } => "add",
                OpKind::ConcatPart { .. } => "concat",
            })
            .collect()
    }

    #[test]
    fn lenet5_fuses_activations_and_the_loss() {
        let train = plan(&lenet5(), Mode::Train);
        let fused = [
            "conv+relu",
            "max",
            "conv+relu",
            "max",
            "dense+relu",
            "dense+relu",
            "dense",
        ];
        assert_eq!(kinds(&train), fused);
        assert_eq!(train.losses.len(), 1);
        assert_eq!(train.losses[0].classes, 10);
        // Backward visits every op; conv1 has a slot for the input's
        // gradient, which it computes only when a held pass asks.
        assert_eq!(train.back.len(), 7);
        let first = train.back.last().unwrap();
        assert_eq!(first.op, 0);
        assert!(first.dx.is_some());
        assert_eq!(train.values[train.input].grad, first.dx);
        let infer = plan(&lenet5(), Mode::Infer);
        assert_eq!(kinds(&infer).last(), Some(&"softmax"));
        assert_eq!(infer.ops.len(), 8);
    }

    #[test]
    fn gradient_slots_are_reused() {
        let train = plan(&lenet5(), Mode::Train);
        let activations: usize = train.values.iter().map(|v| v.slot.len).sum();
        // Forward values stay; gradients need about two slots, not one per
        // value.
        assert!(
            train.per_example < activations + 2 * 4704 + 1176,
            "{}",
            train.per_example
        );
        let infer = plan(&lenet5(), Mode::Infer);
        assert!(
            infer.per_example <= 1024 + 4704 + 1176,
            "{}",
            infer.per_example
        );
    }

    #[test]
    fn batch_norm_folds_at_inference_only() {
        assert_eq!(
            kinds(&plan(&bn_net(), Mode::Infer)),
            ["conv+bn+relu", "gap", "dense", "softmax"]
        );
        let train = plan(&bn_net(), Mode::Train);
        assert_eq!(
            kinds(&train),
            ["conv", "bn+relu", "dropout", "gap", "dense"]
        );
        // BN saves its statistics, and the non-trainable part is backed up.
        assert_eq!(train.fixed, 8 + 8 + 16);
    }

    #[test]
    fn an_activation_on_a_shared_value_is_not_in_place() {
        let n = net("struct R {
            input: [4, 4, 2],
            layers: [
                c: Conv2d { filters: 2, kernel: 1 },
                r: Residual { body: [Relu, Conv2d { filters: 2, kernel: 1 }] },
                Relu,
                a: AuxHead { weight: 0.5, layers: [Conv2d { filters: 1, kernel: 1 }, Flatten, Dense { units: 3 }, Softmax] },
                Tanh,
                Flatten,
                Dense { units: 3 },
                Softmax,
            ],
        }");
        let train = plan(&n, Mode::Train);
        let k = kinds(&train);
        // The body's Relu reads the block input that the shortcut needs;
        // the Relu after the add works in place; the Tanh after the head
        // must keep the tapped value for the head's backward.
        assert_eq!(k[1], "act");
        assert_eq!(k[3], "add");
        assert_eq!(k[4], "act in place");
        assert_eq!(k[7], "act");
        assert_eq!(train.losses.len(), 2);
        assert_eq!((train.losses[0].weight, train.losses[1].weight), (0.5, 1.0));
        let infer = plan(&n, Mode::Infer);
        // At inference the head is skipped and nothing else needs the value.
        let k = kinds(&infer);
        assert_eq!(
            k,
            [
                "conv",
                "act",
                "conv",
                "add",
                "act in place",
                "act in place",
                "dense",
                "softmax"
            ]
        );
    }

    /// SiLU, GELU and hardswish need their input in backward: training
    /// keeps them out of convolutions and dense layers, and never runs
    /// them in place; batch norm and inference fuse them.
    #[test]
    fn activations_that_need_their_input_fuse_only_where_it_is_kept() {
        let n = net("struct A {
            input: [4, 4, 2],
            layers: [
                c1: Conv2d { filters: 2, kernel: 1 },
                Silu,
                c2: Conv2d { filters: 2, kernel: 1 },
                Relu6,
                bn: BatchNorm,
                Gelu { approximate: tanh },
                Hardswish,
                L2Normalize,
                Flatten,
                d: Dense { units: 3 },
                Hardsigmoid,
                d2: Dense { units: 3 },
                Gelu,
            ],
        }");
        let acts = |p: &Program| -> Vec<(&'static str, Act, bool)> {
            p.ops
                .iter()
                .filter_map(|op| {
                    let (kind, act) = match op.kind {
                        OpKind::Conv { act, .. } => ("conv", act),
                        OpKind::Dense { act, .. } => ("dense", act),
                        OpKind::BatchNorm { act, .. } => ("bn", act),
                        OpKind::Activation { act } => ("act", act),
                        OpKind::L2Normalize { .. } => ("l2", Act::Identity),
                        _ => return None,
                    };
                    Some((kind, act, op.x == op.y))
                })
                .collect()
        };
        let train = plan(&n, Mode::Train);
        assert_eq!(
            acts(&train),
            [
                ("conv", Act::Identity, false),
                ("act", Act::Silu, false),
                ("conv", Act::Relu6, false),
                ("bn", Act::GeluTanh, false),
                ("act", Act::Hardswish, false),
                ("l2", Act::Identity, false),
                ("dense", Act::Hardsigmoid, false),
                ("dense", Act::Identity, false),
                ("act", Act::Gelu, false),
            ]
        );
        // Their backward reads the input, not the output.
        assert!(!train.ops[1].reads_output());
        let infer = plan(&n, Mode::Infer);
        assert_eq!(
            acts(&infer),
            [
                ("conv", Act::Silu, false),
                ("conv", Act::Relu6, false),
                ("bn", Act::GeluTanh, false),
                ("act", Act::Hardswish, true),
                ("l2", Act::Identity, false),
                ("dense", Act::Hardsigmoid, false),
                ("dense", Act::Gelu, false),
            ]
        );
    }
}
