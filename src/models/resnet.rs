//! ResNets (He et al. 2015), ResNeXt (Xie et al. 2017) and Wide ResNet
//! (Zagoruyko and Komodakis 2016) as torchvision builds them (v1.5: the
//! bottleneck's stride on its 3x3 convolution), with torchvision's names
//! (`conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`, `fc`), so
//! that a `state_dict` maps onto them by name. `ResNetUnit` is one residual
//! unit, `ResNetFeatures` the trunk up to the pooled features (for transfer
//! learning), `ResNet` the whole network with any depths per stage.

use cnn_macros::network;

network! {
    /// torchvision's residual unit: the basic block of ResNet-18/34 (two
    /// 3x3 convolutions) or the bottleneck of ResNet-50 and up (1x1 to
    /// `width`, 3x3 in `groups` groups with the stride, 1x1 to 4 x
    /// `filters`: torchvision's v1.5), unbiased convolutions, batch norm
    /// with PyTorch's epsilon, and a projection (`downsample`) where the
    /// shape changes. Names are torchvision's: `conv1`, `bn1`, ..,
    /// `downsample.0`, `downsample.1`.
    pub block ResNetUnit(filters, stride: 1, project: false, bottleneck: false, groups: 1, width: filters) = [
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
    pub block ResNetFeatures(blocks1, blocks2, blocks3, blocks4, bottleneck: true, groups: 1, base_width: 64) = [
        conv1: Conv2d { filters: 64, kernel: 7, stride: 2, padding: 3, bias: false },
        bn1: BatchNorm { epsilon: 0.00001 },
        Relu,
        maxpool: MaxPool2d { size: 3, stride: 2, padding: 1 },
        layer1: Stage {
            block: ResNetUnit { filters: 64, bottleneck: bottleneck, groups: groups, width: base_width * groups },
            repeat: blocks1,
            first: { project: bottleneck },
        },
        layer2: Stage {
            block: ResNetUnit { filters: 128, bottleneck: bottleneck, groups: groups, width: 2 * base_width * groups },
            repeat: blocks2,
            first: { stride: 2, project: true },
        },
        layer3: Stage {
            block: ResNetUnit { filters: 256, bottleneck: bottleneck, groups: groups, width: 4 * base_width * groups },
            repeat: blocks3,
            first: { stride: 2, project: true },
        },
        layer4: Stage {
            block: ResNetUnit { filters: 512, bottleneck: bottleneck, groups: groups, width: 8 * base_width * groups },
            repeat: blocks4,
            first: { stride: 2, project: true },
        },
        avgpool: GlobalAvgPool,
    ];

    /// The whole network: the features (spread in place, so the names stay
    /// torchvision's) and the classifier `fc`.
    pub block ResNet(blocks1, blocks2, blocks3, blocks4, bottleneck: true, groups: 1, base_width: 64, classes: 1000) = [
        ..ResNetFeatures {
            blocks1: blocks1, blocks2: blocks2, blocks3: blocks3, blocks4: blocks4,
            bottleneck: bottleneck, groups: groups, base_width: base_width,
        },
        fc: Dense { units: classes },
        Softmax,
    ];

    /// torchvision's `resnet18`: 11,689,512 parameters at 1,000 classes.
    pub block ResNet18(classes: 1000) = [..ResNet { blocks1: 2, blocks2: 2, blocks3: 2, blocks4: 2, bottleneck: false, classes: classes }];

    /// torchvision's `resnet34`: 21,797,672 parameters at 1,000 classes.
    pub block ResNet34(classes: 1000) = [..ResNet { blocks1: 3, blocks2: 4, blocks3: 6, blocks4: 3, bottleneck: false, classes: classes }];

    /// torchvision's `resnet50`: 25,557,032 parameters at 1,000 classes.
    pub block ResNet50(classes: 1000) = [..ResNet { blocks1: 3, blocks2: 4, blocks3: 6, blocks4: 3, classes: classes }];

    /// torchvision's `resnet101`: 44,549,160 parameters at 1,000 classes.
    pub block ResNet101(classes: 1000) = [..ResNet { blocks1: 3, blocks2: 4, blocks3: 23, blocks4: 3, classes: classes }];

    /// torchvision's `resnet152`: 60,192,808 parameters at 1,000 classes.
    pub block ResNet152(classes: 1000) = [..ResNet { blocks1: 3, blocks2: 8, blocks3: 36, blocks4: 3, classes: classes }];

    /// torchvision's `resnext50_32x4d (32 groups of 4 channels in the first stage)`: 25,028,904 parameters at 1,000 classes.
    pub block ResNeXt50(classes: 1000) = [..ResNet { blocks1: 3, blocks2: 4, blocks3: 6, blocks4: 3, groups: 32, base_width: 4, classes: classes }];

    /// torchvision's `wide_resnet50_2 (bottlenecks twice as wide)`: 68,883,240 parameters at 1,000 classes.
    pub block WideResNet50(classes: 1000) = [..ResNet { blocks1: 3, blocks2: 4, blocks3: 6, blocks4: 3, base_width: 128, classes: classes }];
}
