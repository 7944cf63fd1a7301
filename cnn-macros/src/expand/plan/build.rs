//! The forward planner: walks the layer tree in order, fuses neighbours into
//! one op (conv + [batch norm at inference] + activation; dense +
//! activation), decides which activations run in place, and hands out
//! value slots. Blocks recurse: a residual plans its body and shortcut on
//! the same input and adds them; a concatenation plans each branch and
//! writes it into its channels; an auxiliary head plans its layers beside
//! the main path and adds a loss (training only).

use std::collections::HashMap;

use super::arena::Arena;
use super::{
    Act, Bn, DepthGeom, Final, FinalKind, Geom, Loss, Mode, Op, OpKind, Program, Slot, Value,
};
use crate::expand::layout::Params;
use crate::ir::{Layer, LayerKind, Shape};

/// Builds a program for `mode`.
pub struct Planner<'a> {
    pub(super) mode: Mode,
    params: &'a Params,
    pub(super) prog: Program,
    pub(super) f: Arena,
    u: Arena,
    pub(super) fixed: Arena,
    /// Readers of each value not yet planned (inference frees at zero);
    /// a block holds its input for as long as its branches need it.
    uses: Vec<usize>,
    reads_output: Vec<bool>,
    dropouts: u64,
    /// What cannot be generated, as messages.
    unsupported: Vec<String>,
    /// Training: the declaration's taps by name, and for each the layer
    /// after which the current value is the tap's (a group's last layer).
    tap_names: Vec<String>,
    anchors: HashMap<String, usize>,
    /// Values a tap shows: no activation may overwrite them in place.
    tapped: Vec<bool>,
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
            tap_names: Vec::new(),
            anchors: HashMap::new(),
            tapped: Vec::new(),
        }
    }

    /// The declaration's taps (training plans them; inference ignores them).
    pub fn taps(mut self, names: &[String]) -> Self {
        if self.mode == Mode::Train {
            self.tap_names = names.to_vec();
        }
        self
    }

    /// Where each tap is read: after its layer, or after a group's last
    /// layer (groups are opened up before planning).
    fn find_anchors(&mut self, layers: &[Layer]) {
        fn walk(layers: &[Layer], out: &mut Vec<(String, String)>) {
            for l in layers {
                let anchor = match &l.kind {
                    LayerKind::Sequential { layers, .. } => crate::ir::flatten_groups(layers)
                        .last()
                        .map(|last| last.name.clone()),
                    _ => Some(l.name.clone()),
                };
                if let Some(a) = anchor {
                    out.push((l.name.clone(), a));
                }
                for list in l.children() {
                    walk(list, out);
                }
            }
        }
        let mut pairs = Vec::new();
        walk(layers, &mut pairs);
        self.prog.taps = vec![usize::MAX; self.tap_names.len()];
        for (k, tap) in self.tap_names.clone().iter().enumerate() {
            match pairs.iter().find(|(name, _)| name == tap) {
                Some((_, anchor)) => {
                    self.anchors.insert(anchor.clone(), k);
                }
                None => self
                    .unsupported
                    .push(format!("tap `{tap}`: no layer of that name to read")),
            }
        }
    }

    /// Whether a tap reads this layer's output (so nothing may be fused
    /// after it).
    fn anchored(&self, l: &Layer) -> bool {
        self.anchors.contains_key(&l.name)
    }
    /// Plans the whole network; returns the program and what could not be
    /// generated.
    pub fn plan(mut self, input: Shape, layers: &[Layer]) -> (Program, Vec<String>) {
        let x = self.shaped(input);
        self.prog.input = x;
        if self.mode == Mode::Train {
            // A held pass may ask for the input's gradient: every value
            // gets a gradient slot, and backward decides at run time which
            // to compute.
            self.prog.values[x].needs_grad = true;
            self.find_anchors(layers);
        }
        let kept = self.kept(layers);
        let logits = self.loss_body(&kept, x, 1.0, true);
        self.prog.output = logits;
        if let Some(k) = self.prog.taps.iter().position(|&v| v == usize::MAX) {
            let tap = &self.tap_names[k];
            self.unsupported.push(format!(
                "tap `{tap}`: its output is not a value of the training program (the network's input, or a final activation fused with the loss); tap the layer before it, or read the pass's output"
            ));
        } else if let Some(k) = self.prog.taps.iter().position(|&v| v == x) {
            let tap = &self.tap_names[k];
            self.unsupported.push(format!(
                "tap `{tap}`: its output is the network's input; tap a later layer"
            ));
        }
        if self.mode == Mode::Train {
            let trainable_tensors = self
                .params
                .tensors
                .iter()
                .take_while(|t| t.trainable)
                .count();
            self.prog.tensor_op.resize(trainable_tensors, usize::MAX);
            self.plan_grads();
            self.prog.backup = Some(
                self.fixed
                    .alloc(self.params.mutable - self.params.trainable),
            );
        }
        self.prog.per_example = self.f.top;
        self.prog.per_example_u32 = self.u.top;
        self.prog.fixed = self.fixed.top;
        (self.prog, self.unsupported)
    }

    /// The layers that run in this mode (dropout is the identity at
    /// inference).
    fn kept<'l>(&self, layers: &'l [Layer]) -> Vec<&'l Layer> {
        // A group is only a namespace: its layers run (and fuse) as if
        // written out in the list.
        crate::ir::flatten_groups(layers)
            .into_iter()
            .filter(|l| !(self.mode == Mode::Infer && matches!(l.kind, LayerKind::Dropout { .. })))
            .collect()
    }

    /// A list that ends in a loss (the network, an auxiliary head): in
    /// training a final `Softmax` over a vector is left to the fused loss,
    /// which reads its input, the logits; otherwise the outputs are the
    /// logits. Returns the value the list ends in.
    /// The main output's final `Softmax` (per position on an image) or
    /// `Sigmoid` is left out the same way: a held pass applies it to the
    /// logits into its own slot.
    fn loss_body(&mut self, layers: &[&Layer], x: usize, weight: f64, main: bool) -> usize {
        let last = layers.last().filter(|l| match l.kind {
            LayerKind::Softmax => true,
            LayerKind::Sigmoid => main,
            _ => false,
        });
        if let (Some(l), false) = (last, main) {
            if let Some(s @ Shape::Image { .. }) = l.output {
                self.unsupported.push(format!(
                    "{}: the last Softmax is over a {s} image, but the loss needs one vector of class scores per example; add Flatten or GlobalAvgPool (and a Dense layer) before it",
                    l.name
                ));
            }
        }
        let fused = self.mode == Mode::Train && last.is_some();
        let body = if fused {
            &layers[..layers.len() - 1]
        } else {
            layers
        };
        let out = self.block(body, x);
        if self.mode == Mode::Train {
            let classes = self.prog.values[out].slot.len;
            let shape = self.prog.shapes[out];
            let channels = shape.channels().max(1);
            let positions = match (last.map(|l| &l.kind), shape) {
                (Some(LayerKind::Softmax), Shape::Image { .. }) => classes / channels,
                _ => 1,
            };
            if let (true, Some(l)) = (main, last) {
                let kind = match l.kind {
                    LayerKind::Sigmoid => FinalKind::Sigmoid,
                    _ => FinalKind::Softmax {
                        channels: classes / positions,
                    },
                };
                self.prog.fin = Some(Final {
                    kind,
                    probs: self.f.alloc(classes),
                    dprobs: self.f.alloc(classes),
                });
            }
            self.prog.losses.push(Loss {
                logits: out,
                classes,
                weight,
                dlogits: Slot { offset: 0, len: 0 },
                positions,
            });
        }
        out
    }

    /// A new value of this shape (one example's).
    pub(super) fn shaped(&mut self, shape: Shape) -> usize {
        let v = self.value(shape.len());
        self.prog.shapes.push(shape);
        v
    }

    pub(super) fn value(&mut self, len: usize) -> usize {
        let slot = self.f.alloc(len);
        self.prog.values.push(Value {
            slot,
            grad: None,
            needs_grad: false,
        });
        self.uses.push(0);
        self.reads_output.push(false);
        self.tapped.push(false);
        self.prog.values.len() - 1
    }

    /// Adds an op; the values it reads must have been counted in `uses`.
    fn push(&mut self, layer: &Layer, kind: OpKind, x: usize, y: usize) {
        let op = Op {
            kind,
            layer: layer.name.clone(),
            frozen: layer.frozen,
            x,
            y,
        };
        if self.mode == Mode::Train && op.trainable() {
            let t = self.params.of(&layer.name);
            let index = self.prog.ops.len();
            for k in [t.weight, t.bias, t.gamma, t.beta, t.scale]
                .into_iter()
                .flatten()
            {
                if self.params.tensors[k].trainable {
                    if self.prog.tensor_op.len() <= k {
                        self.prog.tensor_op.resize(k + 1, usize::MAX);
                    }
                    self.prog.tensor_op[k] = index;
                }
            }
        }
        let reads = op.reads();
        let needs = op.trainable() || reads.iter().any(|&v| self.prog.values[v].needs_grad);
        // Several ops write a concatenation's output: any of them decides.
        self.prog.values[y].needs_grad |= needs;
        self.reads_output[y] = op.reads_output();
        self.prog.ops.push(op);
        for v in reads {
            self.release(v, y);
        }
    }

    /// One reader of `v` has been planned; at inference its slot is reused
    /// after the last (unless the reader wrote in place, `v == y`).
    fn release(&mut self, v: usize, y: usize) {
        self.uses[v] -= 1;
        if self.mode == Mode::Infer && v != y && self.uses[v] == 0 {
            let slot = self.prog.values[v].slot;
            self.f.free(slot);
        }
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
            // The layer (or, for a block, the block as a whole) reads x.
            self.uses[x] += 1;
            let start = i;
            i += 1;
            x = match &l.kind {
                LayerKind::Conv2d { .. } | LayerKind::ConvTranspose2d { .. } => {
                    let t = self.params.of(&l.name);
                    let (w, b) = (self.pslot(t.weight), t.bias.map(|b| self.pslot(Some(b))));
                    let mut fold = None;
                    let mut last = l;
                    if self.mode == Mode::Infer {
                        let next = layers
                            .get(i)
                            .filter(|n| matches!(n.kind, LayerKind::BatchNorm { .. }));
                        if let Some(&bn) = next {
                            let c = output.channels();
                            fold = Some((self.bn(bn), self.fixed.alloc(c), self.fixed.alloc(c)));
                            last = bn;
                            i += 1;
                        }
                    }
                    let next = layers.get(i).filter(|_| !self.anchored(last));
                    let act = match next.and_then(|n| self.fusable(&n.kind)) {
                        Some(a) => {
                            last = layers[i];
                            i += 1;
                            a
                        }
                        None => Act::Identity,
                    };
                    let y = self.shaped(last.output.unwrap_or(Shape::Flat { n: 0 }));
                    let g = geom(input, output, l);
                    let (groups, transposed) = match l.kind {
                        LayerKind::Conv2d { groups, .. } => (groups, None),
                        LayerKind::ConvTranspose2d {
                            groups,
                            output_padding,
                            ..
                        } => (groups, Some(output_padding)),
                        _ => (1, None),
                    };
                    let kind = OpKind::Conv {
                        g,
                        groups,
                        transposed,
                        w_tensor: t.weight.unwrap_or(usize::MAX),
                        w,
                        b,
                        fold,
                        act,
                    };
                    self.push(l, kind, x, y);
                    y
                }
                LayerKind::Dense { units, .. } => {
                    let t = self.params.of(&l.name);
                    let (w, b) = (self.pslot(t.weight), t.bias.map(|b| self.pslot(Some(b))));
                    let next = layers.get(i).filter(|_| !self.anchored(l));
                    let act = match next.and_then(|n| self.fusable(&n.kind)) {
                        Some(a) => {
                            i += 1;
                            a
                        }
                        None => Act::Identity,
                    };
                    let y = self.shaped(Shape::Flat { n: *units });
                    let n_in = input.len();
                    let kind = OpKind::Dense {
                        n_in,
                        n_out: *units,
                        w_tensor: t.weight.unwrap_or(usize::MAX),
                        w,
                        b,
                        act,
                    };
                    self.push(l, kind, x, y);
                    y
                }
                LayerKind::BatchNorm { .. } => {
                    let c = input.channels();
                    // A frozen batch norm normalises with its moving
                    // statistics in training too.
                    let saved = match self.mode {
                        Mode::Train if !l.frozen => {
                            Some((self.fixed.alloc(c), self.fixed.alloc(c)))
                        }
                        _ => None,
                    };
                    let next = layers.get(i).filter(|_| !self.anchored(l));
                    let act = match next.and_then(|n| act_of(&n.kind)) {
                        Some(a) => {
                            i += 1;
                            a
                        }
                        None => Act::Identity,
                    };
                    let y = self.shaped(output);
                    let kind = OpKind::BatchNorm {
                        rows: input.len() / c.max(1),
                        c,
                        bn: self.bn(l),
                        saved,
                        act,
                    };
                    self.push(l, kind, x, y);
                    y
                }
                LayerKind::GroupNorm { .. } | LayerKind::LayerNorm { .. } => {
                    let y = self.shaped(output);
                    let kind = self.norm(l, input);
                    self.push(l, kind, x, y);
                    y
                }
                LayerKind::Scale { .. } => {
                    let t = self.params.of(&l.name);
                    let c = input.channels();
                    let y = self.shaped(output);
                    let kind = OpKind::Scale {
                        rows: input.len() / c.max(1),
                        c,
                        s_tensor: t.scale.expect("a scale has its tensor laid out"),
                        s: self.pslot(t.scale),
                    };
                    self.push(l, kind, x, y);
                    y
                }
                LayerKind::Relu
                | LayerKind::LeakyRelu { .. }
                | LayerKind::Tanh
                | LayerKind::Sigmoid
                | LayerKind::Relu6
                | LayerKind::Silu
                | LayerKind::Hardswish
                | LayerKind::Hardsigmoid
                | LayerKind::Gelu { .. } => {
                    let act = act_of(&l.kind).unwrap_or(Act::Identity);
                    // In place unless the value is read elsewhere, or its
                    // producer's backward needs it as it is, or this
                    // activation's backward needs its input.
                    let in_place = match self.mode {
                        Mode::Infer => self.uses[x] == 1,
                        Mode::Train => {
                            self.uses[x] == 1
                                && !self.reads_output[x]
                                && !self.tapped[x]
                                && !act.needs_input()
                        }
                    };
                    let y = if in_place { x } else { self.shaped(output) };
                    self.push(l, OpKind::Activation { act }, x, y);
                    y
                }
                LayerKind::L2Normalize => {
                    let c = output.channels();
                    let y = self.shaped(output);
                    let kind = OpKind::L2Normalize {
                        rows: output.len() / c.max(1),
                        c,
                    };
                    self.push(l, kind, x, y);
                    y
                }
                LayerKind::Softmax => {
                    let c = output.channels();
                    let y = self.shaped(output);
                    let kind = OpKind::Softmax {
                        rows: output.len() / c.max(1),
                        classes: c,
                    };
                    self.push(l, kind, x, y);
                    y
                }
                LayerKind::MaxPool2d { .. } => {
                    // The winners are only read by backward: inference
                    // pools without recording them (`max_forward_values`).
                    let volume = matches!(l.kind, LayerKind::MaxPool2d { depth: Some(_), .. });
                    let argmax = if self.mode == Mode::Infer && !volume {
                        Slot { offset: 0, len: 0 }
                    } else {
                        self.u.alloc(output.len())
                    };
                    let y = self.shaped(output);
                    let g = geom(input, output, l);
                    self.push(l, OpKind::MaxPool { g, argmax }, x, y);
                    y
                }
                LayerKind::AvgPool2d { .. } => {
                    let y = self.shaped(output);
                    self.push(
                        l,
                        OpKind::AvgPool {
                            g: geom(input, output, l),
                        },
                        x,
                        y,
                    );
                    y
                }
                LayerKind::GlobalAvgPool => {
                    let c = input.channels();
                    let y = self.shaped(output);
                    let kind = OpKind::GlobalAvgPool {
                        hw: input.len() / c.max(1),
                        c,
                    };
                    self.push(l, kind, x, y);
                    y
                }
                LayerKind::Upsample {
                    scale,
                    scale_depth,
                    mode,
                    ..
                } => {
                    let Shape::Image { h, w, c, depth, .. } = input else {
                        unreachable!("the checker gives Upsample an image")
                    };
                    let y = self.shaped(output);
                    let kind = OpKind::Upsample {
                        depth: depth.zip(*scale_depth),
                        in_h: h,
                        in_w: w,
                        c,
                        sh: scale[0],
                        sw: scale[1],
                        bilinear: *mode != crate::ir::UpsampleMode::Nearest,
                    };
                    self.push(l, kind, x, y);
                    y
                }
                // A view: NHWC is already the flat order.
                LayerKind::Flatten => {
                    self.uses[x] -= 1;
                    x
                }
                LayerKind::Dropout { rate } if *rate > 0.0 => {
                    let mask = self.f.alloc(output.len());
                    let y = self.shaped(output);
                    self.dropouts += 1;
                    let kind = OpKind::Dropout {
                        rate: *rate,
                        mask,
                        index: self.dropouts,
                    };
                    self.push(l, kind, x, y);
                    y
                }
                LayerKind::Dropout { .. } => {
                    self.uses[x] -= 1;
                    x
                }
                LayerKind::Residual { body, shortcut } => {
                    self.residual(l, body, shortcut, x, output)
                }
                LayerKind::Concat { branches } => self.concat(l, branches, x, output),
                LayerKind::AuxHead { weight, layers } => self.aux_head(layers, *weight, x),
                LayerKind::Gate { body } => self.gate(l, body, x, input),
                LayerKind::Sequential { .. } => {
                    unreachable!("`kept` opens groups up before planning")
                }
            };
            // Taps of this layer or of those fused into it read x.
            for done in &layers[start..i] {
                if let Some(&k) = self.anchors.get(&done.name) {
                    self.prog.taps[k] = x;
                    self.tapped[x] = true;
                }
            }
        }
        x
    }

    /// `body(x) + shortcut(x)` (an empty shortcut is `x`).
    fn residual(
        &mut self,
        l: &Layer,
        body: &[Layer],
        shortcut: &[Layer],
        x: usize,
        output: Shape,
    ) -> usize {
        let body = self.kept(body);
        let shortcut = self.kept(shortcut);
        let a = self.block(&body, x);
        let b = self.block(&shortcut, x);
        let y = self.shaped(output);
        self.uses[a] += 1;
        self.uses[b] += 1;
        self.push(l, OpKind::Add { other: b }, a, y);
        // The block's hold on its input ends.
        self.release(x, y);
        y
    }

    /// `x * body(x)`: the body's output broadcast over the positions when
    /// it is one factor per channel, element by element when it has the
    /// input's length.
    fn gate(&mut self, l: &Layer, body: &[Layer], x: usize, input: Shape) -> usize {
        let body = self.kept(body);
        let g = self.block(&body, x);
        let factors = self.prog.values[g].slot.len;
        let (hw, c) = if factors == input.len() {
            (1, factors)
        } else {
            (input.len() / factors.max(1), factors)
        };
        let y = self.shaped(input);
        // The gate reads the body's output; the block's hold on x stands
        // for its read of x.
        self.uses[g] += 1;
        self.push(l, OpKind::Gate { other: g, hw, c }, x, y);
        y
    }

    /// Each branch on `x`, written into its channels of the output.
    fn concat(&mut self, l: &Layer, branches: &[Vec<Layer>], x: usize, output: Shape) -> usize {
        let c_total = output.channels();
        let rows = output.len() / c_total.max(1);
        let mut outs = Vec::new();
        for branch in branches {
            let kept = self.kept(branch);
            outs.push(self.block(&kept, x));
        }
        let y = self.shaped(output);
        let mut offset = 0;
        for out in outs {
            // Branches keep the height and width: the rest is channels.
            let c_part = self.prog.values[out].slot.len / rows.max(1);
            self.uses[out] += 1;
            let kind = OpKind::ConcatPart {
                rows,
                c_total,
                offset,
                c_part,
            };
            self.push(l, kind, out, y);
            offset += c_part;
        }
        self.release(x, y);
        y
    }

    /// A side classifier on `x`, with its own loss, in training; skipped at
    /// inference. The main path goes on from `x`.
    fn aux_head(&mut self, layers: &[Layer], weight: f64, x: usize) -> usize {
        match self.mode {
            Mode::Infer => self.uses[x] -= 1,
            // The hold on x is kept for good: the head's backward may read
            // x, so no later activation may overwrite it in place.
            Mode::Train => {
                let kept = self.kept(layers);
                self.loss_body(&kept, x, weight, false);
            }
        }
        x
    }

    /// The activation a convolution or dense layer may take into its
    /// kernel call. In training, not one whose backward needs its input:
    /// the fused kernel keeps only the output, so the activation runs as
    /// its own op on the kept pre-activation (batch norm recomputes its
    /// pre-activation in backward and fuses every activation).
    fn fusable(&self, kind: &LayerKind) -> Option<Act> {
        act_of(kind).filter(|a| self.mode == Mode::Infer || !a.needs_input())
    }

    fn pslot(&self, t: Option<usize>) -> Slot {
        let t = &self.params.tensors[t.expect("a layer with parameters has its tensors laid out")];
        Slot {
            offset: t.offset,
            len: t.len(),
        }
    }

    /// A group or layer norm on `input` (a layer norm's positions are its
    /// examples; a flat input is one position).
    fn norm(&self, l: &Layer, input: Shape) -> OpKind {
        let t = self.params.of(&l.name);
        let c = input.channels();
        let positions = input.len() / c.max(1);
        let (layer_norm, n, hw, groups, eps) = match l.kind {
            LayerKind::GroupNorm { groups, epsilon } => (false, 1, positions, groups, epsilon),
            LayerKind::LayerNorm { epsilon } => (true, positions, 1, 1, epsilon),
            _ => unreachable!("norm is planned for GroupNorm and LayerNorm"),
        };
        OpKind::Norm {
            layer_norm,
            n,
            hw,
            c,
            groups,
            gamma_tensor: t.gamma.expect("a norm layer has its tensors laid out"),
            gamma: self.pslot(t.gamma),
            beta: self.pslot(t.beta),
            eps,
        }
    }

    fn bn(&self, l: &Layer) -> Bn {
        let t = self.params.of(&l.name);
        let (eps, momentum) = match l.kind {
            LayerKind::BatchNorm { epsilon, momentum } => (epsilon, momentum),
            _ => (1e-3, 0.99),
        };
        Bn {
            gamma_tensor: t.gamma.expect("a batch norm has its tensors laid out"),
            gamma: self.pslot(t.gamma),
            beta: self.pslot(t.beta),
            mean: self.pslot(t.moving_mean),
            var: self.pslot(t.moving_variance),
            eps,
            momentum,
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
        LayerKind::Relu6 => Some(Act::Relu6),
        LayerKind::Silu => Some(Act::Silu),
        LayerKind::Hardswish => Some(Act::Hardswish),
        LayerKind::Hardsigmoid => Some(Act::Hardsigmoid),
        LayerKind::Gelu { tanh: false } => Some(Act::Gelu),
        LayerKind::Gelu { tanh: true } => Some(Act::GeluTanh),
        _ => None,
    }
}

