//! The programs the generated code runs, worked out at compile time: the
//! layers fused into kernel calls (convolution + batch norm at inference +
//! activation as one `conv2d::forward`; dense + activation as one
//! `dense::forward`; the last `Softmax` + cross-entropy as one loss call in
//! training), and every activation, gradient, mask and saved statistic
//! placed in the workspace at a per-example offset.
//!
//! A program is a list of ops over numbered values (activations). In
//! training every value keeps its own slot until backward has run;
//! gradient slots are handed out in reverse order and reused once consumed,
//! and an activation's backward works in place on its upstream gradient. At
//! inference a value's slot is freed after its last use.

use crate::expand::layout::Params;
use crate::ir::{Layer, LayerKind, Shape};

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
}

/// Batch norm's tensors (parameter slots) and constants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bn {
    pub gamma: Slot,
    pub beta: Slot,
    pub mean: Slot,
    pub var: Slot,
    pub eps: f64,
    pub momentum: f64,
}

/// What an op computes.
#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    /// `y = act((conv(x, w) + b) * scale + shift)`; at inference a batch
    /// norm that follows is folded into `scale, shift` (fixed slots).
    Conv {
        g: Geom,
        w: Slot,
        b: Option<Slot>,
        fold: Option<(Bn, Slot, Slot)>,
        act: Act,
    },
    Dense {
        n_in: usize,
        n_out: usize,
        w: Slot,
        b: Option<Slot>,
        act: Act,
    },
    /// `rows` per example by `c` channels; `saved` (mean, inv_std) in
    /// training.
    BatchNorm {
        rows: usize,
        c: usize,
        bn: Bn,
        saved: Option<(Slot, Slot)>,
    },
    /// In place when `x == y`.
    Activation {
        act: Act,
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
    /// `index` tells the layer's mask seed apart from the others'.
    Dropout {
        rate: f64,
        mask: Slot,
        index: u64,
    },
}

/// One kernel call (forward) and, in training, its backward.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    pub kind: OpKind,
    /// The layer it starts at (the name errors and comments show).
    pub layer: String,
    pub x: usize,
    pub y: usize,
}

impl Op {
    /// Whether it has trainable parameters.
    fn trainable(&self) -> bool {
        matches!(
            self.kind,
            OpKind::Conv { .. } | OpKind::Dense { .. } | OpKind::BatchNorm { .. }
        )
    }
    /// Whether its backward reads its own output (so that output must not
    /// be overwritten by an in-place activation).
    fn reads_output(&self) -> bool {
        match &self.kind {
            OpKind::Conv { act, .. } | OpKind::Dense { act, .. } => *act != Act::Identity,
            OpKind::Activation { .. } | OpKind::Softmax { .. } => true,
            _ => false,
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

/// A backward step: the op's index and where the gradients go.
#[derive(Clone, Debug, PartialEq)]
pub struct Back {
    pub op: usize,
    /// Gradient w.r.t. the op's output (before its fused activation).
    pub dy: Slot,
    /// Gradient w.r.t. its input, when needed (batch norm's kernel always
    /// writes one: a scratch slot when nothing below needs it).
    pub dx: Option<Slot>,
}

/// A compiled forward (and backward) pass.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub ops: Vec<Op>,
    pub values: Vec<Value>,
    pub input: usize,
    /// Inference: the network's output; training: the logits of the loss.
    pub output: usize,
    pub back: Vec<Back>,
    /// Per-example `f32`s and `u32`s, and the fixed `f32`s.
    pub per_example: usize,
    pub per_example_u32: usize,
    pub fixed: usize,
    /// Training: where the non-trainable parameters are backed up during a
    /// step (restored when the loss is not finite).
    pub backup: Option<Slot>,
    /// Training: the loss's gradient w.r.t. the logits.
    pub dlogits: Option<Slot>,
}

/// An arena of per-example (or fixed) slots; a freed slot is reused by a
/// later request of no greater length (best fit, no splitting).
#[derive(Default)]
struct Arena {
    top: usize,
    /// Slots handed out, with their capacity.
    live: Vec<Slot>,
    free: Vec<Slot>,
}

impl Arena {
    fn alloc(&mut self, len: usize) -> Slot {
        if len == 0 {
            return Slot { offset: 0, len: 0 };
        }
        let best = (0..self.free.len())
            .filter(|&i| self.free[i].len >= len)
            .min_by_key(|&i| self.free[i].len);
        let whole = match best {
            Some(i) => self.free.swap_remove(i),
            None => {
                self.top += len;
                Slot {
                    offset: self.top - len,
                    len,
                }
            }
        };
        self.live.push(whole);
        Slot {
            offset: whole.offset,
            len,
        }
    }

    fn free(&mut self, s: Slot) {
        if let Some(i) = self
            .live
            .iter()
            .position(|l| l.offset == s.offset && s.len > 0)
        {
            let whole = self.live.swap_remove(i);
            self.free.push(whole);
        }
    }
}

/// Builds a program for `mode` over the sequential list `layers`.
pub struct Planner<'a> {
    mode: Mode,
    params: &'a Params,
    prog: Program,
    f: Arena,
    u: Arena,
    fixed: Arena,
    /// How many ops read each value (inference frees at zero).
    uses: Vec<usize>,
    reads_output: Vec<bool>,
    dropouts: u64,
    /// Messages for what cannot be generated (yet).
    pub unsupported: Vec<String>,
}

impl<'a> Planner<'a> {
    pub fn new(mode: Mode, params: &'a Params) -> Self {
        Planner {
            mode,
            params,
            prog: Program::default(),
            f: Arena::default(),
            u: Arena::default(),
            fixed: Arena::default(),
            uses: Vec::new(),
            reads_output: Vec::new(),
            dropouts: 0,
            unsupported: Vec::new(),
        }
    }

