//! torchvision's ResNets and ResNeXts as block templates: `TvUnit` (the
//! basic block of ResNet-18/34 or the bottleneck of ResNet-50 and up),
//! `TvFeatures` (the stages of units, to pooled features: a trunk for
//! transfer learning) and `TvResNet` (the features and the classifier), with torchvision's
//! layer names (`conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`,
//! `fc`), so that a `state_dict` maps onto them by name. Shared by
//! `classic_nets` and `resnet152` (`#[path]`); a network uses it as
//! `layers: TvResNet { blocks1: 3, blocks2: 4, blocks3: 6, blocks4: 3 }`.

use cnn::prelude::*;

network! {
    /// torchvision's residual unit: the basic block of ResNet-18/34 (two
    /// 3x3 convolutions) or the bottleneck of ResNet-50 and up (1x1 to
    /// `width`, 3x3 in `groups` groups with the stride, 1x1 to 4 x
    /// `filters`: torchvision's v1.5), unbiased convolutions, batch norm
    /// with PyTorch's epsilon, and a projection (`downsample`) where the
    /// shape changes. Names are torchvision's: `conv1`, `bn1`, ..,
    /// `downsample.0`, `downsample.1`.
    block TvUnit(filters, stride: 1, project: false, bottleneck: false, groups: 1, width: filters) = [
        Residual {
            body: if bottleneck { [
                conv1: Conv2d { filters: width, kernel: 1, bias: false },
                bn1: BatchNorm { epsilon: 0.00001 },
                Relu,
                conv2: Conv2d { filters: width, kernel: 3, stride: stride, padding: 1, groups: groups, bias: false },
                bn2: BatchNorm { epsilon: 0.00001 },
                Relu,
                conv3: Conv2d { filters: filters * 4, kernel: 1, bias: false },
                bn3: BatchNorm { epsilon: 0.00001 },
            ] } else { [
                conv1: Conv2d { filters: filters, kernel: 3, stride: stride, padding: 1, bias: false },
                bn1: BatchNorm { epsilon: 0.00001 },
                Relu,
                conv2: Conv2d { filters: filters, kernel: 3, padding: 1, bias: false },
                bn2: BatchNorm { epsilon: 0.00001 },
            ] },
            shortcut: if project { [downsample: Sequential { layers: [
                Conv2d { filters: if bottleneck { filters * 4 } else { filters }, kernel: 1, stride: stride, bias: false },
                BatchNorm { epsilon: 0.00001 },
            ] }] } else { [] },
        },
        Relu,
    ];

    /// torchvision's ResNet (He et al. 2015, Table 1) without its
    /// classifier, to 512 (or 2,048) pooled features: `blocks1..4` units per
    /// stage; ResNeXt (Xie et al. 2017) with `groups` and `base_width`
    /// (torchvision's width = planes * base_width / 64 * groups). The
    /// trunk of transfer learning.
    block TvFeatures(blocks1, blocks2, blocks3, blocks4, bottleneck: true, groups: 1, base_width: 64) = [
        conv1: Conv2d { filters: 64, kernel: 7, stride: 2, padding: 3, bias: false },
        bn1: BatchNorm { epsilon: 0.00001 },
        Relu,
        maxpool: MaxPool2d { size: 3, stride: 2, padding: 1 },
        layer1: Stage {
            block: TvUnit { filters: 64, bottleneck: bottleneck, groups: groups, width: base_width * groups },
            repeat: blocks1,
            first: { project: bottleneck },
        },
        layer2: Stage {
            block: TvUnit { filters: 128, bottleneck: bottleneck, groups: groups, width: 2 * base_width * groups },
            repeat: blocks2,
            first: { stride: 2, project: true },
        },
        layer3: Stage {
            block: TvUnit { filters: 256, bottleneck: bottleneck, groups: groups, width: 4 * base_width * groups },
            repeat: blocks3,
            first: { stride: 2, project: true },
        },
        layer4: Stage {
            block: TvUnit { filters: 512, bottleneck: bottleneck, groups: groups, width: 8 * base_width * groups },
            repeat: blocks4,
            first: { stride: 2, project: true },
        },
        avgpool: GlobalAvgPool,
    ];

    /// The whole network: the features (spread in place, so the names stay
    /// torchvision's) and the 1,000-class classifier `fc`.
    block TvResNet(blocks1, blocks2, blocks3, blocks4, bottleneck: true, groups: 1, base_width: 64) = [
        ..TvFeatures {
            blocks1: blocks1, blocks2: blocks2, blocks3: blocks3, blocks4: blocks4,
            bottleneck: bottleneck, groups: groups, base_width: base_width,
        },
        fc: Dense { units: 1000 },
        Softmax,
    ];
}
