//! RegNetY-400MF (Radosavovic et al. 2020) as torchvision builds it:
//! four stages of residual bottlenecks with group convolutions (groups of
//! 8 channels) and squeeze-and-excitation, at the widths and depths the
//! RegNet design space gives for 400 MFLOPs. Names are torchvision's,
//! hyphens included (`trunk_output.block2.block2-1.f.se.fc1`: a layer
//! name that is not a Rust identifier is written in quotes).

use cnn_macros::network;

network! {
    /// torchvision's `ResBottleneckBlock` (bottleneck ratio 1): `a` 1x1,
    /// `b` 3x3 in groups of 8 with the stride, `se` the gate (squeezing to
    /// a quarter of the block's input width), `c` 1x1 without activation;
    /// the shortcut `proj` where the block changes width or size.
    pub block RegNetYBlock(width, stride, squeeze, project) = [
        Residual {
            body: [f: Sequential { layers: [
                a: Sequential { layers: [Conv2d { filters: width, kernel: 1, bias: false }, BatchNorm { epsilon: 0.00001 }, Relu] },
                b: Sequential { layers: [
                    Conv2d { filters: width, kernel: 3, stride: stride, padding: 1, groups: width / 8, bias: false },
                    BatchNorm { epsilon: 0.00001 },
                    Relu,
                ] },
                se: Gate { body: [GlobalAvgPool, fc1: Dense { units: squeeze }, Relu, fc2: Dense { units: width }, Sigmoid] },
                c: Sequential { layers: [Conv2d { filters: width, kernel: 1, bias: false }, BatchNorm { epsilon: 0.00001 }] },
            ] }],
            shortcut: if project { [proj: Sequential { layers: [
                Conv2d { filters: width, kernel: 1, stride: stride, bias: false },
                BatchNorm { epsilon: 0.00001 },
            ] }] } else { [] },
        },
        Relu,
    ];

    /// torchvision's `regnet_y_400mf`: 4,344,144 parameters at 1,000 classes.
    pub block RegNetY400MF(classes: 1000) = [
        stem: Sequential { layers: [
            Conv2d { filters: 32, kernel: 3, stride: 2, padding: 1, bias: false },
            BatchNorm { epsilon: 0.00001 },
            Relu,
        ] },
        trunk_output: Sequential { layers: [
            block1: Sequential { layers: [
                "block1-0": RegNetYBlock { width: 48, stride: 2, squeeze: 8, project: true },
            ] },
            block2: Sequential { layers: [
                "block2-0": RegNetYBlock { width: 104, stride: 2, squeeze: 12, project: true },
                "block2-1": RegNetYBlock { width: 104, stride: 1, squeeze: 26, project: false },
                "block2-2": RegNetYBlock { width: 104, stride: 1, squeeze: 26, project: false },
            ] },
            block3: Sequential { layers: [
                "block3-0": RegNetYBlock { width: 208, stride: 2, squeeze: 26, project: true },
                "block3-1": RegNetYBlock { width: 208, stride: 1, squeeze: 52, project: false },
                "block3-2": RegNetYBlock { width: 208, stride: 1, squeeze: 52, project: false },
                "block3-3": RegNetYBlock { width: 208, stride: 1, squeeze: 52, project: false },
                "block3-4": RegNetYBlock { width: 208, stride: 1, squeeze: 52, project: false },
                "block3-5": RegNetYBlock { width: 208, stride: 1, squeeze: 52, project: false },
            ] },
            block4: Sequential { layers: [
                "block4-0": RegNetYBlock { width: 440, stride: 2, squeeze: 52, project: true },
                "block4-1": RegNetYBlock { width: 440, stride: 1, squeeze: 110, project: false },
                "block4-2": RegNetYBlock { width: 440, stride: 1, squeeze: 110, project: false },
                "block4-3": RegNetYBlock { width: 440, stride: 1, squeeze: 110, project: false },
                "block4-4": RegNetYBlock { width: 440, stride: 1, squeeze: 110, project: false },
                "block4-5": RegNetYBlock { width: 440, stride: 1, squeeze: 110, project: false },
            ] },
        ] },
        GlobalAvgPool,
        fc: Dense { units: classes },
        Softmax,
    ];
}
