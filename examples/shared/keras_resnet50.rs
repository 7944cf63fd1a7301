//! ResNet-50 in the layout of keras.applications.ResNet50 as block
//! templates: `KerasBottleneck` (1x1 with the stride, 3x3, 1x1 to 4 x
//! `filters`, every convolution biased, a projection in each stage's first
//! block) and `KerasResNet` (the stem, four stages, pooling and the
//! classifier), with Keras's layer names (`conv1`, `conv1_bn`,
//! `conv2.0.conv1`, `conv3.0.conv0`, `predictions`), and `KerasResNet50`,
//! the network with Keras's batch-norm settings. Shared by `classic_nets`
//! (which checks its counts against Keras's summary) and `bench` (which
//! times it against PyTorch's copy of the same layout, with PyTorch's
//! batch-norm settings: `layers: KerasResNet { momentum: 0.9, epsilon: 0.001 }`).

// Each example that includes this file uses part of it.
#![allow(dead_code)]

use cnn::prelude::*;

network! {
    /// keras.applications.ResNet50's bottleneck: biased convolutions, the
    /// stride on the first 1x1 convolution, and a projection (`conv0`,
    /// `bn0`) in each stage's first block. Keras's batch norm: momentum
    /// 0.99, epsilon 1.001e-5.
    block KerasBottleneck(filters, stride: 1, project: false, momentum: 0.99, epsilon: 0.00001001) = [
        Residual {
            body: [
                conv1: Conv2d { filters: filters, kernel: 1, stride: stride },
                bn1: BatchNorm { momentum: momentum, epsilon: epsilon },
                Relu,
                conv2: Conv2d { filters: filters, kernel: 3, padding: same },
                bn2: BatchNorm { momentum: momentum, epsilon: epsilon },
                Relu,
                conv3: Conv2d { filters: filters * 4, kernel: 1 },
                bn3: BatchNorm { momentum: momentum, epsilon: epsilon },
            ],
            shortcut: if project {
                [
                    conv0: Conv2d { filters: filters * 4, kernel: 1, stride: stride },
                    bn0: BatchNorm { momentum: momentum, epsilon: epsilon },
                ]
            } else { [] },
        },
        Relu,
    ];

    /// ResNet-50 (He et al. 2015, Table 1) as keras.applications.ResNet50
    /// lays it out, for 224x224x3 images: a 7x7 stride-2 stem with batch
    /// norm and 3x3 max pooling, stages of 3, 4, 6 and 3 bottlenecks with
    /// 64, 128, 256 and 512 filters, global average pooling and a dense
    /// classifier over `classes`.
    block KerasResNet(classes: 1000, momentum: 0.99, epsilon: 0.00001001) = [
        conv1: Conv2d { filters: 64, kernel: 7, stride: 2, padding: 3 },
        conv1_bn: BatchNorm { momentum: momentum, epsilon: epsilon },
        Relu,
        MaxPool2d { size: 3, stride: 2, padding: 1 },
        conv2: Stage {
            block: KerasBottleneck { filters: 64, momentum: momentum, epsilon: epsilon },
            repeat: 3,
            first: { project: true },
        },
        conv3: Stage {
            block: KerasBottleneck { filters: 128, momentum: momentum, epsilon: epsilon },
            repeat: 4,
            first: { stride: 2, project: true },
        },
        conv4: Stage {
            block: KerasBottleneck { filters: 256, momentum: momentum, epsilon: epsilon },
            repeat: 6,
            first: { stride: 2, project: true },
        },
        conv5: Stage {
            block: KerasBottleneck { filters: 512, momentum: momentum, epsilon: epsilon },
            repeat: 3,
            first: { stride: 2, project: true },
        },
        avg_pool: GlobalAvgPool,
        predictions: Dense { units: classes },
        Softmax,
    ];

    /// ResNet-50 in the layout of keras.applications.ResNet50, with Keras's
    /// batch-norm settings.
    pub struct KerasResNet50 {
        input: [224, 224, 3],
        layers: KerasResNet {},
    }
}

// keras.applications.ResNet50 summary (include_top=True): "Total params:
// 25,636,712, Trainable params: 25,583,592, Non-trainable params: 53,120"
// (the moving statistics of 26,560 channels). The peer script's PyTorch
// copy has the same count with its running statistics.
const _: () = assert!(KerasResNet50::PARAMS == 25_636_712);
const _: () = assert!(KerasResNet50::TRAINABLE_PARAMS == 25_583_592);
