//! DenseNet-121 (Huang et al. 2017) as torchvision builds it: four dense
//! blocks of 6, 12, 24 and 16 layers (growth rate 32, bottleneck width 4 x
//! 32), each layer's 32 new channels concatenated to all before them, and
//! transitions that halve the channels and the size between blocks. Names
//! are torchvision's (`features.denseblock2.denselayer7.conv1`).

use cnn_macros::network;

network! {
    /// One dense layer: batch norm, ReLU, 1x1 convolution to 128 channels,
    /// batch norm, ReLU, 3x3 convolution to 32, concatenated to its input.
    pub block DenseLayer(growth: 32, width: 4) = [
        Concat { branches: [
            [],
            [
                norm1: BatchNorm { epsilon: 0.00001 },
                relu1: Relu,
                conv1: Conv2d { filters: width * growth, kernel: 1, bias: false },
                norm2: BatchNorm { epsilon: 0.00001 },
                relu2: Relu,
                conv2: Conv2d { filters: growth, kernel: 3, padding: 1, bias: false },
            ],
        ] },
    ];

    /// A transition: batch norm, ReLU, a 1x1 convolution to `filters` and
    /// 2x2 average pooling.
    pub block Transition(filters) = [
        norm: BatchNorm { epsilon: 0.00001 },
        relu: Relu,
        conv: Conv2d { filters: filters, kernel: 1, bias: false },
        pool: AvgPool2d { size: 2 },
    ];

    /// torchvision's `densenet121`: 7,978,856 parameters at 1,000 classes.
    pub block DenseNet121(classes: 1000) = [
        features: Sequential { layers: [
            conv0: Conv2d { filters: 64, kernel: 7, stride: 2, padding: 3, bias: false },
            norm0: BatchNorm { epsilon: 0.00001 },
            relu0: Relu,
            pool0: MaxPool2d { size: 3, stride: 2, padding: 1 },
            denseblock1: Sequential { layers: [
                denselayer1: DenseLayer {},
                denselayer2: DenseLayer {},
                denselayer3: DenseLayer {},
                denselayer4: DenseLayer {},
                denselayer5: DenseLayer {},
                denselayer6: DenseLayer {},
            ] },
            transition1: Transition { filters: 128 },
            denseblock2: Sequential { layers: [
                denselayer1: DenseLayer {},
                denselayer2: DenseLayer {},
                denselayer3: DenseLayer {},
                denselayer4: DenseLayer {},
                denselayer5: DenseLayer {},
                denselayer6: DenseLayer {},
                denselayer7: DenseLayer {},
                denselayer8: DenseLayer {},
                denselayer9: DenseLayer {},
                denselayer10: DenseLayer {},
                denselayer11: DenseLayer {},
                denselayer12: DenseLayer {},
            ] },
            transition2: Transition { filters: 256 },
            denseblock3: Sequential { layers: [
                denselayer1: DenseLayer {},
                denselayer2: DenseLayer {},
                denselayer3: DenseLayer {},
                denselayer4: DenseLayer {},
                denselayer5: DenseLayer {},
                denselayer6: DenseLayer {},
                denselayer7: DenseLayer {},
                denselayer8: DenseLayer {},
                denselayer9: DenseLayer {},
                denselayer10: DenseLayer {},
                denselayer11: DenseLayer {},
                denselayer12: DenseLayer {},
                denselayer13: DenseLayer {},
                denselayer14: DenseLayer {},
                denselayer15: DenseLayer {},
                denselayer16: DenseLayer {},
                denselayer17: DenseLayer {},
                denselayer18: DenseLayer {},
                denselayer19: DenseLayer {},
                denselayer20: DenseLayer {},
                denselayer21: DenseLayer {},
                denselayer22: DenseLayer {},
                denselayer23: DenseLayer {},
                denselayer24: DenseLayer {},
            ] },
            transition3: Transition { filters: 512 },
            denseblock4: Sequential { layers: [
                denselayer1: DenseLayer {},
                denselayer2: DenseLayer {},
                denselayer3: DenseLayer {},
                denselayer4: DenseLayer {},
                denselayer5: DenseLayer {},
                denselayer6: DenseLayer {},
                denselayer7: DenseLayer {},
                denselayer8: DenseLayer {},
                denselayer9: DenseLayer {},
                denselayer10: DenseLayer {},
                denselayer11: DenseLayer {},
                denselayer12: DenseLayer {},
                denselayer13: DenseLayer {},
                denselayer14: DenseLayer {},
                denselayer15: DenseLayer {},
                denselayer16: DenseLayer {},
            ] },
            norm5: BatchNorm { epsilon: 0.00001 },
        ] },
        Relu,
        GlobalAvgPool,
        classifier: Dense { units: classes },
        Softmax,
    ];
}
