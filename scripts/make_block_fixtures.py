"""Builds the PyTorch fixtures of tests/model_blocks.rs: one block of each
family of cnn::models, made by torchvision's own block classes at reduced
width, with random weights (and batch-norm running statistics), its
eval-mode output, and its train-mode output and gradients.

Blocks (torchvision's classes, input NCHW here, NHWC in the files):
  mobilenet_v2    InvertedResidual(8, 8, stride 1, expand_ratio 6): the
                  identity shortcut, 48 hidden channels; input 3x8x12x12
  efficientnet    MBConv(MBConvConfig(6, kernel 5, stride 1, 8 -> 8)),
                  stochastic depth 0, BatchNorm2d (eps 1e-5): SiLU, the
                  squeeze-and-excitation gate (8 // 4 = 2), the shortcut;
                  input 3x8x12x12
  densenet        _DenseBlock(2 layers, 16 input features, bn_size 4,
                  growth 8) then _Transition(32, 16), as a Sequential
                  `denseblock`, `transition`; input 3x16x8x8
  convnext        CNBlock(16, layer_scale 1e-6, stochastic depth 0), its
                  layer_scale then drawn in [0.5, 1.5] so the block's
                  branch counts; input 2x16x10x10

For each block <name>, into tests/fixtures/blocks/:
  <name>_state_dict.safetensors  the block's state_dict, unchanged
                                 (torchvision's names and layouts), f32
  <name>.safetensors             `x` (NHWC input), `r` (NHWC, the output's
                                 weights in the loss), `eval` (NHWC output
                                 in eval mode: running statistics),
                                 `train` (NHWC output in train mode: batch
                                 statistics), `dx` (NHWC), and for every
                                 trainable parameter `grad.<key>`, the
                                 gradient of loss = sum(train * r) in
                                 train mode, in PyTorch's layout and name

The arithmetic is float64 from float32 values (weights, statistics, x
and r are rounded to float32 first, since the test loads float32), then
saved as float32. Train mode here means batch statistics for batch norm
(biased variance in the normalisation, as in our kernels); the running
statistics the train-mode forward updates are not saved (the state_dict
is taken before it).

Run: /root/.venvs/torch/bin/python scripts/make_block_fixtures.py
The test reads only the committed files.
"""

from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import save_file
from torchvision.models.convnext import CNBlock
from torchvision.models.densenet import _DenseBlock, _Transition
from torchvision.models.efficientnet import MBConv, MBConvConfig
from torchvision.models.mobilenetv2 import InvertedResidual

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "blocks"


def f32(t):
    return t.detach().to(torch.float32).contiguous()


def nhwc(t):
    return f32(t.permute(0, 2, 3, 1))


def randomise(block):
    """Weights as initialised, batch norm and layer norm parameters and
    running statistics away from 1 and 0, and a layer scale that matters;
    then every value rounded to float32."""
    with torch.no_grad():
        for m in block.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
            elif isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
            if isinstance(m, CNBlock):
                m.layer_scale.uniform_(0.5, 1.5)
        for t in list(block.parameters()) + list(block.buffers()):
            if t.is_floating_point():
                t.copy_(t.float().double())


def fixture(name, block, batch, c, h, w):
    block = block.double()
    randomise(block)
    state = OrderedDict((k, v.clone()) for k, v in block.state_dict().items())
    x = torch.randn(batch, c, h, w).float().double()
    block.eval()
    with torch.no_grad():
        out_eval = block(x)
    block.train()
    x.requires_grad_(True)
    out = block(x)
    r = torch.randn(out.shape).float().double()
    loss = (out * r).sum()
    loss.backward()
    tensors = {
        "x": nhwc(x),
        "r": nhwc(r),
        "eval": nhwc(out_eval),
        "train": nhwc(out),
        "dx": nhwc(x.grad),
    }
    for key, p in block.named_parameters():
        tensors[f"grad.{key}"] = f32(p.grad)
    OUT.mkdir(parents=True, exist_ok=True)
    # Integer counters stay integers, as in any torchvision state_dict.
    save_file(
        {k: (f32(v) if v.is_floating_point() else v.contiguous()) for k, v in state.items()},
        str(OUT / f"{name}_state_dict.safetensors"),
    )
    save_file(tensors, str(OUT / f"{name}.safetensors"))
    size = sum((OUT / f).stat().st_size for f in (f"{name}_state_dict.safetensors", f"{name}.safetensors"))
    print(f"{name}: {len(state)} state_dict entries, output {list(out.shape)}, {size / 1024:.0f} KiB")


def main():
    torch.manual_seed(25)
    fixture("mobilenet_v2", InvertedResidual(8, 8, stride=1, expand_ratio=6), 3, 8, 12, 12)
    cnf = MBConvConfig(expand_ratio=6, kernel=5, stride=1, input_channels=8, out_channels=8, num_layers=1)
    fixture("efficientnet", MBConv(cnf, stochastic_depth_prob=0.0, norm_layer=nn.BatchNorm2d), 3, 8, 12, 12)
    dense = nn.Sequential(
        OrderedDict(
            denseblock=_DenseBlock(num_layers=2, num_input_features=16, bn_size=4, growth_rate=8, drop_rate=0.0),
            transition=_Transition(num_input_features=32, num_output_features=16),
        )
    )
    fixture("densenet", dense, 3, 16, 8, 8)
    fixture("convnext", CNBlock(16, layer_scale=1e-6, stochastic_depth_prob=0.0), 2, 16, 10, 10)


if __name__ == "__main__":
    main()
