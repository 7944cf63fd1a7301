//! The course's classic networks, declared with `network!` and checked at
//! compile time: LeNet-5, AlexNet, VGG-16, ResNet-18, ResNet-34, ResNet-50
//! (Keras layout), GoogLeNet (Inception v1 with its two auxiliary heads)
//! and the CIFAR ResNet-20 and ResNet-56 of He et al. (2015). Their sizes
//! are asserted in `const` items against the published figures (a wrong
//! layer is a compile error), and running the example prints every
//! summary and a table of our multiply-adds against the published counts.
//!
//!     cargo run --release --example classic_nets             # summaries and the table
//!     cargo run --release --example classic_nets -- --run    # also time ResNet-50 and GoogLeNet
//!
//! `--run` runs one training step (forward, backward, SGD) and one
//! `predict` of ResNet-50 and of GoogLeNet on a batch of random 224x224x3
//! images (`--batch N`, default 2; `--threads N`) and prints the time per
//! image. `--quiet` leaves the summaries out.

use std::time::Instant;

use cnn::ndarray::Array4;
use cnn::net::{thousands, Summary, TensorInfo};
use cnn::prelude::*;
use cnn::rng::Rng;

network! {
    /// LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, as in DESIGN.md.
    pub struct LeNet5 {
        input: [32, 32, 1],
        layers: [
            conv1: Conv2d { filters: 6, kernel: 5 },
            Relu,
            MaxPool2d { size: 2, stride: 2 },
            conv2: Conv2d { filters: 16, kernel: 5 },
            Relu,
            MaxPool2d { size: 2, stride: 2 },
            Flatten,
            fc3: Dense { units: 120 },
            Relu,
            fc4: Dense { units: 84 },
            Relu,
            fc5: Dense { units: 10 },
            Softmax,
        ],
    }
}

network! {
    /// AlexNet (Krizhevsky et al. 2012) as one tower, on 227x227x3 inputs.
    pub struct AlexNet {
        input: [227, 227, 3],
        layers: [
            conv1: Conv2d { filters: 96, kernel: 11, stride: 4 },
            Relu,
            MaxPool2d { size: 3, stride: 2 },
            conv2: Conv2d { filters: 256, kernel: 5, padding: same },
            Relu,
            MaxPool2d { size: 3, stride: 2 },
            conv3: Conv2d { filters: 384, kernel: 3, padding: same },
            Relu,
            conv4: Conv2d { filters: 384, kernel: 3, padding: same },
            Relu,
            conv5: Conv2d { filters: 256, kernel: 3, padding: same },
            Relu,
            MaxPool2d { size: 3, stride: 2 },
            Flatten,
            fc6: Dense { units: 4096 },
            Relu,
            Dropout { rate: 0.5 },
            fc7: Dense { units: 4096 },
            Relu,
            Dropout { rate: 0.5 },
            fc8: Dense { units: 1000 },
            Softmax,
        ],
    }
}

network! {
    /// VGG-16 (Simonyan and Zisserman 2014, configuration D).
    pub struct Vgg16 {
        input: [224, 224, 3],
        layers: [
            block1_conv1: Conv2d { filters: 64, kernel: 3, padding: same },
            Relu,
            block1_conv2: Conv2d { filters: 64, kernel: 3, padding: same },
            Relu,
            MaxPool2d { size: 2, stride: 2 },
            block2_conv1: Conv2d { filters: 128, kernel: 3, padding: same },
            Relu,
            block2_conv2: Conv2d { filters: 128, kernel: 3, padding: same },
            Relu,
            MaxPool2d { size: 2, stride: 2 },
            block3_conv1: Conv2d { filters: 256, kernel: 3, padding: same },
            Relu,
            block3_conv2: Conv2d { filters: 256, kernel: 3, padding: same },
            Relu,
            block3_conv3: Conv2d { filters: 256, kernel: 3, padding: same },
            Relu,
            MaxPool2d { size: 2, stride: 2 },
            block4_conv1: Conv2d { filters: 512, kernel: 3, padding: same },
            Relu,
            block4_conv2: Conv2d { filters: 512, kernel: 3, padding: same },
            Relu,
            block4_conv3: Conv2d { filters: 512, kernel: 3, padding: same },
            Relu,
            MaxPool2d { size: 2, stride: 2 },
            block5_conv1: Conv2d { filters: 512, kernel: 3, padding: same },
            Relu,
            block5_conv2: Conv2d { filters: 512, kernel: 3, padding: same },
            Relu,
            block5_conv3: Conv2d { filters: 512, kernel: 3, padding: same },
            Relu,
            MaxPool2d { size: 2, stride: 2 },
            Flatten,
            fc1: Dense { units: 4096 },
            Relu,
            fc2: Dense { units: 4096 },
            Relu,
            predictions: Dense { units: 1000 },
            Softmax,
        ],
    }
}

