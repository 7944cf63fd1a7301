"""Builds the PyTorch fixture of cnn-runtime/src/loss/pytorch_tests.rs.

For every built-in loss of `cnn_runtime::loss`, small seeded inputs and
targets, and PyTorch's own value and gradient for them (the mean loss, and
its gradient with respect to the outputs from autograd), computed in
float64 from the float32 inputs and stored as float32:

  cross-entropy   F.cross_entropy: class labels, a label map (batch 3, 5x4
                  positions, 6 channels, NHWC here and permuted to NCHW
                  for PyTorch), probability targets, label smoothing
  binary          F.binary_cross_entropy_with_logits: values in [0, 1], and
                  a 0/1 label map on a one-channel output
  regression      F.mse_loss, F.huber_loss, F.smooth_l1_loss (beta 0.5 and 0)
  localization    the course's loss written from those functions: BCE on pc,
                  and where the target pc is 1, summed squared error on the
                  box plus cross-entropy on the class; rows summed per
                  example, mean over examples

Several cases hold logits of magnitude 1e4 (and 30 to 80 for the sigmoid),
where a naive softmax or log(sigmoid) overflows, to prove stability.

Each case `c` is stored as tensors named
  c/output  the network outputs (logits), [batch, *shape]
  c/target  labels (as float32) or values
  c/kind    [k]: 0 Target::Classes, 1 Target::LabelMap, 2 Target::Values
  c/shape   one example's shape
  c/params  the loss's settings (label_smoothing, delta, beta, or the
            localization weights presence, box, class)
  c/loss    [1], PyTorch's mean loss
  c/grad    PyTorch's gradient, laid out as c/output

Run from the repository root:
  /root/.venvs/torch/bin/python scripts/make_loss_fixture.py
It writes tests/fixtures/loss/losses.safetensors; the Rust test reads only
that file.
"""

from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

CLASSES, LABEL_MAP, VALUES = 0, 1, 2

torch.manual_seed(20240611)
tensors = {}


def case(name, loss_name, output, target, kind, shape, params, fn):
    """Records `fn(output64, target64)`'s value and gradient for `output`."""
    output = output.to(torch.float32)
    target = target.to(torch.float32)
    x = output.to(torch.float64).requires_grad_(True)
    loss = fn(x, target.to(torch.float64))
    loss.backward()
    tensors[f"{name}/output"] = output.clone()
    tensors[f"{name}/target"] = target.clone()
    tensors[f"{name}/kind"] = torch.tensor([kind], dtype=torch.float32)
    tensors[f"{name}/shape"] = torch.tensor(shape, dtype=torch.float32)
    tensors[f"{name}/params"] = torch.tensor(params, dtype=torch.float32)
    tensors[f"{name}/loss"] = loss.detach().reshape(1).to(torch.float32)
    tensors[f"{name}/grad"] = x.grad.to(torch.float32).contiguous()
    print(f"{name:20} {loss_name:22} loss {loss.item():.6g}")


def nchw(x):
    """Our NHWC layout to PyTorch's NCHW (the channels after the batch)."""
    return x.permute(0, x.dim() - 1, *range(1, x.dim() - 1))


# Cross-entropy on class labels: 5 examples of 7 classes, one row of huge
# logits.
logits = torch.randn(5, 7) * 3
logits[3] = torch.tensor([1e4, -1e4, 0.0, 5e3, 1e4 - 2.0, -3e4, 2e4])
labels = torch.randint(0, 7, (5,))
labels[3] = 1
for name, smoothing in [("ce_classes", 0.0), ("ce_classes_smooth", 0.1)]:
    case(name, "cross_entropy", logits, labels, CLASSES, [7], [smoothing],
         lambda x, t, e=smoothing: F.cross_entropy(x, t.long(), label_smoothing=e))

# Cross-entropy on a label map: batch 3, 5x4 positions, 6 channels, one
# position of huge logits.
logits = torch.randn(3, 5, 4, 6) * 2
logits[1, 2, 3] = torch.tensor([-1e4, 1e4, 3e3, 0.0, 1e4, -2e4])
labels = torch.randint(0, 6, (3, 5, 4))
for name, smoothing in [("ce_map", 0.0), ("ce_map_smooth", 0.2)]:
    case(name, "cross_entropy", logits, labels, LABEL_MAP, [5, 4, 6], [smoothing],
         lambda x, t, e=smoothing: F.cross_entropy(nchw(x), t.long(), label_smoothing=e))

# Cross-entropy on probability rows (soft targets), per example and per
# position.
logits = torch.randn(4, 5) * 3
logits[2] = torch.tensor([1e4, -1e4, 2e4, 0.0, 1.5e4])
probs = torch.softmax(torch.randn(4, 5) * 2, dim=1)
case("ce_soft", "cross_entropy", logits, probs, VALUES, [5], [0.0],
     lambda x, t: F.cross_entropy(x, t))
