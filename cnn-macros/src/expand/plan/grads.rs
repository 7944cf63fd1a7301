//! The backward planner: walks the ops in reverse and decides where each
//! gradient lives. Each loss writes its logits' gradient; an op reads its
//! output's gradient and writes its input's, in place for an activation; a
//! gradient slot is reused once its reader has run. A value read by several
//! ops (a block's input, a residual's operands) gets the first gradient to
//! arrive, and the others are added into it (`Step::AddInto`); every reader
//! of a value comes after it in forward order, so its gradient is complete
//! before its producer's backward reads it.

use super::build::Planner;
use super::{Back, OpKind, Slot, Step, TapStep};

impl Planner<'_> {
    pub(super) fn plan_grads(&mut self) {
        let mut first = Vec::new();
        for k in 0..self.prog.losses.len() {
            let loss = self.prog.losses[k];
            let slot = self.f.alloc(loss.classes);
            self.prog.losses[k].dlogits = slot;
            self.contribute(loss.logits, slot, &mut first);
        }
        self.prog.loss_steps = first;
        // The op after which each tap's gradient is complete: the last
        // that writes its value (its readers all come later in forward
        // order, so earlier in backward).
        let mut producer = vec![usize::MAX; self.prog.values.len()];
        for (i, op) in self.prog.ops.iter().enumerate() {
            producer[op.y] = i;
        }
        for i in (0..self.prog.ops.len()).rev() {
            let op = self.prog.ops[i].clone();
            let (x, y) = (op.x, op.y);
            if !self.prog.values[y].needs_grad {
                continue;
            }
            let mut taps = Vec::new();
            for k in 0..self.prog.taps.len() {
                let v = self.prog.taps[k];
                if producer[v] != i {
                    continue;
                }
                let (into, first) = match self.prog.values[v].grad {
                    Some(g) => (g, false),
                    None => {
                        let g = self.f.alloc(self.prog.values[v].slot.len);
                        self.prog.values[v].grad = Some(g);
                        (g, true)
                    }
                };
                taps.push(TapStep {
                    tap: k,
                    into,
                    first,
                });
            }
            let dy = self.prog.values[y]
                .grad
                .expect("a gradient arrives before its reader's backward");
            let x_needs = self.prog.values[x].needs_grad;
            let mut after = Vec::new();
            let mut dother = None;
            let dx = match op.kind {
                OpKind::Gate { other, .. } => {
                    // Two gradients from one kernel: temporaries are freed
                    // only once both slots are handed out, so they differ
                    // even when the body is the identity (`other == x`).
                    let mut temps = Vec::new();
                    if self.prog.values[other].needs_grad {
                        dother = Some(self.target_kept(other, &mut after, &mut temps));
                    }
                    let dx = x_needs.then(|| self.target_kept(x, &mut after, &mut temps));
                    temps.into_iter().for_each(|t| self.f.free(t));
                    self.f.free(dy);
                    dx
                }
                OpKind::Add { other } => {
                    // Both operands get dy: a copy for one, dy itself for
                    // the other (freed if it is added somewhere instead).
                    if self.prog.values[other].needs_grad {
                        self.contribute_copy(other, dy, &mut after);
                    }
                    if x_needs {
                        self.contribute(x, dy, &mut after);
                    } else {
                        self.f.free(dy);
                    }
                    None
                }
                OpKind::Activation { .. } => {
                    // In place on the upstream gradient (which is already
                    // x's when the forward ran in place too).
                    if x != y {
                        self.contribute(x, dy, &mut after);
                    }
                    Some(dy)
                }
                OpKind::ConcatPart { offset, .. } => {
                    let dx = x_needs.then(|| self.target(x, &mut after));
                    // The first part is planned last: dy is done with.
                    if offset == 0 {
                        self.f.free(dy);
                    }
                    dx
                }
                _ => {
                    let is_bn = matches!(op.kind, OpKind::BatchNorm { .. });
                    let dx = if x_needs {
                        Some(self.target(x, &mut after))
                    } else if is_bn {
                        // Scratch: the batch norm kernel always writes dx.
                        let s = self.f.alloc(self.prog.values[x].slot.len);
                        self.f.free(s);
                        Some(s)
                    } else {
                        None
                    };
                    self.f.free(dy);
                    dx
                }
            };
            self.prog.back.push(Back {
                op: i,
                dy,
                dx,
                dother,
                after,
                taps,
            });
        }
    }

    /// Where a kernel writes its part of `v`'s gradient: the gradient
    /// itself when this is the first part, else a temporary that is added
    /// into it after the kernel.
    fn target(&mut self, v: usize, after: &mut Vec<Step>) -> Slot {
        let mut temps = Vec::new();
        let slot = self.target_kept(v, after, &mut temps);
        // Reusable once this op's steps have run.
        temps.into_iter().for_each(|t| self.f.free(t));
        slot
    }

    /// [`Planner::target`], a temporary left in `temps` for the caller to
    /// free once the op's other slots are handed out.
    fn target_kept(&mut self, v: usize, after: &mut Vec<Step>, temps: &mut Vec<Slot>) -> Slot {
        let len = self.prog.values[v].slot.len;
        let slot = self.f.alloc(len);
        match self.prog.values[v].grad {
            None => self.prog.values[v].grad = Some(slot),
            Some(into) => {
                after.push(Step::AddInto { into, from: slot });
                temps.push(slot);
            }
        }
        slot
    }

    /// `v`'s gradient gets `g` (which holds a contribution and is not
    /// needed afterwards): it becomes the gradient, or is added into it.
    fn contribute(&mut self, v: usize, g: Slot, after: &mut Vec<Step>) {
        match self.prog.values[v].grad {
            None => self.prog.values[v].grad = Some(g),
            Some(into) => {
                after.push(Step::AddInto { into, from: g });
                self.f.free(g);
            }
        }
    }

    /// `v`'s gradient gets `g`, which stays in use elsewhere: a copy, or an
    /// addition.
    fn contribute_copy(&mut self, v: usize, g: Slot, after: &mut Vec<Step>) {
        match self.prog.values[v].grad {
            None => {
                let to = self.f.alloc(g.len);
                self.prog.values[v].grad = Some(to);
                after.push(Step::Copy { from: g, to });
            }
            Some(into) => after.push(Step::AddInto { into, from: g }),
        }
    }
}
