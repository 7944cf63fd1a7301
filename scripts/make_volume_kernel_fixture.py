"""Builds the PyTorch fixture of cnn-runtime's 3-D kernels
(cnn-runtime/src/layers/volume_fixture_tests.rs): PyTorch's Conv3d,
MaxPool3d and AvgPool3d on fixed random volumes, with the gradients of
`loss = sum(y * r)` for a fixed random `r`.

  conv_a   Conv3d(4, 6, kernel (3, 2, 3), stride (2, 1, 2), padding (1, 0, 1),
           dilation (1, 2, 1), groups 2) on a batch of 3 volumes 5x7x6
  conv_b   Conv3d(1, 3, kernel 3, padding 1) on a batch of 2 volumes 4x5x5
  max      MaxPool3d(3, stride 2, padding 1) on 3 volumes 5x7x6x2
  avg      AvgPool3d((2, 3, 2), stride 2, padding 1, count_include_pad=False)
           (padding never counted, as our pools do) on the same volumes

Writes tests/fixtures/volume/kernels.safetensors with, per case, `<case>.x`
(NDHWC), `<case>.r` and `<case>.y` (NDHWC), `<case>.dx` (NDHWC) and for the
convolutions `<case>.w`, `<case>.dw` in our layout [kd, kh, kw, in/groups,
out], `<case>.weight` in PyTorch's [out, in/groups, kd, kh, kw] (which
load_state_dict's test converts) and `<case>.b`, `<case>.db`. Computed in
float64, stored as float32.

Run: /root/.venvs/torch/bin/python scripts/make_volume_kernel_fixture.py
The test reads only the committed file.
"""

from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import save_file

torch.manual_seed(3)
torch.set_default_dtype(torch.float64)
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "volume"


def ndhwc(t):
    """NCDHW -> NDHWC."""
    return t.permute(0, 2, 3, 4, 1).contiguous()


def run(name, layer, shape, out):
    """Runs `layer` on a random NCDHW input of `shape`; stores its tensors."""
    x = torch.randn(*shape, requires_grad=True)
    y = layer(x)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    out[f"{name}.x"] = ndhwc(x.detach())
    out[f"{name}.r"] = ndhwc(r)
    out[f"{name}.y"] = ndhwc(y.detach())
    out[f"{name}.dx"] = ndhwc(x.grad)
    if isinstance(layer, nn.Conv3d):
        # [out, in/groups, kd, kh, kw] -> [kd, kh, kw, in/groups, out]
        out[f"{name}.w"] = layer.weight.detach().permute(2, 3, 4, 1, 0).contiguous()
        out[f"{name}.dw"] = layer.weight.grad.permute(2, 3, 4, 1, 0).contiguous()
        out[f"{name}.weight"] = layer.weight.detach()  # PyTorch's layout
        out[f"{name}.b"] = layer.bias.detach()
        out[f"{name}.db"] = layer.bias.grad


def main():
    out = {}
    conv_a = nn.Conv3d(4, 6, (3, 2, 3), stride=(2, 1, 2), padding=(1, 0, 1),
                       dilation=(1, 2, 1), groups=2)
    run("conv_a", conv_a, (3, 4, 5, 7, 6), out)
    run("conv_b", nn.Conv3d(1, 3, 3, padding=1), (2, 1, 4, 5, 5), out)
    run("max", nn.MaxPool3d(3, stride=2, padding=1), (3, 2, 5, 7, 6), out)
    run("avg", nn.AvgPool3d((2, 3, 2), stride=2, padding=1, count_include_pad=False),
        (3, 2, 5, 7, 6), out)
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.to(torch.float32).contiguous() for k, v in out.items()},
              OUT / "kernels.safetensors")
    for k, v in sorted(out.items()):
        print(k, tuple(v.shape))


if __name__ == "__main__":
    main()
