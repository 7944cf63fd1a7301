//! EfficientNet-B0 (Tan and Le 2019) as torchvision builds it: mobile
//! inverted bottlenecks (MBConv) with SiLU and squeeze-and-excitation
//! gates, in seven stages, named as torchvision names them
//! (`features.2.1.block.2.fc1`, `classifier.1`). Stochastic depth (which
//! holds no parameters, and which inference skips) is left out: training
//! runs every block. The gates' `fc1`/`fc2` are dense layers on the pooled
//! vector; `load_pytorch` loads torchvision's 1x1 convolutions into them.

use cnn_macros::network;

network! {
    /// An MBConv block's layers: expansion to `hidden`, depthwise, gate, projection (`block.0` .. `block.3`).
    pub block MBConvBody(hidden, kernel, filters, stride, squeeze) = [
        block: Sequential { layers: [
            Sequential { layers: [Conv2d { filters: hidden, kernel: 1, stride: 1, padding: 0, bias: false }, BatchNorm { epsilon: 0.00001 }, Silu]},
            Sequential { layers: [DepthwiseConv2d { kernel: kernel, stride: stride, padding: (kernel - 1) / 2, bias: false }, BatchNorm { epsilon: 0.00001 }, Silu] },
            Gate { body: [GlobalAvgPool, fc1: Dense { units: squeeze }, Silu, fc2: Dense { units: hidden }, Sigmoid] },
            Sequential { layers: [Conv2d { filters: filters, kernel: 1, bias: false }, BatchNorm { epsilon: 0.00001 }] },
        ] },
    ];
    /// The first stage's MBConv, without expansion (`block.0` .. `block.2`).
    pub block MBConv1Body(kernel, filters, stride, squeeze, expanded) = [
        block: Sequential { layers: [
            Sequential { layers: [DepthwiseConv2d { kernel: kernel, stride: stride, padding: (kernel - 1) / 2, bias: false }, BatchNorm { epsilon: 0.00001 }, Silu] },
            Gate { body: [GlobalAvgPool, fc1: Dense { units: squeeze }, Silu, fc2: Dense { units: expanded }, Sigmoid] },
            Sequential { layers: [Conv2d { filters: filters, kernel: 1, bias: false }, BatchNorm { epsilon: 0.00001 }] },
        ] },
    ];
    /// An MBConv block, with the shortcut where `residual`.
    pub block MBConv(hidden, kernel, filters, stride, squeeze, residual) = [
        ..if residual { MBConvSkip { hidden: hidden, kernel: kernel, filters: filters, squeeze: squeeze } } else { MBConvBody { hidden: hidden, kernel: kernel, filters: filters, stride: stride, squeeze: squeeze } },
    ];
    /// `MBConv` with the identity shortcut (stride 1, same channels).
    pub block MBConvSkip(hidden, kernel, filters, squeeze) = [
        Residual { body: [..MBConvBody { hidden: hidden, kernel: kernel, filters: filters, squeeze: squeeze, stride: 1 }] },
    ];
    /// An MBConv block without expansion, with the shortcut where `residual`.
    pub block MBConv1(kernel, filters, stride, squeeze, expanded, residual) = [
        ..if residual { MBConv1Skip { kernel: kernel, filters: filters, squeeze: squeeze, expanded: expanded } } else { MBConv1Body { kernel: kernel, filters: filters, stride: stride, squeeze: squeeze, expanded: expanded } },
    ];
    /// `MBConv1` with the identity shortcut (stride 1, same channels).
    pub block MBConv1Skip(kernel, filters, squeeze, expanded) = [
        Residual { body: [..MBConv1Body { kernel: kernel, filters: filters, squeeze: squeeze, expanded: expanded, stride: 1 }] },
    ];

    /// torchvision's `efficientnet_b0`: 5,288,548 parameters at 1,000 classes.
    pub block EfficientNetB0(classes: 1000) = [
        features: Sequential { layers: [
            Sequential { layers: [Conv2d { filters: 32, kernel: 3, stride: 2, padding: (3 - 1) / 2, bias: false }, BatchNorm { epsilon: 0.00001 }, Silu]},
            Sequential { layers: [
                MBConv1 { kernel: 3, filters: 16, stride: 1, squeeze: 8, expanded: 32, residual: false },
            ] },
            Sequential { layers: [
                MBConv { hidden: 96, kernel: 3, filters: 24, stride: 2, squeeze: 4, residual: false },
                MBConv { hidden: 144, kernel: 3, filters: 24, stride: 1, squeeze: 6, residual: true },
            ] },
            Sequential { layers: [
                MBConv { hidden: 144, kernel: 5, filters: 40, stride: 2, squeeze: 6, residual: false },
                MBConv { hidden: 240, kernel: 5, filters: 40, stride: 1, squeeze: 10, residual: true },
            ] },
            Sequential { layers: [
                MBConv { hidden: 240, kernel: 3, filters: 80, stride: 2, squeeze: 10, residual: false },
                MBConv { hidden: 480, kernel: 3, filters: 80, stride: 1, squeeze: 20, residual: true },
                MBConv { hidden: 480, kernel: 3, filters: 80, stride: 1, squeeze: 20, residual: true },
            ] },
            Sequential { layers: [
                MBConv { hidden: 480, kernel: 5, filters: 112, stride: 1, squeeze: 20, residual: false },
                MBConv { hidden: 672, kernel: 5, filters: 112, stride: 1, squeeze: 28, residual: true },
                MBConv { hidden: 672, kernel: 5, filters: 112, stride: 1, squeeze: 28, residual: true },
            ] },
            Sequential { layers: [
                MBConv { hidden: 672, kernel: 5, filters: 192, stride: 2, squeeze: 28, residual: false },
                MBConv { hidden: 1152, kernel: 5, filters: 192, stride: 1, squeeze: 48, residual: true },
                MBConv { hidden: 1152, kernel: 5, filters: 192, stride: 1, squeeze: 48, residual: true },
                MBConv { hidden: 1152, kernel: 5, filters: 192, stride: 1, squeeze: 48, residual: true },
            ] },
            Sequential { layers: [
                MBConv { hidden: 1152, kernel: 3, filters: 320, stride: 1, squeeze: 48, residual: false },
            ] },
            Sequential { layers: [Conv2d { filters: 1280, kernel: 1, stride: 1, padding: 0, bias: false }, BatchNorm { epsilon: 0.00001 }, Silu]},
        ] },
        GlobalAvgPool,
        classifier: Sequential { layers: [Dropout { rate: 0.2 }, Dense { units: classes }] },
        Softmax,
    ];
}