/// The geometry of a convolution or pooling layer from its checked shapes.
fn geom(input: Shape, output: Shape, l: &Layer) -> Geom {
    let (
        Shape::Image {
            h,
            w,
            c,
            depth: in_d,
            ..
        },
        Shape::Image {
            h: oh,
            w: ow,
            c: oc,
            depth: out_d,
            ..
        },
    ) = (input, output)
    else {
        unreachable!("the checker gives spatial layers image shapes")
    };
    let depth = match (&l.kind, in_d, out_d) {
        (
            LayerKind::Conv2d {
                depth: Some(dp), ..
            }
            | LayerKind::MaxPool2d {
                depth: Some(dp), ..
            }
            | LayerKind::AvgPool2d {
                depth: Some(dp), ..
            }
            | LayerKind::ConvTranspose2d {
                depth: Some(dp), ..
            },
            Some(in_d),
            Some(out_d),
        ) => Some(DepthGeom {
            in_d,
            out_d,
            fd: dp.f,
            sd: dp.s,
            pad_front: dp.pad_front,
            dd: dp.d,
            out_pad: dp.output_padding,
        }),
        _ => None,
    };
    let (k, s, d) = match &l.kind {
        LayerKind::Conv2d {
            kernel,
            stride,
            dilation,
            ..
        }
        | LayerKind::ConvTranspose2d {
            kernel,
            stride,
            dilation,
            ..
        } => (*kernel, *stride, *dilation),
        LayerKind::MaxPool2d { size, stride, .. } | LayerKind::AvgPool2d { size, stride, .. } => {
            (*size, *stride, [1, 1])
        }
        _ => ([1, 1], [1, 1], [1, 1]),
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
        dh: d[0],
        dw: d[1],
        depth,
    }
}
