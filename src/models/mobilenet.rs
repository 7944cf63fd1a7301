//! MobileNet v2 (Sandler et al. 2018) and v3 (Howard et al. 2019) as
//! torchvision builds them: inverted residuals (a 1x1 expansion, a
//! depthwise 3x3 or 5x5, a linear 1x1 projection) with ReLU6, and in v3
//! hardswish and squeeze-and-excitation gates (a `Gate` whose body pools,
//! squeezes and ends in a hard sigmoid). Names are torchvision's
//! (`features.3.conv.1.0`, `features.4.block.2.fc1`, `classifier.3`):
//! torchvision's `Conv2dNormActivation` is a `Sequential` of a
//! convolution, batch norm and activation, indexed 0, 1, 2. Its
//! squeeze-and-excitation `fc1`/`fc2` are 1x1 convolutions on the pooled
//! map; here they are dense layers on the pooled vector, and
//! `load_pytorch` loads their `[out, in, 1, 1]` weights.

use cnn_macros::network;

network! {
    /// A MobileNet v2 inverted residual's layers: expansion to `hidden`,
    /// depthwise 3x3 with `stride`, projection to `filters` (`conv.0` ..
    /// `conv.3`).
    pub block InvertedResidualBody(hidden, filters, stride) = [
        conv: Sequential { layers: [
            Sequential { layers: [Conv2d { filters: hidden, kernel: 1, stride: 1, padding: 0, bias: false }, BatchNorm { epsilon: 0.00001 }, Relu6]},
            Sequential { layers: [DepthwiseConv2d { kernel: 3, stride: stride, padding: (3 - 1) / 2, bias: false }, BatchNorm { epsilon: 0.00001 }, Relu6] },
            Conv2d { filters: filters, kernel: 1, bias: false },
            BatchNorm { epsilon: 0.00001 },
        ] },
    ];
    /// An inverted residual, with the identity shortcut where `residual`.
    pub block InvertedResidual(hidden, filters, stride, residual) = [
        ..if residual { InvertedResidualSkip { hidden: hidden, filters: filters } }
        else { InvertedResidualBody { hidden: hidden, filters: filters, stride: stride } },
    ];
    /// `InvertedResidual` with its shortcut.
    pub block InvertedResidualSkip(hidden, filters) = [
        Residual { body: [..InvertedResidualBody { hidden: hidden, filters: filters, stride: 1 }] },
    ];
    /// MobileNet v2's first block: no expansion, no shortcut (`conv.0` ..
    /// `conv.2`).
    pub block InvertedResidual1(filters, stride, residual) = [
        conv: Sequential { layers: [
            Sequential { layers: [DepthwiseConv2d { kernel: 3, stride: stride, padding: (3 - 1) / 2, bias: false }, BatchNorm { epsilon: 0.00001 }, Relu6] },
            Conv2d { filters: filters, kernel: 1, bias: false },
            BatchNorm { epsilon: 0.00001 },
        ] },
    ];

    /// torchvision's `mobilenet_v2`: 3,504,872 parameters at 1,000 classes.
    pub block MobileNetV2(classes: 1000) = [
        features: Sequential { layers: [
            Sequential { layers: [Conv2d { filters: 32, kernel: 3, stride: 2, padding: (3 - 1) / 2, bias: false }, BatchNorm { epsilon: 0.00001 }, Relu6]},
            InvertedResidual1 { filters: 16, stride: 1, residual: false },
            InvertedResidual { hidden: 96, filters: 24, stride: 2, residual: false },
            InvertedResidual { hidden: 144, filters: 24, stride: 1, residual: true },
            InvertedResidual { hidden: 144, filters: 32, stride: 2, residual: false },
            InvertedResidual { hidden: 192, filters: 32, stride: 1, residual: true },
            InvertedResidual { hidden: 192, filters: 32, stride: 1, residual: true },
            InvertedResidual { hidden: 192, filters: 64, stride: 2, residual: false },
            InvertedResidual { hidden: 384, filters: 64, stride: 1, residual: true },
            InvertedResidual { hidden: 384, filters: 64, stride: 1, residual: true },
            InvertedResidual { hidden: 384, filters: 64, stride: 1, residual: true },
            InvertedResidual { hidden: 384, filters: 96, stride: 1, residual: false },
            InvertedResidual { hidden: 576, filters: 96, stride: 1, residual: true },
            InvertedResidual { hidden: 576, filters: 96, stride: 1, residual: true },
            InvertedResidual { hidden: 576, filters: 160, stride: 2, residual: false },
            InvertedResidual { hidden: 960, filters: 160, stride: 1, residual: true },
            InvertedResidual { hidden: 960, filters: 160, stride: 1, residual: true },
            InvertedResidual { hidden: 960, filters: 320, stride: 1, residual: false },
            Sequential { layers: [Conv2d { filters: 1280, kernel: 1, stride: 1, padding: 0, bias: false }, BatchNorm { epsilon: 0.00001 }, Relu6]},
        ] },
        GlobalAvgPool,
        classifier: Sequential { layers: [Dropout { rate: 0.2 }, Dense { units: classes }] },
        Softmax,
    ];
}

