//! The CIFAR ResNets of He et al. (2015, section 4.2) as one block
//! template: a 3x3 convolution, three stages of `n` basic blocks with 16,
//! 32 and 64 filters (`6n + 2` layers: ResNet-20, -56, -110 for n = 3, 9,
//! 18), a projection shortcut (1x1 convolution with stride 2 and batch
//! norm, the paper's option B) where a stage starts, global average
//! pooling and a dense classifier. Shared by `classic_nets`,
//! `resnet_mnist` and `bench` (`#[path]`); a network uses it as
//! `layers: CifarResNet { n: 3 }`, and its layers are named `conv1`,
//! `stage2.0.conv1`, `stage2.0.downsample.0`, `fc`.

use cnn::prelude::*;

network! {
    /// Two 3x3 convolutions with batch norm, added to the input (or to its
    /// projection when the block changes the shape), then ReLU.
    block CifarBlock(filters, stride: 1, project: false, momentum: 0.99, epsilon: 0.001) = [
        Residual {
            body: [
                conv1: Conv2d { filters: filters, kernel: 3, stride: stride, padding: 1, bias: false },
                bn1: BatchNorm { momentum: momentum, epsilon: epsilon },
                Relu,
                conv2: Conv2d { filters: filters, kernel: 3, padding: 1, bias: false },
                bn2: BatchNorm { momentum: momentum, epsilon: epsilon },
            ],
            shortcut: if project {
                [downsample: Sequential { layers: [
                    Conv2d { filters: filters, kernel: 1, stride: stride, bias: false },
                    BatchNorm { momentum: momentum, epsilon: epsilon },
                ] }]
            } else { [] },
        },
        Relu,
    ];

    /// ResNet-(6n + 2) for 10 classes.
    block CifarResNet(n, classes: 10, momentum: 0.99, epsilon: 0.001) = [
        conv1: Conv2d { filters: 16, kernel: 3, padding: same, bias: false },
        bn1: BatchNorm { momentum: momentum, epsilon: epsilon },
        Relu,
        stage1: Stage { block: CifarBlock { filters: 16, momentum: momentum, epsilon: epsilon }, repeat: n },
        stage2: Stage {
            block: CifarBlock { filters: 32, momentum: momentum, epsilon: epsilon },
            repeat: n,
            first: { stride: 2, project: true },
        },
        stage3: Stage {
            block: CifarBlock { filters: 64, momentum: momentum, epsilon: epsilon },
            repeat: n,
            first: { stride: 2, project: true },
        },
        GlobalAvgPool,
        fc: Dense { units: classes },
        Softmax,
    ];
}