    fn value(&mut self, len: usize) -> usize {
        let slot = self.f.alloc(len);
        self.prog.values.push(Value {
            slot,
            grad: None,
            needs_grad: false,
        });
        self.uses.push(0);
        self.reads_output.push(false);
        self.prog.values.len() - 1
    }

    fn push(&mut self, layer: &Layer, kind: OpKind, x: usize, y: usize) {
        let op = Op {
            kind,
            layer: layer.name.clone(),
            x,
            y,
        };
        let needs = op.trainable() || self.prog.values[x].needs_grad;
        self.prog.values[y].needs_grad = needs;
        self.reads_output[y] = op.reads_output();
        self.prog.ops.push(op);
        self.uses[x] -= 1;
        if self.mode == Mode::Infer && x != y && self.uses[x] == 0 {
            // The input's last reader has run: its slot can be reused.
            let slot = self.prog.values[x].slot;
            self.f.free(slot);
        }
    }

    /// Plans the whole network; the top-level list may end in a Softmax
    /// that training fuses with the loss.
    pub fn plan(mut self, input: Shape, layers: &[Layer]) -> (Program, Vec<String>) {
        let x = self.value(input.len());
        self.prog.input = x;
        let kept: Vec<&Layer> = layers
            .iter()
            .filter(|l| !(self.mode == Mode::Infer && matches!(l.kind, LayerKind::Dropout { .. })))
            .collect();
        let fused_softmax = self.mode == Mode::Train
            && matches!(kept.last(), Some(l) if matches!(l.kind, LayerKind::Softmax) && matches!(l.output, Some(Shape::Flat { .. })));
        let body = if fused_softmax {
            &kept[..kept.len() - 1]
        } else {
            &kept[..]
        };
        let out = self.block(body, x);
        self.prog.output = out;
        if self.mode == Mode::Train {
            self.plan_backward();
            self.prog.backup = Some(self.fixed.alloc(self.params.total - self.params.trainable));
        }
        self.prog.per_example = self.f.top;
        self.prog.per_example_u32 = self.u.top;
        self.prog.fixed = self.fixed.top;
        (self.prog, self.unsupported)
    }