network! {
    /// A v3 block without expansion or gate: `block.0` .. `block.1`.
    pub block V3BlockBody(kernel, filters, stride, hardswish) = [
        block: Sequential { layers: [
            Sequential { layers: [DepthwiseConv2d { kernel: kernel, stride: stride, padding: (kernel - 1) / 2, bias: false }, BatchNorm { epsilon: 0.001 }, if hardswish { Hardswish } else { Relu }] },
            Sequential { layers: [Conv2d { filters: filters, kernel: 1, bias: false }, BatchNorm { epsilon: 0.001 }] },
        ] },
    ];
    /// A v3 block without expansion, with a gate: `block.0` .. `block.2`.
    pub block V3BlockSeBody(kernel, filters, stride, hardswish, squeeze, expanded) = [
        block: Sequential { layers: [
            Sequential { layers: [DepthwiseConv2d { kernel: kernel, stride: stride, padding: (kernel - 1) / 2, bias: false }, BatchNorm { epsilon: 0.001 }, if hardswish { Hardswish } else { Relu }] },
            Gate { body: [GlobalAvgPool, fc1: Dense { units: squeeze }, Relu, fc2: Dense { units: expanded }, Hardsigmoid] },
            Sequential { layers: [Conv2d { filters: filters, kernel: 1, bias: false }, BatchNorm { epsilon: 0.001 }] },
        ] },
    ];
    /// A v3 block with expansion to `hidden`, without gate: `block.0` .. `block.2`.
    pub block V3BlockExpandBody(hidden, kernel, filters, stride, hardswish) = [
        block: Sequential { layers: [
            Sequential { layers: [Conv2d { filters: hidden, kernel: 1, stride: 1, padding: 0, bias: false }, BatchNorm { epsilon: 0.001 }, if hardswish { Hardswish } else { Relu }]},
            Sequential { layers: [DepthwiseConv2d { kernel: kernel, stride: stride, padding: (kernel - 1) / 2, bias: false }, BatchNorm { epsilon: 0.001 }, if hardswish { Hardswish } else { Relu }] },
            Sequential { layers: [Conv2d { filters: filters, kernel: 1, bias: false }, BatchNorm { epsilon: 0.001 }] },
        ] },
    ];
    /// A v3 block with expansion and gate: `block.0` .. `block.3`.
    pub block V3BlockExpandSeBody(hidden, kernel, filters, stride, hardswish, squeeze, expanded) = [
        block: Sequential { layers: [
            Sequential { layers: [Conv2d { filters: hidden, kernel: 1, stride: 1, padding: 0, bias: false }, BatchNorm { epsilon: 0.001 }, if hardswish { Hardswish } else { Relu }]},
            Sequential { layers: [DepthwiseConv2d { kernel: kernel, stride: stride, padding: (kernel - 1) / 2, bias: false }, BatchNorm { epsilon: 0.001 }, if hardswish { Hardswish } else { Relu }] },
            Gate { body: [GlobalAvgPool, fc1: Dense { units: squeeze }, Relu, fc2: Dense { units: expanded }, Hardsigmoid] },
            Sequential { layers: [Conv2d { filters: filters, kernel: 1, bias: false }, BatchNorm { epsilon: 0.001 }] },
        ] },
    ];
    /// A v3 block without expansion or gate, with the shortcut where `residual`.
    pub block V3Block(kernel, filters, stride, hardswish, residual) = [
        ..if residual { V3BlockSkip { kernel: kernel, filters: filters, hardswish: hardswish } } else { V3BlockBody { kernel: kernel, filters: filters, stride: stride, hardswish: hardswish } },
    ];
    /// `V3Block` with the identity shortcut (stride 1, same channels).
    pub block V3BlockSkip(kernel, filters, hardswish) = [
        Residual { body: [..V3BlockBody { kernel: kernel, filters: filters, hardswish: hardswish, stride: 1 }] },
    ];
    /// A gated v3 block without expansion, with the shortcut where `residual`.
    pub block V3BlockSe(kernel, filters, stride, hardswish, residual, squeeze, expanded) = [
        ..if residual { V3BlockSeSkip { kernel: kernel, filters: filters, hardswish: hardswish, squeeze: squeeze, expanded: expanded } } else { V3BlockSeBody { kernel: kernel, filters: filters, stride: stride, hardswish: hardswish, squeeze: squeeze, expanded: expanded } },
    ];
    /// `V3BlockSe` with the identity shortcut (stride 1, same channels).
    pub block V3BlockSeSkip(kernel, filters, hardswish, squeeze, expanded) = [
        Residual { body: [..V3BlockSeBody { kernel: kernel, filters: filters, hardswish: hardswish, squeeze: squeeze, expanded: expanded, stride: 1 }] },
    ];
    /// An expanded v3 block, with the shortcut where `residual`.
    pub block V3BlockExpand(hidden, kernel, filters, stride, hardswish, residual) = [
        ..if residual { V3BlockExpandSkip { hidden: hidden, kernel: kernel, filters: filters, hardswish: hardswish } } else { V3BlockExpandBody { hidden: hidden, kernel: kernel, filters: filters, stride: stride, hardswish: hardswish } },
    ];
    /// `V3BlockExpand` with the identity shortcut (stride 1, same channels).
    pub block V3BlockExpandSkip(hidden, kernel, filters, hardswish) = [
        Residual { body: [..V3BlockExpandBody { hidden: hidden, kernel: kernel, filters: filters, hardswish: hardswish, stride: 1 }] },
    ];
    /// An expanded, gated v3 block, with the shortcut where `residual`.
    pub block V3BlockExpandSe(hidden, kernel, filters, stride, hardswish, residual, squeeze, expanded) = [
        ..if residual { V3BlockExpandSeSkip { hidden: hidden, kernel: kernel, filters: filters, hardswish: hardswish, squeeze: squeeze, expanded: expanded } } else { V3BlockExpandSeBody { hidden: hidden, kernel: kernel, filters: filters, stride: stride, hardswish: hardswish, squeeze: squeeze, expanded: expanded } },
    ];
    /// `V3BlockExpandSe` with the identity shortcut (stride 1, same channels).
    pub block V3BlockExpandSeSkip(hidden, kernel, filters, hardswish, squeeze, expanded) = [
        Residual { body: [..V3BlockExpandSeBody { hidden: hidden, kernel: kernel, filters: filters, hardswish: hardswish, squeeze: squeeze, expanded: expanded, stride: 1 }] },
    ];

    /// torchvision's `mobilenet_v3_small`: 2,542,856 parameters at 1,000 classes.
    pub block MobileNetV3Small(classes: 1000) = [
        features: Sequential { layers: [
            Sequential { layers: [Conv2d { filters: 16, kernel: 3, stride: 2, padding: (3 - 1) / 2, bias: false }, BatchNorm { epsilon: 0.001 }, Hardswish]},
            V3BlockSe { kernel: 3, filters: 16, stride: 2, hardswish: false, residual: false, squeeze: 8, expanded: 16 },
            V3BlockExpand { hidden: 72, kernel: 3, filters: 24, stride: 2, hardswish: false, residual: false },
            V3BlockExpand { hidden: 88, kernel: 3, filters: 24, stride: 1, hardswish: false, residual: true },
            V3BlockExpandSe { hidden: 96, kernel: 5, filters: 40, stride: 2, hardswish: true, residual: false, squeeze: 24, expanded: 96 },
            V3BlockExpandSe { hidden: 240, kernel: 5, filters: 40, stride: 1, hardswish: true, residual: true, squeeze: 64, expanded: 240 },
            V3BlockExpandSe { hidden: 240, kernel: 5, filters: 40, stride: 1, hardswish: true, residual: true, squeeze: 64, expanded: 240 },
            V3BlockExpandSe { hidden: 120, kernel: 5, filters: 48, stride: 1, hardswish: true, residual: false, squeeze: 32, expanded: 120 },
            V3BlockExpandSe { hidden: 144, kernel: 5, filters: 48, stride: 1, hardswish: true, residual: true, squeeze: 40, expanded: 144 },
            V3BlockExpandSe { hidden: 288, kernel: 5, filters: 96, stride: 2, hardswish: true, residual: false, squeeze: 72, expanded: 288 },
            V3BlockExpandSe { hidden: 576, kernel: 5, filters: 96, stride: 1, hardswish: true, residual: true, squeeze: 144, expanded: 576 },
            V3BlockExpandSe { hidden: 576, kernel: 5, filters: 96, stride: 1, hardswish: true, residual: true, squeeze: 144, expanded: 576 },
            Sequential { layers: [Conv2d { filters: 576, kernel: 1, stride: 1, padding: 0, bias: false }, BatchNorm { epsilon: 0.001 }, Hardswish]},
        ] },
        GlobalAvgPool,
        classifier: Sequential { layers: [
            Dense { units: 1024 },
            Hardswish,
            Dropout { rate: 0.2 },
            Dense { units: classes },
        ] },
        Softmax,
    ];

    /// torchvision's `mobilenet_v3_large`: 5,483,032 parameters at 1,000 classes.
    pub block MobileNetV3Large(classes: 1000) = [
        features: Sequential { layers: [
            Sequential { layers: [Conv2d { filters: 16, kernel: 3, stride: 2, padding: (3 - 1) / 2, bias: false }, BatchNorm { epsilon: 0.001 }, Hardswish]},
            V3Block { kernel: 3, filters: 16, stride: 1, hardswish: false, residual: true },
            V3BlockExpand { hidden: 64, kernel: 3, filters: 24, stride: 2, hardswish: false, residual: false },
            V3BlockExpand { hidden: 72, kernel: 3, filters: 24, stride: 1, hardswish: false, residual: true },
            V3BlockExpandSe { hidden: 72, kernel: 5, filters: 40, stride: 2, hardswish: false, residual: false, squeeze: 24, expanded: 72 },
            V3BlockExpandSe { hidden: 120, kernel: 5, filters: 40, stride: 1, hardswish: false, residual: true, squeeze: 32, expanded: 120 },
            V3BlockExpandSe { hidden: 120, kernel: 5, filters: 40, stride: 1, hardswish: false, residual: true, squeeze: 32, expanded: 120 },
            V3BlockExpand { hidden: 240, kernel: 3, filters: 80, stride: 2, hardswish: true, residual: false },
            V3BlockExpand { hidden: 200, kernel: 3, filters: 80, stride: 1, hardswish: true, residual: true },
            V3BlockExpand { hidden: 184, kernel: 3, filters: 80, stride: 1, hardswish: true, residual: true },
            V3BlockExpand { hidden: 184, kernel: 3, filters: 80, stride: 1, hardswish: true, residual: true },
            V3BlockExpandSe { hidden: 480, kernel: 3, filters: 112, stride: 1, hardswish: true, residual: false, squeeze: 120, expanded: 480 },
            V3BlockExpandSe { hidden: 672, kernel: 3, filters: 112, stride: 1, hardswish: true, residual: true, squeeze: 168, expanded: 672 },
            V3BlockExpandSe { hidden: 672, kernel: 5, filters: 160, stride: 2, hardswish: true, residual: false, squeeze: 168, expanded: 672 },
            V3BlockExpandSe { hidden: 960, kernel: 5, filters: 160, stride: 1, hardswish: true, residual: true, squeeze: 240, expanded: 960 },
            V3BlockExpandSe { hidden: 960, kernel: 5, filters: 160, stride: 1, hardswish: true, residual: true, squeeze: 240, expanded: 960 },
            Sequential { layers: [Conv2d { filters: 960, kernel: 1, stride: 1, padding: 0, bias: false }, BatchNorm { epsilon: 0.001 }, Hardswish]},
        ] },
        GlobalAvgPool,
        classifier: Sequential { layers: [
            Dense { units: 1280 },
            Hardswish,
            Dropout { rate: 0.2 },
            Dense { units: classes },
        ] },
        Softmax,
    ];
}
