"""Builds the PyTorch fixture of tests/volumes.rs: C3dSmall, the 3D network
of the clips example and of the `c3d_train_b8` bench workload (the PyTorch
peer's `C3dSmall`: three 3x3x3 convolutions of 16, 32 and 64 filters with
batch norm and ReLU, 2x2x2 max pooling after the first two, global average
pooling, 40 classes), on two clips of 16 frames of 32x32.

Writes into tests/fixtures/volume/:
  c3d_state_dict.safetensors  the network's weights and batch norm
                              statistics (PyTorch's names and layouts:
                              Conv3d [out, in, d, h, w], Linear [out, in])
  c3d_grads.safetensors       `x` [2, 16, 32, 32, 1] (NDHWC), `target`
                              [2, 40], and through a training-mode forward
                              pass: `output` [2, 40] (the class
                              probabilities, after the softmax our
                              declaration ends in), the mean squared
                              error `loss`, `dx` (NDHWC) and each
                              parameter's gradient in *our* layout under our
                              tensor's name (Conv3d [d, h, w, in, out],
                              Linear [in, out]); `eval_output`, the
                              inference-mode output (moving statistics);
                              and two SGD steps (lr 0.01, momentum 0.9) of
                              the cross-entropy against `labels` from the
                              same weights: `step_losses` [2], and every
                              tensor after them under `after.<name>` (batch
                              norm's moving statistics included, updated
                              with PyTorch's momentum 0.1)

Run: /root/.venvs/torch/bin/python scripts/make_volume_fixture.py
The test reads only the committed files.
"""

import copy
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(24)
torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "volume"
CLASSES = 40


class C3dSmall(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv3d(1, 16, 3, padding=1), nn.BatchNorm3d(16)
        self.c2, self.b2 = nn.Conv3d(16, 32, 3, padding=1), nn.BatchNorm3d(32)
        self.c3, self.b3 = nn.Conv3d(32, 64, 3, padding=1), nn.BatchNorm3d(64)
        self.fc = nn.Linear(64, CLASSES)

    def forward(self, x):
        x = F.max_pool3d(F.relu(self.b1(self.c1(x))), 2)
        x = F.max_pool3d(F.relu(self.b2(self.c2(x))), 2)
        x = F.relu(self.b3(self.c3(x)))
        return self.fc(x.mean((2, 3, 4)))


net = C3dSmall()
with torch.no_grad():
    for bn in (net.b1, net.b2, net.b3):
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 1.5)
    # What the test loads is float32: compute from exactly those values.
    for t in list(net.parameters()) + list(net.buffers()):
        if t.is_floating_point():
            t.copy_(t.float().double())
start = copy.deepcopy(net.state_dict())
x = torch.rand(2, 1, 16, 32, 32).float().double()
target = torch.randn(2, CLASSES).float().double()
labels = torch.tensor([7, 31])

net.eval()
with torch.no_grad():
    eval_output = F.softmax(net(x), 1)

net.train()
xg = x.clone().requires_grad_(True)
out = F.softmax(net(xg), 1)
loss = F.mse_loss(out, target)
loss.backward()

f32 = lambda t: t.detach().to(torch.float32).contiguous()
conv = lambda w: f32(w.permute(2, 3, 4, 1, 0))  # [out, in, d, h, w] -> [d, h, w, in, out]
ndhwc = lambda t: f32(t.permute(0, 2, 3, 4, 1))


def ours(params):
    """Our tensor names and layouts from (name, tensor) pairs of PyTorch's."""
    out = {}
    for name, t in params:
        layer, what = name.split(".")
        if layer.startswith("c"):
            out[name] = conv(t) if what == "weight" else f32(t)
        elif layer.startswith("b"):
            key = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
                   "running_var": "moving_variance"}.get(what)
            if key:
                out[f"{layer}.{key}"] = f32(t)
        else:
            out[name] = f32(t.t()) if what == "weight" else f32(t)
    return out


grads = ours((n, p.grad) for n, p in net.named_parameters())
grads.update({
    "x": ndhwc(x),
    "target": f32(target),
    "loss": f32(loss.reshape(1)),
    "output": f32(out),
    "dx": ndhwc(xg.grad),
    "eval_output": f32(eval_output),
})

# Two training steps from the same weights, as `train_step` takes them.
stepper = C3dSmall()
stepper.load_state_dict(start)
stepper.train()
opt = torch.optim.SGD(stepper.parameters(), lr=0.01, momentum=0.9)
losses = []
for _ in range(2):
    opt.zero_grad()
    step_loss = F.cross_entropy(stepper(x), labels)
    step_loss.backward()
    opt.step()
    losses.append(step_loss.item())
grads["labels"] = f32(labels.double())
grads["step_losses"] = f32(torch.tensor(losses))
after = ours(stepper.state_dict().items())
grads.update({f"after.{k}": v for k, v in after.items()})

state = {k: f32(v) for k, v in start.items() if not k.endswith("num_batches_tracked")}
OUT.mkdir(parents=True, exist_ok=True)
save_file(state, str(OUT / "c3d_state_dict.safetensors"))
save_file(grads, str(OUT / "c3d_grads.safetensors"))
print("loss", loss.item(), "step losses", losses)