    /// Plans a list of layers reading value `x`; returns the output value.
    fn block(&mut self, layers: &[&Layer], mut x: usize) -> usize {
        let mut i = 0;
        while i < layers.len() {
            let l = layers[i];
            let (Some(input), Some(output)) = (l.input, l.output) else {
                self.unsupported
                    .push(format!("{}: its shape is unknown", l.name));
                return x;
            };
            self.uses[x] += 1;
            i += 1;
            match &l.kind {
                LayerKind::Conv2d { .. } => {
                    let t = self.params.of(&l.name);
                    let (w, b) = (self.pslot(t.weight), t.bias.map(|b| self.pslot(Some(b))));
                    let mut fold = None;
                    let mut last = l;
                    if self.mode == Mode::Infer {
                        if let Some(&bn) = layers
                            .get(i)
                            .filter(|n| matches!(n.kind, LayerKind::BatchNorm { .. }))
                        {
                            let c = output.channels();
                            fold = Some((self.bn(bn), self.fixed.alloc(c), self.fixed.alloc(c)));
                            last = bn;
                            i += 1;
                        }
                    }
                    let act = match layers.get(i).and_then(|n| act_of(&n.kind)) {
                        Some(a) => {
                            last = layers[i];
                            i += 1;
                            a
                        }
                        None => Act::Identity,
                    };
                    let y = self.value(last.output.map_or(0, |s| s.len()));
                    let g = geom(input, output, l);
                    self.push(l, OpKind::Conv { g, w, b, fold, act }, x, y);
                    x = y;
                }
                LayerKind::Dense { units, .. } => {
                    let t = self.params.of(&l.name);
                    let (w, b) = (self.pslot(t.weight), t.bias.map(|b| self.pslot(Some(b))));
                    let act = match layers.get(i).and_then(|n| act_of(&n.kind)) {
                        Some(a) => {
                            i += 1;
                            a
                        }
                        None => Act::Identity,
                    };
                    let y = self.value(*units);
                    let kind = OpKind::Dense {
                        n_in: input.len(),
                        n_out: *units,
                        w,
                        b,
                        act,
                    };
                    self.push(l, kind, x, y);
                    x = y;
                }
                LayerKind::BatchNorm { .. } => {
                    let c = input.channels();
                    let saved = match self.mode {
                        Mode::Train => Some((self.fixed.alloc(c), self.fixed.alloc(c))),
                        Mode::Infer => None,
                    };
                    let y = self.value(output.len());
                    let kind = OpKind::BatchNorm {
                        rows: input.len() / c.max(1),
                        c,
                        bn: self.bn(l),
                        saved,
                    };
                    self.push(l, kind, x, y);
                    x = y;
                }
                kind if act_of(kind).is_some() => {
                    let act = act_of(kind).unwrap_or(Act::Identity);
                    // In place unless the value is read elsewhere, or its
                    // producer's backward needs it as it is.
                    let in_place = match self.mode {
                        Mode::Infer => self.uses[x] == 1,
                        Mode::Train => self.uses[x] == 1 && !self.reads_output[x],
                    };
                    let y = if in_place {
                        x
                    } else {
                        self.value(output.len())
                    };
                    self.push(l, OpKind::Activation { act }, x, y);
                    x = y;
                }
                LayerKind::Softmax => {
                    let c = output.channels();
                    let y = self.value(output.len());
                    let kind = OpKind::Softmax {
                        rows: output.len() / c.max(1),
                        classes: c,
                    };
                    self.push(l, kind, x, y);
                    x = y;
                }
                LayerKind::MaxPool2d { .. } => {
                    let argmax = self.u.alloc(output.len());
                    if self.mode == Mode::Infer {
                        // The winners are only read by backward.
                        self.u.free(argmax);
                    }
                    let y = self.value(output.len());
                    self.push(
                        l,
                        OpKind::MaxPool {
                            g: geom(input, output, l),
                            argmax,
                        },
                        x,
                        y,
                    );
                    x = y;
                }
                LayerKind::AvgPool2d { .. } => {
                    let y = self.value(output.len());
                    self.push(
                        l,
                        OpKind::AvgPool {
                            g: geom(input, output, l),
                        },
                        x,
                        y,
                    );
                    x = y;
                }
                LayerKind::GlobalAvgPool => {
                    let c = input.channels();
                    let y = self.value(output.len());
                    let kind = OpKind::GlobalAvgPool {
                        hw: input.len() / c.max(1),
                        c,
                    };
                    self.push(l, kind, x, y);
                    x = y;
                }
                // A view: NHWC is already the flat order.
                LayerKind::Flatten => self.uses[x] -= 1,
                LayerKind::Dropout { rate } => {
                    self.uses[x] -= 1;
                    if *rate > 0.0 {
                        self.uses[x] += 1;
                        let mask = self.f.alloc(output.len());
                        let y = self.value(output.len());
                        self.dropouts += 1;
                        let kind = OpKind::Dropout {
                            rate: *rate,
                            mask,
                            index: self.dropouts,
                        };
                        self.push(l, kind, x, y);
                        x = y;
                    }
                }
                LayerKind::Residual { .. }
                | LayerKind::Concat { .. }
                | LayerKind::AuxHead { .. } => {
                    self.unsupported.push(format!(
                        "{}: {} blocks are not generated yet; use a sequential network",
                        l.name,
                        l.kind.dsl_name()
                    ));
                    return x;
                }
                _ => unreachable!("activations are matched above"),
            }
        }
        x
    }

