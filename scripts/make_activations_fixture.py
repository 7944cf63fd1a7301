"""Builds the PyTorch fixture of tests/activations.rs: a small network with
every activation of issue 25 (ReLU6, SiLU, hardswish, hardsigmoid, GELU
exact and tanh) and L2 normalisation, each where our planner fuses it
(after a convolution, a batch norm, a Linear) or on its own, with weights
wide enough that the batch reaches every piece of the piecewise ones; the output
and the gradients of a mean squared error in training mode (batch norm on
the batch's statistics), and the output in eval mode (moving statistics).

Writes into tests/fixtures/activations/:
  state_dict.safetensors  the network's weights (PyTorch's names, layouts)
  net.onnx                PyTorch's own ONNX export of it (opset 17, eval)
  data.safetensors        `x` [2, 5, 4, 3] (NHWC), `target` [2, 3], `loss`,
                          `output` [2, 3] (train mode), `output_eval`,
                          `dx` [2, 5, 4, 3] (NHWC), and each parameter's
                          gradient in *our* layout under our tensor's name

Run: /root/.venvs/torch/bin/python scripts/make_activations_fixture.py
The test reads only the committed files.
"""

import copy
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(25)
torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "activations"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 1)
        self.bn = nn.BatchNorm2d(4, eps=1e-3)
        self.conv3 = nn.Conv2d(4, 6, 3, stride=2, padding=1)
        self.fc1 = nn.Linear(6 * 3 * 2, 5)
        self.fc2 = nn.Linear(5, 4)
        self.fc3 = nn.Linear(4, 3)

    def pieces(self, x):
        """The inputs of the piecewise activations."""
        relu6 = self.conv1(x)
        hardswish = self.bn(self.conv2(F.relu6(relu6)))
        y = F.silu(self.conv3(F.gelu(F.hardswish(hardswish))))
        y = F.normalize(y, dim=1)  # per position, over the channels
        y = F.gelu(self.fc1(torch.flatten(y, 1)), approximate="tanh")
        hardsigmoid = self.fc2(y)
        return relu6, hardswish, hardsigmoid

    def forward(self, x):
        _, _, h = self.pieces(x)
        return F.normalize(self.fc3(F.hardsigmoid(h)), dim=1)


net = Net()
with torch.no_grad():
    net.bn.weight.uniform_(1.5, 3.5)
    net.bn.bias.uniform_(-0.5, 0.5)
    net.bn.running_mean.uniform_(-0.2, 0.2)
    net.bn.running_var.uniform_(0.5, 1.5)
    # Wider weights than PyTorch's default, so that every piece of the
    # piecewise activations (ReLU6's cap, hardswish's flat and linear
    # parts) is reached.
    for m in [net.conv1, net.conv3, net.fc3]:
        m.weight.mul_(3.0)
    for m in [net.fc1, net.fc2]:
        m.weight.mul_(8.0)
    # What the test loads is float32: compute from exactly those values.
    for p in net.parameters():
        p.copy_(p.float().double())
    for b in net.buffers():
        if b.is_floating_point():
            b.copy_(b.float().double())
state = {k: v.detach().float().contiguous() for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}

x = (2.0 * torch.randn(2, 3, 5, 4)).float().double().requires_grad_(True)
target = torch.randn(2, 3).float().double()
net.eval()
with torch.no_grad():
    out_eval = net(x)
# The same network exported by PyTorch at opset 17 (GELU as Erf, SiLU as
# Sigmoid and Mul, F.normalize as ReduceL2, Clip, Expand and Div), which
# tests/activations.rs imports with `from_onnx`; exported before the
# training pass below moves the moving statistics.
torch.onnx.export(
    copy.deepcopy(net).float(),
    (x.detach().float(),),
    str(OUT / "net.onnx"),
    opset_version=17,
    input_names=["x"],
    output_names=["y"],
    dynamo=False,
)
net.train()
out = net(x)
loss = F.mse_loss(out, target)
loss.backward()

f32 = lambda t: t.detach().to(torch.float32).contiguous()
conv = lambda g: f32(g.permute(2, 3, 1, 0))  # [out, in, kh, kw] -> [kh, kw, in, out]
# Linear [out, c*h*w] -> [h*w*c, out]
fc1 = net.fc1.weight.grad.reshape(5, 6, 3, 2).permute(2, 3, 1, 0).reshape(3 * 2 * 6, 5)
data = {
    "x": f32(x.permute(0, 2, 3, 1)),
    "target": f32(target),
    "loss": f32(loss.reshape(1)),
    "output": f32(out),
    "output_eval": f32(out_eval),
    "dx": f32(x.grad.permute(0, 2, 3, 1)),
    "conv1.weight": conv(net.conv1.weight.grad),
    "conv1.bias": f32(net.conv1.bias.grad),
    "conv2.weight": conv(net.conv2.weight.grad),
    "conv2.bias": f32(net.conv2.bias.grad),
    "bn.gamma": f32(net.bn.weight.grad),
    "bn.beta": f32(net.bn.bias.grad),
    "conv3.weight": conv(net.conv3.weight.grad),
    "conv3.bias": f32(net.conv3.bias.grad),
    "fc1.weight": f32(fc1),
    "fc1.bias": f32(net.fc1.bias.grad),
    "fc2.weight": f32(net.fc2.weight.grad.t()),
    "fc2.bias": f32(net.fc2.bias.grad),
    "fc3.weight": f32(net.fc3.weight.grad.t()),
    "fc3.bias": f32(net.fc3.bias.grad),
}
OUT.mkdir(parents=True, exist_ok=True)
save_file(state, str(OUT / "state_dict.safetensors"))
save_file(data, str(OUT / "data.safetensors"))

# How much of each piece the batch reaches (the fixture is only worth as
# much as the pieces it covers).
with torch.no_grad():
    relu6, hardswish, hardsigmoid = net.pieces(x)
    print("relu6 input: < 0", (relu6 < 0).sum().item(), "in (0, 6)", ((relu6 > 0) & (relu6 < 6)).sum().item(), "> 6", (relu6 > 6).sum().item())
    for name, v in [("hardswish", hardswish), ("hardsigmoid", hardsigmoid)]:
        print(name, "input: <= -3", (v <= -3).sum().item(), "between", ((v > -3) & (v < 3)).sum().item(), ">= 3", (v >= 3).sum().item())
print("loss", loss.item())
print("output", out)

