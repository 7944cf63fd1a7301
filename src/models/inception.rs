//! Inception v3 (Szegedy et al. 2015, "Rethinking the Inception
//! Architecture") as torchvision builds it on 299x299x3: factorised
//! convolutions (1x7 then 7x1, 1x3 beside 3x1), grid reductions that pool
//! and convolve side by side, and an auxiliary classifier after `Mixed_6e`.
//! Every convolution is torchvision's `BasicConv2d` (unbiased, batch norm
//! with epsilon 0.001, ReLU: the zoo's `BasicConv`); names are torchvision's
//! (`Mixed_6b.branch7x7dbl_3.conv`, `AuxLogits.fc`).

use cnn_macros::network;

use super::googlenet::BasicConv;

network! {
    /// 35x35 module (torchvision's `InceptionA`).
    pub block InceptionA(pool_features) = [
        Concat { branches: [
            [branch1x1: BasicConv { filters: 64 }],
            [
                branch5x5_1: BasicConv { filters: 48 },
                branch5x5_2: BasicConv { filters: 64, kernel: 5, padding: 2 },
            ],
            [
                branch3x3dbl_1: BasicConv { filters: 64 },
                branch3x3dbl_2: BasicConv { filters: 96, kernel: 3, padding: 1 },
                branch3x3dbl_3: BasicConv { filters: 96, kernel: 3, padding: 1 },
            ],
            [
                AvgPool2d { size: 3, stride: 1, padding: 1 },
                branch_pool: BasicConv { filters: pool_features },
            ],
        ] },
    ];

    /// 35x35 to 17x17 (torchvision's `InceptionB`).
    pub block InceptionB() = [
        Concat { branches: [
            [branch3x3: BasicConv { filters: 384, kernel: 3, stride: 2 }],
            [
                branch3x3dbl_1: BasicConv { filters: 64 },
                branch3x3dbl_2: BasicConv { filters: 96, kernel: 3, padding: 1 },
                branch3x3dbl_3: BasicConv { filters: 96, kernel: 3, stride: 2 },
            ],
            [MaxPool2d { size: 3, stride: 2 }],
        ] },
    ];

    /// 17x17 module with 7x7 convolutions factorised into 1x7 and 7x1
    /// (torchvision's `InceptionC`), `c7` channels inside.
    pub block InceptionC(c7) = [
        Concat { branches: [
            [branch1x1: BasicConv { filters: 192 }],
            [
                branch7x7_1: BasicConv { filters: c7 },
                branch7x7_2: BasicConv { filters: c7, kernel: [1, 7], padding: same },
                branch7x7_3: BasicConv { filters: 192, kernel: [7, 1], padding: same },
            ],
            [
                branch7x7dbl_1: BasicConv { filters: c7 },
                branch7x7dbl_2: BasicConv { filters: c7, kernel: [7, 1], padding: same },
                branch7x7dbl_3: BasicConv { filters: c7, kernel: [1, 7], padding: same },
                branch7x7dbl_4: BasicConv { filters: c7, kernel: [7, 1], padding: same },
                branch7x7dbl_5: BasicConv { filters: 192, kernel: [1, 7], padding: same },
            ],
            [
                AvgPool2d { size: 3, stride: 1, padding: 1 },
                branch_pool: BasicConv { filters: 192 },
            ],
        ] },
    ];

    /// 17x17 to 8x8 (torchvision's `InceptionD`).
    pub block InceptionD() = [
        Concat { branches: [
            [
                branch3x3_1: BasicConv { filters: 192 },
                branch3x3_2: BasicConv { filters: 320, kernel: 3, stride: 2 },
            ],
            [
                branch7x7x3_1: BasicConv { filters: 192 },
                branch7x7x3_2: BasicConv { filters: 192, kernel: [1, 7], padding: same },
                branch7x7x3_3: BasicConv { filters: 192, kernel: [7, 1], padding: same },
                branch7x7x3_4: BasicConv { filters: 192, kernel: 3, stride: 2 },
            ],
            [MaxPool2d { size: 3, stride: 2 }],
        ] },
    ];

    /// 8x8 module whose 3x3 branches end in a 1x3 and a 3x1 side by side
    /// (torchvision's `InceptionE`).
    pub block InceptionE() = [
        Concat { branches: [
            [branch1x1: BasicConv { filters: 320 }],
            [
                branch3x3_1: BasicConv { filters: 384 },
                Concat { branches: [
                    [branch3x3_2a: BasicConv { filters: 384, kernel: [1, 3], padding: same }],
                    [branch3x3_2b: BasicConv { filters: 384, kernel: [3, 1], padding: same }],
                ] },
            ],
            [
                branch3x3dbl_1: BasicConv { filters: 448 },
                branch3x3dbl_2: BasicConv { filters: 384, kernel: 3, padding: 1 },
                Concat { branches: [
                    [branch3x3dbl_3a: BasicConv { filters: 384, kernel: [1, 3], padding: same }],
                    [branch3x3dbl_3b: BasicConv { filters: 384, kernel: [3, 1], padding: same }],
                ] },
            ],
            [
                AvgPool2d { size: 3, stride: 1, padding: 1 },
                branch_pool: BasicConv { filters: 192 },
            ],
        ] },
    ];

    /// torchvision's `inception_v3` on 299x299x3: 23,834,568 parameters at
    /// 1,000 classes, 27,161,264 with the auxiliary classifier `AuxLogits`
    /// (which trains with weight 0.4 and which `predict` skips).
    pub block InceptionV3(classes: 1000) = [
        Conv2d_1a_3x3: BasicConv { filters: 32, kernel: 3, stride: 2 },
        Conv2d_2a_3x3: BasicConv { filters: 32, kernel: 3 },
        Conv2d_2b_3x3: BasicConv { filters: 64, kernel: 3, padding: 1 },
        maxpool1: MaxPool2d { size: 3, stride: 2 },
        Conv2d_3b_1x1: BasicConv { filters: 80 },
        Conv2d_4a_3x3: BasicConv { filters: 192, kernel: 3 },
        maxpool2: MaxPool2d { size: 3, stride: 2 },
        Mixed_5b: InceptionA { pool_features: 32 },
        Mixed_5c: InceptionA { pool_features: 64 },
        Mixed_5d: InceptionA { pool_features: 64 },
        Mixed_6a: InceptionB {},
        Mixed_6b: InceptionC { c7: 128 },
        Mixed_6c: InceptionC { c7: 160 },
        Mixed_6d: InceptionC { c7: 160 },
        Mixed_6e: InceptionC { c7: 192 },
        AuxLogits: AuxHead { weight: 0.4, layers: [
            AvgPool2d { size: 5, stride: 3 },
            conv0: BasicConv { filters: 128 },
            conv1: BasicConv { filters: 768, kernel: 5 },
            GlobalAvgPool,
            fc: Dense { units: classes },
            Softmax,
        ] },
        Mixed_7a: InceptionD {},
        Mixed_7b: InceptionE {},
        Mixed_7c: InceptionE {},
        GlobalAvgPool,
        Dropout { rate: 0.5 },
        fc: Dense { units: classes },
        Softmax,
    ];
}