logits = torch.randn(2, 3, 2, 4) * 2
probs = torch.softmax(torch.randn(2, 3, 2, 4), dim=3)
case("ce_soft_map", "cross_entropy", logits, probs, VALUES, [3, 2, 4], [0.15],
     lambda x, t: F.cross_entropy(nchw(x), nchw(t), label_smoothing=0.15))

# Binary cross-entropy: multi-label values (some exactly 0 or 1, some soft)
# with large logits, and a one-channel 0/1 label map.
logits = torch.randn(4, 6) * 3
logits[1] = torch.tensor([1e4, -1e4, 30.0, -30.0, 80.0, -80.0])
values = torch.rand(4, 6)
values[0] = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.5, 1.0])
values[1] = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
case("bce", "binary_cross_entropy", logits, values, VALUES, [6], [],
     lambda x, t: F.binary_cross_entropy_with_logits(x, t))
logits = torch.randn(3, 5, 4, 1) * 2
mask = torch.randint(0, 2, (3, 5, 4))
case("bce_map", "binary_cross_entropy", logits, mask, LABEL_MAP, [5, 4, 1], [],
     lambda x, t: F.binary_cross_entropy_with_logits(x, t.reshape(x.shape)))

# Regression: errors spread across both sides of delta and beta.
out = torch.randn(3, 4, 2) * 1.5
tgt = torch.randn(3, 4, 2)
case("mse", "mse", out, tgt, VALUES, [4, 2], [], lambda x, t: F.mse_loss(x, t))
out = torch.randn(3, 5) * 1.5
tgt = torch.randn(3, 5)
case("huber", "huber", out, tgt, VALUES, [5], [0.7],
     lambda x, t: F.huber_loss(x, t, delta=0.7))
case("smooth_l1", "smooth_l1", out, tgt, VALUES, [5], [0.5],
     lambda x, t: F.smooth_l1_loss(x, t, beta=0.5))
case("smooth_l1_beta0", "smooth_l1", out, tgt, VALUES, [5], [0.0],
     lambda x, t: F.smooth_l1_loss(x, t, beta=0.0))


def localization(pw, bw, cw, width):
    """The course's loss from PyTorch's functions; the rows of one example
    are summed, then the mean is over the examples."""

    def fn(x, t):
        batch = x.shape[0]
        o, t = x.reshape(-1, width), t.reshape(-1, width)
        has = t[:, 0] == 1
        presence = F.binary_cross_entropy_with_logits(o[:, 0], t[:, 0], reduction="none")
        box = F.mse_loss(o[:, 1:5], t[:, 1:5], reduction="none").sum(dim=1)
        cls = F.cross_entropy(o[:, 5:], t[:, 5:], reduction="none")
        # torch.where, not a product with pc: the box and class targets of
        # rows without an object are garbage and must not reach the loss.
        rows = pw * presence + torch.where(has, bw * box + cw * cls, torch.zeros_like(box))
        return rows.sum() / batch

    return fn


def localization_rows(rows, classes):
    """Outputs and targets `[pc, bx, by, bh, bw, c_1..c_K]`: about half the
    targets with an object; the others hold garbage after pc."""
    width = 5 + classes
    out = torch.randn(rows, width) * 2
    tgt = torch.full((rows, width), 9.0)
    has = torch.rand(rows) < 0.5
    has[0], has[1] = True, False
    tgt[:, 0] = has.float()
    box = torch.rand(rows, 4)
    onehot = F.one_hot(torch.randint(0, classes, (rows,)), classes).float()
    tgt[has, 1:5] = box[has]
    tgt[has, 5:] = onehot[has]
    return out, tgt


out, tgt = localization_rows(6, 3)
# Huge logits on pc and on the classes of a row with an object, and on pc of
# a row without one.
out[0, 0], out[0, 5:] = -1e4, torch.tensor([1e4, -1e4, 2e4])
out[1, 0] = 1e4
for name, w in [("loc", [1.0, 1.0, 1.0]), ("loc_weighted", [0.5, 2.0, 1.5])]:
    case(name, "localization", out, tgt, VALUES, [8], w, localization(*w, 8))
out, tgt = localization_rows(2 * 3 * 3, 3)
case("loc_grid", "localization", out.reshape(2, 3, 3, 8), tgt.reshape(2, 3, 3, 8),
     VALUES, [3, 3, 8], [1.0, 1.0, 1.0], localization(1.0, 1.0, 1.0, 8))

path = Path(__file__).resolve().parent.parent / "tests/fixtures/loss/losses.safetensors"
path.parent.mkdir(parents=True, exist_ok=True)
save_file(tensors, str(path))
print(f"wrote {len(tensors)} tensors to {path}")
