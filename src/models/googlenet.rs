//! GoogLeNet (Inception v1, Szegedy et al. 2014) as torchvision builds it:
//! every convolution unbiased with batch norm (`BasicConv`), the 5x5 branch
//! as a 3x3 (torchvision's, kept for its weights), and the two auxiliary
//! classifiers after inception 4a and 4d, whose losses count 0.3 in
//! training. Names are torchvision's (`inception4a.branch2.1.conv`,
//! `aux1.fc2`).

use cnn_macros::network;

network! {
    /// torchvision's `BasicConv2d`: an unbiased convolution, batch norm
    /// (epsilon 0.001) and ReLU, named `conv` and `bn`.
    pub block BasicConv(filters, kernel: 1, stride: 1, padding: 0) = [
        conv: Conv2d { filters: filters, kernel: kernel, stride: stride, padding: padding, bias: false },
        bn: BatchNorm { epsilon: 0.001 },
        Relu,
    ];

    /// An Inception module: 1x1; 1x1 then 3x3; 1x1 then 3x3 (the paper's
    /// 5x5); 3x3 max pooling then 1x1; concatenated.
    pub block InceptionV1(c1, c3_reduce, c3, c5_reduce, c5, pool_proj) = [
        Concat { branches: [
            [branch1: BasicConv { filters: c1 }],
            [branch2: Sequential { layers: [
                BasicConv { filters: c3_reduce },
                BasicConv { filters: c3, kernel: 3, padding: 1 },
            ] }],
            [branch3: Sequential { layers: [
                BasicConv { filters: c5_reduce },
                BasicConv { filters: c5, kernel: 3, padding: 1 },
            ] }],
            [branch4: Sequential { layers: [
                MaxPool2d { size: 3, stride: 1, padding: 1 },
                BasicConv { filters: pool_proj },
            ] }],
        ] },
    ];

    /// An auxiliary classifier: 4x4 average pooling of the 14x14 maps, a
    /// 1x1 convolution to 128, 1,024 units with 70% dropout, the classes.
    pub block GoogLeNetAux(classes: 1000) = [
        AuxHead { weight: 0.3, layers: [
            AvgPool2d { size: 5, stride: 3 },
            conv: BasicConv { filters: 128 },
            Flatten,
            fc1: Dense { units: 1024 },
            Relu,
            Dropout { rate: 0.7 },
            fc2: Dense { units: classes },
            Softmax,
        ] },
    ];

    /// torchvision's `googlenet` on 224x224x3: 6,624,904 parameters at
    /// 1,000 classes, 13,004,888 with the auxiliary heads (`aux1`, `aux2`),
    /// which train and which `predict` skips.
    pub block GoogLeNet(classes: 1000) = [
        conv1: BasicConv { filters: 64, kernel: 7, stride: 2, padding: 3 },
        maxpool1: MaxPool2d { size: 3, stride: 2, padding: same },
        conv2: BasicConv { filters: 64 },
        conv3: BasicConv { filters: 192, kernel: 3, padding: 1 },
        maxpool2: MaxPool2d { size: 3, stride: 2, padding: same },
        inception3a: InceptionV1 { c1: 64, c3_reduce: 96, c3: 128, c5_reduce: 16, c5: 32, pool_proj: 32 },
        inception3b: InceptionV1 { c1: 128, c3_reduce: 128, c3: 192, c5_reduce: 32, c5: 96, pool_proj: 64 },
        maxpool3: MaxPool2d { size: 3, stride: 2, padding: same },
        inception4a: InceptionV1 { c1: 192, c3_reduce: 96, c3: 208, c5_reduce: 16, c5: 48, pool_proj: 64 },
        aux1: GoogLeNetAux { classes: classes },
        inception4b: InceptionV1 { c1: 160, c3_reduce: 112, c3: 224, c5_reduce: 24, c5: 64, pool_proj: 64 },
        inception4c: InceptionV1 { c1: 128, c3_reduce: 128, c3: 256, c5_reduce: 24, c5: 64, pool_proj: 64 },
        inception4d: InceptionV1 { c1: 112, c3_reduce: 144, c3: 288, c5_reduce: 32, c5: 64, pool_proj: 64 },
        aux2: GoogLeNetAux { classes: classes },
        inception4e: InceptionV1 { c1: 256, c3_reduce: 160, c3: 320, c5_reduce: 32, c5: 128, pool_proj: 128 },
        maxpool4: MaxPool2d { size: 2, stride: 2, padding: same },
        inception5a: InceptionV1 { c1: 256, c3_reduce: 160, c3: 320, c5_reduce: 32, c5: 128, pool_proj: 128 },
        inception5b: InceptionV1 { c1: 384, c3_reduce: 192, c3: 384, c5_reduce: 48, c5: 128, pool_proj: 128 },
        GlobalAvgPool,
        Dropout { rate: 0.2 },
        fc: Dense { units: classes },
        Softmax,
    ];
}