network! {
    /// ResNet-18 (He et al. 2015, Table 1) in torchvision's layout: unbiased convolutions, projection shortcuts where the shape changes.
    pub struct ResNet18 {
        input: [224, 224, 3],
        layers: [
            conv1: Conv2d { filters: 64, kernel: 7, stride: 2, padding: 3, bias: false },
            bn1: BatchNorm { epsilon: 0.00001 },
            Relu,
            MaxPool2d { size: 3, stride: 2, padding: 1 },
            layer1_0: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer1_1: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer2_0: Residual {
                body: [
                    conv1: Conv2d { filters: 128, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 128, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
                shortcut: [conv0: Conv2d { filters: 128, kernel: 1, stride: 2, bias: false }, bn0: BatchNorm { epsilon: 0.00001 }],
            },
            Relu,
            layer2_1: Residual {
                body: [
                    conv1: Conv2d { filters: 128, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 128, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer3_0: Residual {
                body: [
                    conv1: Conv2d { filters: 256, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 256, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
                shortcut: [conv0: Conv2d { filters: 256, kernel: 1, stride: 2, bias: false }, bn0: BatchNorm { epsilon: 0.00001 }],
            },
            Relu,
            layer3_1: Residual {
                body: [
                    conv1: Conv2d { filters: 256, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 256, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer4_0: Residual {
                body: [
                    conv1: Conv2d { filters: 512, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 512, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
                shortcut: [conv0: Conv2d { filters: 512, kernel: 1, stride: 2, bias: false }, bn0: BatchNorm { epsilon: 0.00001 }],
            },
            Relu,
            layer4_1: Residual {
                body: [
                    conv1: Conv2d { filters: 512, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 512, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            GlobalAvgPool,
            fc: Dense { units: 1000 },
            Softmax,
        ],
    }
}

network! {
    /// ResNet-34 (He et al. 2015, Table 1) in torchvision's layout: unbiased convolutions, projection shortcuts where the shape changes.
    pub struct ResNet34 {
        input: [224, 224, 3],
        layers: [
            conv1: Conv2d { filters: 64, kernel: 7, stride: 2, padding: 3, bias: false },
            bn1: BatchNorm { epsilon: 0.00001 },
            Relu,
            MaxPool2d { size: 3, stride: 2, padding: 1 },
            layer1_0: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer1_1: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer1_2: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer2_0: Residual {
                body: [
                    conv1: Conv2d { filters: 128, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 128, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
                shortcut: [conv0: Conv2d { filters: 128, kernel: 1, stride: 2, bias: false }, bn0: BatchNorm { epsilon: 0.00001 }],
            },
            Relu,
            layer2_1: Residual {
                body: [
                    conv1: Conv2d { filters: 128, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 128, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer2_2: Residual {
                body: [
                    conv1: Conv2d { filters: 128, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 128, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer2_3: Residual {
                body: [
                    conv1: Conv2d { filters: 128, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 128, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer3_0: Residual {
                body: [
                    conv1: Conv2d { filters: 256, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 256, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
                shortcut: [conv0: Conv2d { filters: 256, kernel: 1, stride: 2, bias: false }, bn0: BatchNorm { epsilon: 0.00001 }],
            },
            Relu,
            layer3_1: Residual {
                body: [
                    conv1: Conv2d { filters: 256, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 256, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer3_2: Residual {
                body: [
                    conv1: Conv2d { filters: 256, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 256, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer3_3: Residual {
                body: [
                    conv1: Conv2d { filters: 256, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 256, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer3_4: Residual {
                body: [
                    conv1: Conv2d { filters: 256, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 256, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer3_5: Residual {
                body: [
                    conv1: Conv2d { filters: 256, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 256, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer4_0: Residual {
                body: [
                    conv1: Conv2d { filters: 512, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 512, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
                shortcut: [conv0: Conv2d { filters: 512, kernel: 1, stride: 2, bias: false }, bn0: BatchNorm { epsilon: 0.00001 }],
            },
            Relu,
            layer4_1: Residual {
                body: [
                    conv1: Conv2d { filters: 512, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 512, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            layer4_2: Residual {
                body: [
                    conv1: Conv2d { filters: 512, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm { epsilon: 0.00001 },
                    Relu,
                    conv2: Conv2d { filters: 512, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm { epsilon: 0.00001 },
                ],
            },
            Relu,
            GlobalAvgPool,
            fc: Dense { units: 1000 },
            Softmax,
        ],
    }
}

network! {
    /// ResNet-50 in the layout of keras.applications.ResNet50 (He et al.
    /// 2015): biased convolutions, batch norm epsilon 1.001e-5, the stride
    /// on the first 1x1 convolution of each stage's first block.
    pub struct ResNet50 {
        input: [224, 224, 3],
        layers: [
            conv1: Conv2d { filters: 64, kernel: 7, stride: 2, padding: 3 },
            conv1_bn: BatchNorm { epsilon: 0.00001001 },
            Relu,
            MaxPool2d { size: 3, stride: 2, padding: 1 },
            conv2_block1: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 1 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 256, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
                shortcut: [
                    conv0: Conv2d { filters: 256, kernel: 1 },
                    bn0: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv2_block2: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 1 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 256, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv2_block3: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 1 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 256, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv3_block1: Residual {
                body: [
                    conv1: Conv2d { filters: 128, kernel: 1, stride: 2 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 128, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 512, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
                shortcut: [
                    conv0: Conv2d { filters: 512, kernel: 1, stride: 2 },
                    bn0: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv3_block2: Residual {
                body: [
                    conv1: Conv2d { filters: 128, kernel: 1 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 128, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 512, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv3_block3: Residual {
                body: [
                    conv1: Conv2d { filters: 128, kernel: 1 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 128, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 512, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv3_block4: Residual {
                body: [
                    conv1: Conv2d { filters: 128, kernel: 1 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 128, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 512, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv4_block1: Residual {
                body: [
                    conv1: Conv2d { filters: 256, kernel: 1, stride: 2 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 256, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 1024, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
                shortcut: [
                    conv0: Conv2d { filters: 1024, kernel: 1, stride: 2 },
                    bn0: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv4_block2: Residual {
                body: [
                    conv1: Conv2d { filters: 256, kernel: 1 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 256, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 1024, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv4_block3: Residual {
                body: [
                    conv1: Conv2d { filters: 256, kernel: 1 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 256, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 1024, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv4_block4: Residual {
                body: [
                    conv1: Conv2d { filters: 256, kernel: 1 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 256, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 1024, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv4_block5: Residual {
                body: [
                    conv1: Conv2d { filters: 256, kernel: 1 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 256, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 1024, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv4_block6: Residual {
                body: [
                    conv1: Conv2d { filters: 256, kernel: 1 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 256, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 1024, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv5_block1: Residual {
                body: [
                    conv1: Conv2d { filters: 512, kernel: 1, stride: 2 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 512, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 2048, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
                shortcut: [
                    conv0: Conv2d { filters: 2048, kernel: 1, stride: 2 },
                    bn0: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv5_block2: Residual {
                body: [
                    conv1: Conv2d { filters: 512, kernel: 1 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 512, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 2048, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            conv5_block3: Residual {
                body: [
                    conv1: Conv2d { filters: 512, kernel: 1 },
                    bn1: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv2: Conv2d { filters: 512, kernel: 3, padding: same },
                    bn2: BatchNorm { epsilon: 0.00001001 },
                    Relu,
                    conv3: Conv2d { filters: 2048, kernel: 1 },
                    bn3: BatchNorm { epsilon: 0.00001001 },
                ],
            },
            Relu,
            GlobalAvgPool,
            predictions: Dense { units: 1000 },
            Softmax,
        ],
    }
}

network! {
    /// GoogLeNet (Inception v1, Szegedy et al. 2014, Table 1) with its two
    /// auxiliary classifiers after inception 4a and 4d (loss weight 0.3).
    /// Local response normalisation is left out, as most reimplementations do.
    pub struct GoogLeNet {
        input: [224, 224, 3],
        layers: [
            conv1: Conv2d { filters: 64, kernel: 7, stride: 2, padding: same },
            Relu,
            MaxPool2d { size: 3, stride: 2, padding: same },
            conv2_reduce: Conv2d { filters: 64, kernel: 1 },
            Relu,
            conv2: Conv2d { filters: 192, kernel: 3, padding: same },
            Relu,
            MaxPool2d { size: 3, stride: 2, padding: same },
            inception3a: Concat {
                branches: [
                    [b1: Conv2d { filters: 64, kernel: 1 }, Relu],
                    [b2_reduce: Conv2d { filters: 96, kernel: 1 }, Relu, b2: Conv2d { filters: 128, kernel: 3, padding: same }, Relu],
                    [b3_reduce: Conv2d { filters: 16, kernel: 1 }, Relu, b3: Conv2d { filters: 32, kernel: 5, padding: same }, Relu],
                    [MaxPool2d { size: 3, stride: 1, padding: same }, b4_proj: Conv2d { filters: 32, kernel: 1 }, Relu],
                ],
            },
            inception3b: Concat {
                branches: [
                    [b1: Conv2d { filters: 128, kernel: 1 }, Relu],
                    [b2_reduce: Conv2d { filters: 128, kernel: 1 }, Relu, b2: Conv2d { filters: 192, kernel: 3, padding: same }, Relu],
                    [b3_reduce: Conv2d { filters: 32, kernel: 1 }, Relu, b3: Conv2d { filters: 96, kernel: 5, padding: same }, Relu],
                    [MaxPool2d { size: 3, stride: 1, padding: same }, b4_proj: Conv2d { filters: 64, kernel: 1 }, Relu],
                ],
            },
            MaxPool2d { size: 3, stride: 2, padding: same },
            inception4a: Concat {
                branches: [
                    [b1: Conv2d { filters: 192, kernel: 1 }, Relu],
                    [b2_reduce: Conv2d { filters: 96, kernel: 1 }, Relu, b2: Conv2d { filters: 208, kernel: 3, padding: same }, Relu],
                    [b3_reduce: Conv2d { filters: 16, kernel: 1 }, Relu, b3: Conv2d { filters: 48, kernel: 5, padding: same }, Relu],
                    [MaxPool2d { size: 3, stride: 1, padding: same }, b4_proj: Conv2d { filters: 64, kernel: 1 }, Relu],
                ],
            },
            aux1: AuxHead {
                weight: 0.3,
                layers: [
                    AvgPool2d { size: 5, stride: 3 },
                    conv: Conv2d { filters: 128, kernel: 1 },
                    Relu,
                    Flatten,
                    fc1: Dense { units: 1024 },
                    Relu,
                    Dropout { rate: 0.7 },
                    fc2: Dense { units: 1000 },
                    Softmax,
                ],
            },
            inception4b: Concat {
                branches: [
                    [b1: Conv2d { filters: 160, kernel: 1 }, Relu],
                    [b2_reduce: Conv2d { filters: 112, kernel: 1 }, Relu, b2: Conv2d { filters: 224, kernel: 3, padding: same }, Relu],
                    [b3_reduce: Conv2d { filters: 24, kernel: 1 }, Relu, b3: Conv2d { filters: 64, kernel: 5, padding: same }, Relu],
                    [MaxPool2d { size: 3, stride: 1, padding: same }, b4_proj: Conv2d { filters: 64, kernel: 1 }, Relu],
                ],
            },
            inception4c: Concat {
                branches: [
                    [b1: Conv2d { filters: 128, kernel: 1 }, Relu],
                    [b2_reduce: Conv2d { filters: 128, kernel: 1 }, Relu, b2: Conv2d { filters: 256, kernel: 3, padding: same }, Relu],
                    [b3_reduce: Conv2d { filters: 24, kernel: 1 }, Relu, b3: Conv2d { filters: 64, kernel: 5, padding: same }, Relu],
                    [MaxPool2d { size: 3, stride: 1, padding: same }, b4_proj: Conv2d { filters: 64, kernel: 1 }, Relu],
                ],
            },
            inception4d: Concat {
                branches: [
                    [b1: Conv2d { filters: 112, kernel: 1 }, Relu],
                    [b2_reduce: Conv2d { filters: 144, kernel: 1 }, Relu, b2: Conv2d { filters: 288, kernel: 3, padding: same }, Relu],
                    [b3_reduce: Conv2d { filters: 32, kernel: 1 }, Relu, b3: Conv2d { filters: 64, kernel: 5, padding: same }, Relu],
                    [MaxPool2d { size: 3, stride: 1, padding: same }, b4_proj: Conv2d { filters: 64, kernel: 1 }, Relu],
                ],
            },
            aux2: AuxHead {
                weight: 0.3,
                layers: [
                    AvgPool2d { size: 5, stride: 3 },
                    conv: Conv2d { filters: 128, kernel: 1 },
                    Relu,
                    Flatten,
                    fc1: Dense { units: 1024 },
                    Relu,
                    Dropout { rate: 0.7 },
                    fc2: Dense { units: 1000 },
                    Softmax,
                ],
            },
            inception4e: Concat {
                branches: [
                    [b1: Conv2d { filters: 256, kernel: 1 }, Relu],
                    [b2_reduce: Conv2d { filters: 160, kernel: 1 }, Relu, b2: Conv2d { filters: 320, kernel: 3, padding: same }, Relu],
                    [b3_reduce: Conv2d { filters: 32, kernel: 1 }, Relu, b3: Conv2d { filters: 128, kernel: 5, padding: same }, Relu],
                    [MaxPool2d { size: 3, stride: 1, padding: same }, b4_proj: Conv2d { filters: 128, kernel: 1 }, Relu],
                ],
            },
            MaxPool2d { size: 3, stride: 2, padding: same },
            inception5a: Concat {
                branches: [
                    [b1: Conv2d { filters: 256, kernel: 1 }, Relu],
                    [b2_reduce: Conv2d { filters: 160, kernel: 1 }, Relu, b2: Conv2d { filters: 320, kernel: 3, padding: same }, Relu],
                    [b3_reduce: Conv2d { filters: 32, kernel: 1 }, Relu, b3: Conv2d { filters: 128, kernel: 5, padding: same }, Relu],
                    [MaxPool2d { size: 3, stride: 1, padding: same }, b4_proj: Conv2d { filters: 128, kernel: 1 }, Relu],
                ],
            },
            inception5b: Concat {
                branches: [
                    [b1: Conv2d { filters: 384, kernel: 1 }, Relu],
                    [b2_reduce: Conv2d { filters: 192, kernel: 1 }, Relu, b2: Conv2d { filters: 384, kernel: 3, padding: same }, Relu],
                    [b3_reduce: Conv2d { filters: 48, kernel: 1 }, Relu, b3: Conv2d { filters: 128, kernel: 5, padding: same }, Relu],
                    [MaxPool2d { size: 3, stride: 1, padding: same }, b4_proj: Conv2d { filters: 128, kernel: 1 }, Relu],
                ],
            },
            GlobalAvgPool,
            Dropout { rate: 0.4 },
            fc: Dense { units: 1000 },
            Softmax,
        ],
    }
}

network! {
    /// ResNet-20 for CIFAR-10 (He et al. 2015, section 4.2): 3 stages of 3 basic blocks with 16, 32, 64 filters, projection shortcuts at the stage starts
    /// (the paper's option B; its Table 6 uses option A, zero padding).
    pub struct ResNet20 {
        input: [32, 32, 3],
        layers: [
            conv1: Conv2d { filters: 16, kernel: 3, padding: same, bias: false },
            bn1: BatchNorm,
            Relu,
            stage1_0: Residual {
                body: [
                    conv1: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage1_1: Residual {
                body: [
                    conv1: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage1_2: Residual {
                body: [
                    conv1: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage2_0: Residual {
                body: [
                    conv1: Conv2d { filters: 32, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
                shortcut: [conv0: Conv2d { filters: 32, kernel: 1, stride: 2, bias: false }, bn0: BatchNorm],
            },
            Relu,
            stage2_1: Residual {
                body: [
                    conv1: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage2_2: Residual {
                body: [
                    conv1: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage3_0: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
                shortcut: [conv0: Conv2d { filters: 64, kernel: 1, stride: 2, bias: false }, bn0: BatchNorm],
            },
            Relu,
            stage3_1: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage3_2: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            GlobalAvgPool,
            fc: Dense { units: 10 },
            Softmax,
        ],
    }
}

network! {
    /// ResNet-56 for CIFAR-10 (He et al. 2015, section 4.2): 3 stages of 9 basic blocks with 16, 32, 64 filters, projection shortcuts at the stage starts
    /// (the paper's option B; its Table 6 uses option A, zero padding).
    pub struct ResNet56 {
        input: [32, 32, 3],
        layers: [
            conv1: Conv2d { filters: 16, kernel: 3, padding: same, bias: false },
            bn1: BatchNorm,
            Relu,
            stage1_0: Residual {
                body: [
                    conv1: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage1_1: Residual {
                body: [
                    conv1: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage1_2: Residual {
                body: [
                    conv1: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage1_3: Residual {
                body: [
                    conv1: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage1_4: Residual {
                body: [
                    conv1: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage1_5: Residual {
                body: [
                    conv1: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage1_6: Residual {
                body: [
                    conv1: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage1_7: Residual {
                body: [
                    conv1: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage1_8: Residual {
                body: [
                    conv1: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 16, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage2_0: Residual {
                body: [
                    conv1: Conv2d { filters: 32, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
                shortcut: [conv0: Conv2d { filters: 32, kernel: 1, stride: 2, bias: false }, bn0: BatchNorm],
            },
            Relu,
            stage2_1: Residual {
                body: [
                    conv1: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage2_2: Residual {
                body: [
                    conv1: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage2_3: Residual {
                body: [
                    conv1: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage2_4: Residual {
                body: [
                    conv1: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage2_5: Residual {
                body: [
                    conv1: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage2_6: Residual {
                body: [
                    conv1: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage2_7: Residual {
                body: [
                    conv1: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage2_8: Residual {
                body: [
                    conv1: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 32, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage3_0: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
                shortcut: [conv0: Conv2d { filters: 64, kernel: 1, stride: 2, bias: false }, bn0: BatchNorm],
            },
            Relu,
            stage3_1: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage3_2: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage3_3: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage3_4: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage3_5: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage3_6: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage3_7: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            stage3_8: Residual {
                body: [
                    conv1: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn1: BatchNorm,
                    Relu,
                    conv2: Conv2d { filters: 64, kernel: 3, padding: 1, bias: false },
                    bn2: BatchNorm,
                ],
            },
            Relu,
            GlobalAvgPool,
            fc: Dense { units: 10 },
            Softmax,
        ],
    }
}

// ---------------------------------------------------------------------------
// Compile-time checks against published figures. Keras counts batch norm's
// moving mean and variance as non-trainable parameters (`PARAMS`), PyTorch
// keeps them as buffers outside `parameters()`: a torchvision figure is
// compared with `TRAINABLE_PARAMS`, a Keras figure with both.
// ---------------------------------------------------------------------------

// LeNet-5 as in DESIGN.md (ReLU, max pooling, a 120-84-10 head): 61,706.
// LeCun et al. (1998) count about 60,000 trainable parameters for theirs.
const _: () = assert!(LeNet5::PARAMS == 61_706);

// AlexNet as one tower on 227x227x3 (no grouped convolutions, no local
// response normalisation): 62,378,344, the figure of the usual one-tower
// reimplementations (e.g. Keras ports). Krizhevsky et al. (2012) say "60
// million" for their two-tower network, whose grouped conv2, conv4 and
// conv5 hold half the weights: 60,965,224.
const _: () = assert!(AlexNet::PARAMS == 62_378_344);

// VGG-16: keras.applications.VGG16 summary (include_top=True), 138,357,544;
// Simonyan and Zisserman (2014), Table 2: 138 million.
const _: () = assert!(Vgg16::PARAMS == 138_357_544);
// 15.47 GMACs: torchvision's model table (its "GFLOPS" column counts
// multiply-adds) gives 15.47 for vgg16; the usual rounding is 15.5G.
const _: () = assert!(Vgg16::MACS > 15_465_000_000 && Vgg16::MACS < 15_475_000_000);

// ResNet-18 and ResNet-34: torchvision's resnet18 / resnet34,
// `sum(p.numel() for p in model.parameters())` = 11,689,512 and 21,797,672
// (torchvision's model table). Those exclude batch norm's running
// statistics (buffers), so they are our TRAINABLE_PARAMS; PARAMS adds
// 2 x 4,800 and 2 x 8,512 moving statistics.
const _: () = assert!(ResNet18::TRAINABLE_PARAMS == 11_689_512);
const _: () = assert!(ResNet18::PARAMS == 11_689_512 + 2 * 4_800);
const _: () = assert!(ResNet34::TRAINABLE_PARAMS == 21_797_672);
const _: () = assert!(ResNet34::PARAMS == 21_797_672 + 2 * 8_512);

// ResNet-50: keras.applications.ResNet50 summary (include_top=True):
// "Total params: 25,636,712, Trainable params: 25,583,592,
// Non-trainable params: 53,120" (the moving statistics of 26,560 channels).
const _: () = assert!(ResNet50::PARAMS == 25_636_712);
const _: () = assert!(ResNet50::TRAINABLE_PARAMS == 25_583_592);
// He et al. (2015), Table 1: 3.8 x 10^9 FLOPs (multiply-adds) for the
// 50-layer net (torchvision's v1.5, stride on the 3x3 convolution, 4.09G).
const _: () = assert!(ResNet50::MACS > 3_800_000_000 && ResNet50::MACS < 3_950_000_000);

// GoogLeNet: Szegedy et al. (2014), Table 1, sums to about 6.8 million
// parameters without the auxiliary classifiers. Our trunk (biases
// included, no local response normalisation) holds 6,998,552; the paper's
// table gives conv1 2.7K where its 7x7x3x64 weights are 9.4K, and rounds
// every row. The two auxiliary heads add 6,379,728 (3,188,840 + 3,190,888:
// 1x1 conv to 128, dense 2048 -> 1024 and 1024 -> 1000), counted in PARAMS
// because they train.
const GOOGLENET_AUX_PARAMS: usize = params_under(GoogLeNet::TENSORS, "aux");
const _: () = assert!(GOOGLENET_AUX_PARAMS == 3_188_840 + 3_190_888);
const GOOGLENET_TRUNK_PARAMS: usize = GoogLeNet::PARAMS - GOOGLENET_AUX_PARAMS;
const _: () = assert!(GOOGLENET_TRUNK_PARAMS > 6_500_000 && GOOGLENET_TRUNK_PARAMS < 7_100_000);
// Multiply-adds: Szegedy et al. (2014), section 5, "1.5 billion multiply-adds";
// Table 1's ops column sums to 1,502M. Ours, without the heads, is
// 1,582,671,872: the table's conv1 row says 34M where 112x112x64 outputs of
// 7x7x3 windows make 118M; with that row ours would be 1,499M. The heads'
// 8,372,224 (4x4x128 outputs of 1x1 convolutions, then the two dense
// layers) are worked out by hand here and read from the summary at run time.
const GOOGLENET_AUX_MACS: u64 = 4 * 4 * 128 * (512 + 528) + 2 * (2048 * 1024 + 1024 * 1000);
const _: () = assert!(GoogLeNet::MACS - GOOGLENET_AUX_MACS == 1_582_671_872);

// ResNet-20 and ResNet-56: He et al. (2015), Table 6, 0.27M and 0.85M.
// Theirs use zero-padding (parameter-free) shortcuts where the shape
// changes (option A); ours use projections (option B), which add
// 16x32 + 32x64 = 2,560 weights and 2 x 96 batch-norm parameters.
const _: () = assert!(ResNet20::TRAINABLE_PARAMS > 265_000 && ResNet20::TRAINABLE_PARAMS < 275_000);
const _: () = assert!(ResNet56::TRAINABLE_PARAMS > 845_000 && ResNet56::TRAINABLE_PARAMS < 860_000);

/// Parameters of the tensors whose layer name starts with `prefix` (the
/// layers of a block named `prefix...`), summed at compile time.
const fn params_under(tensors: &[TensorInfo], prefix: &str) -> usize {
    let p = prefix.as_bytes();
    let mut total = 0;
    let mut i = 0;
    while i < tensors.len() {
        let name = tensors[i].layer.as_bytes();
        let mut matches = name.len() >= p.len();
        let mut k = 0;
        while matches && k < p.len() {
            matches = name[k] == p[k];
            k += 1;
        }
        if matches {
            total += tensors[i].len;
        }
        i += 1;
    }
    total
}

/// One row of the comparison: our compile-time counts beside a published
/// figure and where it comes from.
struct Row {
    name: &'static str,
    params: usize,
    trainable: usize,
    /// Our multiply-adds of the network as published (without auxiliary heads).
    macs: u64,
    published_params: &'static str,
    published_macs: &'static str,
    source: &'static str,
}

/// Multiply-adds of the auxiliary heads (top-level `AuxHead` rows), which
/// the published counts leave out: they are skipped at inference.
fn aux_macs(s: &Summary) -> u64 {
    s.rows
        .iter()
        .filter(|r| r.depth == 0 && r.kind == "AuxHead")
        .map(|r| r.macs)
        .sum()
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "LeNet-5",
            params: LeNet5::PARAMS,
            trainable: LeNet5::TRAINABLE_PARAMS,
            macs: LeNet5::MACS,
            published_params: "~60K",
            published_macs: "-",
            source: "LeCun et al. 1998 (tanh, subsampling, partial C3)",
        },
        Row {
            name: "AlexNet (1 tower)",
            params: AlexNet::PARAMS,
            trainable: AlexNet::TRAINABLE_PARAMS,
            macs: AlexNet::MACS,
            published_params: "60.97M (2 towers)",
            published_macs: "~0.72G (2 towers)",
            source: "Krizhevsky et al. 2012: grouped conv2/4/5 halve those layers",
        },
        Row {
            name: "VGG-16",
            params: Vgg16::PARAMS,
            trainable: Vgg16::TRAINABLE_PARAMS,
            macs: Vgg16::MACS,
            published_params: "138,357,544",
            published_macs: "15.47G",
            source: "keras.applications.VGG16; torchvision model table",
        },
        Row {
            name: "ResNet-18",
            params: ResNet18::PARAMS,
            trainable: ResNet18::TRAINABLE_PARAMS,
            macs: ResNet18::MACS,
            published_params: "11,689,512 trainable",
            published_macs: "1.8G",
            source: "torchvision resnet18; He et al. 2015 Table 1",
        },
        Row {
            name: "ResNet-34",
            params: ResNet34::PARAMS,
            trainable: ResNet34::TRAINABLE_PARAMS,
            macs: ResNet34::MACS,
            published_params: "21,797,672 trainable",
            published_macs: "3.6G",
            source: "torchvision resnet34; He et al. 2015 Table 1",
        },
        Row {
            name: "ResNet-50 (Keras)",
            params: ResNet50::PARAMS,
            trainable: ResNet50::TRAINABLE_PARAMS,
            macs: ResNet50::MACS,
            published_params: "25,636,712",
            published_macs: "3.8G",
            source: "keras.applications.ResNet50; He et al. 2015 Table 1",
        },
        Row {
            name: "GoogLeNet (no aux)",
            params: GOOGLENET_TRUNK_PARAMS,
            trainable: GOOGLENET_TRUNK_PARAMS,
            macs: GoogLeNet::MACS - GOOGLENET_AUX_MACS,
            published_params: "~6.8M",
            published_macs: "~1.5G",
            source: "Szegedy et al. 2014 Table 1, section 5 (conv1 row: 34M, ours 118M)",
        },
        Row {
            name: "ResNet-20 (CIFAR)",
            params: ResNet20::PARAMS,
            trainable: ResNet20::TRAINABLE_PARAMS,
            macs: ResNet20::MACS,
            published_params: "0.27M",
            published_macs: "-",
            source: "He et al. 2015 Table 6 (option A shortcuts)",
        },
        Row {
            name: "ResNet-56 (CIFAR)",
            params: ResNet56::PARAMS,
            trainable: ResNet56::TRAINABLE_PARAMS,
            macs: ResNet56::MACS,
            published_params: "0.85M",
            published_macs: "-",
            source: "He et al. 2015 Table 6 (option A shortcuts)",
        },
    ]
}

/// `15_470_264_320` -> `15.47G`.
fn giga(n: u64) -> String {
    if n >= 1_000_000_000 {
        format!("{:.2}G", n as f64 / 1e9)
    } else {
        format!("{:.1}M", n as f64 / 1e6)
    }
}

fn print_table() {
    println!("Compile-time counts against the published figures");
    println!(
        "{:<19} {:>12} {:>12} {:>21} {:>9} {:>18}  source",
        "network", "params", "trainable", "published params", "MACs", "published MACs"
    );
    for r in rows() {
        println!(
            "{:<19} {:>12} {:>12} {:>21} {:>9} {:>18}  {}",
            r.name,
            thousands(r.params as u64),
            thousands(r.trainable as u64),
            r.published_params,
            giga(r.macs),
            r.published_macs,
            r.source
        );
    }
    let aux = aux_macs(&GoogLeNet::summary());
    assert_eq!(aux, GOOGLENET_AUX_MACS, "the summary's AuxHead rows");
    println!(
        "GoogLeNet with its auxiliary heads: {} parameters ({} in the heads), {} multiply-adds ({} in the heads, skipped by predict)",
        thousands(GoogLeNet::PARAMS as u64),
        thousands(GOOGLENET_AUX_PARAMS as u64),
        thousands(GoogLeNet::MACS),
        thousands(aux)
    );
    println!(
        "ResNet-20: {} trainable parameters (He et al.: 0.27M); ResNet-56: {} (0.85M)",
        thousands(ResNet20::TRAINABLE_PARAMS as u64),
        thousands(ResNet56::TRAINABLE_PARAMS as u64)
    );
}

/// One timed call; returns seconds.
fn timed<T>(f: impl FnOnce() -> Result<T, cnn::Error>) -> Result<f64, cnn::Error> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

/// A training step and a `predict` on `batch` random images, each run
/// twice: the first call sizes the workspace, the second is the one timed.
/// `predict_macs`: the multiply-adds `predict` does per image.
macro_rules! time_net {
    ($net:ty, $label:expr, $batch:expr, $predict_macs:expr) => {{
        let batch: usize = $batch;
        let mut rng = Rng::new(7);
        let [h, w, c] = <$net>::INPUT_SHAPE;
        let x = Array4::from_shape_simple_fn((batch, h, w, c), || rng.normal());
        let y: Vec<usize> = (0..batch).map(|_| rng.below(<$net>::OUTPUT_SIZE)).collect();
        let t = Instant::now();
        let mut net = <$net>::new(1);
        let init = t.elapsed().as_secs_f64();
        let mut opt = Sgd::new(0.01).momentum(0.9);
        let first_step = timed(|| net.train_step(x.view(), &y, &mut opt))?;
        let step = timed(|| net.train_step(x.view(), &y, &mut opt))?;
        let first_predict = timed(|| net.predict(x.view()))?;
        let predict = timed(|| net.predict(x.view()))?;
        let per = |s: f64| 1e3 * s / batch as f64;
        println!(
            "{:<10} batch {batch}: train_step {:>7.1} ms/image (first call {:.1}), predict {:>6.1} ms/image (first call {:.1}); {:.2} GMAC/s forward in predict; init {:.2} s",
            $label,
            per(step),
            per(first_step),
            per(predict),
            per(first_predict),
            ($predict_macs as f64 * batch as f64) / predict / 1e9,
            init,
        );
    }};
}

fn main() {
    let mut run = false;
    let mut quiet = false;
    let mut batch = 2;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|&v| v > 0)
                .unwrap_or_else(|| usage(&format!("{flag} needs a positive whole number")))
        };
        match a.as_str() {
            "--run" => run = true,
            "--quiet" => quiet = true,
            "--batch" => batch = value("--batch"),
            "--threads" => cnn::parallel::set_threads(value("--threads")),
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown option `{other}`")),
        }
    }
    if !quiet {
        for s in [
            LeNet5::summary(),
            AlexNet::summary(),
            Vgg16::summary(),
            ResNet18::summary(),
            ResNet34::summary(),
            ResNet50::summary(),
            GoogLeNet::summary(),
            ResNet20::summary(),
            ResNet56::summary(),
        ] {
            println!("{s}\n");
        }
    }
    print_table();
    if run {
        println!(
            "\nOne SGD training step and one predict on random 224x224x3 images ({} threads)",
            cnn::parallel::threads()
        );
        let timing = || -> Result<(), cnn::Error> {
            time_net!(ResNet50, "ResNet-50", batch, ResNet50::MACS);
            // predict skips the auxiliary heads.
            time_net!(
                GoogLeNet,
                "GoogLeNet",
                batch,
                GoogLeNet::MACS - GOOGLENET_AUX_MACS
            );
            Ok(())
        };
        if let Err(e) = timing() {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

fn usage(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("error: {msg}");
    }
    eprintln!("usage: classic_nets [--quiet] [--run] [--batch N] [--threads N]");
    std::process::exit(2);
}