    fn pslot(&self, t: Option<usize>) -> Slot {
        let t = &self.params.tensors[t.expect("a layer with parameters has its tensors laid out")];
        Slot {
            offset: t.offset,
            len: t.len(),
        }
    }

    fn bn(&self, l: &Layer) -> Bn {
        let t = self.params.of(&l.name);
        let (eps, momentum) = match l.kind {
            LayerKind::BatchNorm { epsilon, momentum } => (epsilon, momentum),
            _ => (1e-3, 0.99),
        };
        Bn {
            gamma: self.pslot(t.gamma),
            beta: self.pslot(t.beta),
            mean: self.pslot(t.moving_mean),
            var: self.pslot(t.moving_variance),
            eps,
            momentum,
        }
    }

    /// Gradient slots, in reverse op order: the loss writes the logits'
    /// gradient; each op reads its output's gradient and writes its
    /// input's, which an activation does in place; a gradient's slot is
    /// reused once its reader has run.
    fn plan_backward(&mut self) {
        let logits = self.prog.output;
        let dlogits = self.f.alloc(self.prog.values[logits].slot.len);
        self.prog.values[logits].grad = Some(dlogits);
        self.prog.dlogits = Some(dlogits);
        for i in (0..self.prog.ops.len()).rev() {
            let op = &self.prog.ops[i];
            let (x, y) = (op.x, op.y);
            let is_act = matches!(op.kind, OpKind::Activation { .. });
            let is_bn = matches!(op.kind, OpKind::BatchNorm { .. });
            let Value {
                needs_grad, grad, ..
            } = self.prog.values[y];
            if !needs_grad {
                continue;
            }
            let dy = grad.expect("an output's gradient is planned before its op");
            let x_len = self.prog.values[x].slot.len;
            let dx = if is_act {
                // In place on the upstream gradient.
                self.prog.values[x].grad = Some(dy);
                Some(dy)
            } else if self.prog.values[x].needs_grad {
                let s = self.f.alloc(x_len);
                self.prog.values[x].grad = Some(s);
                Some(s)
            } else if is_bn {
                // Scratch: the batch norm kernel always writes dx.
                Some(self.f.alloc(x_len))
            } else {
                None
            };
            if !is_act {
                self.f.free(dy);
            }
            if is_bn && !self.prog.values[x].needs_grad {
                self.f.free(dx.expect("allocated above"));
            }
            self.prog.back.push(Back { op: i, dy, dx });
        }
    }
}

/// The activation a layer kind applies, if it is one (Softmax is not: it
/// mixes channels).
pub fn act_of(kind: &LayerKind) -> Option<Act> {
    match kind {
        LayerKind::Relu => Some(Act::Relu),
        LayerKind::LeakyRelu { alpha } => Some(Act::LeakyRelu(*alpha)),
        LayerKind::Tanh => Some(Act::Tanh),
        LayerKind::Sigmoid => Some(Act::Sigmoid),
        _ => None,
    }
}

/// The geometry of a convolution or pooling layer from its checked shapes.
fn geom(input: Shape, output: Shape, l: &Layer) -> Geom {
    let (
        Shape::Image { h, w, c },
        Shape::Image {
            h: oh,
            w: ow,
            c: oc,
        },
    ) = (input, output)
    else {
        unreachable!("the checker gives spatial layers image shapes")
    };
    let (k, s) = match &l.kind {
        LayerKind::Conv2d { kernel, stride, .. } => (*kernel, *stride),
        LayerKind::MaxPool2d { size, stride, .. } | LayerKind::AvgPool2d { size, stride, .. } => {
            (*size, *stride)
        }
        _ => ([1, 1], [1, 1]),
    };
    Geom {
        in_h: h,
        in_w: w,
        c_in: c,
        out_h: oh,
        out_w: ow,
        c_out: oc,
        fh: k[0],
        fw: k[1],
        sh: s[0],
        sw: s[1],
        pad_top: l.pad_before[0],
        pad_left: l.pad_before[1],
    }
}
