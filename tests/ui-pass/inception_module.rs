//! GoogLeNet's inception (3a) module, branches concatenated along channels,
//! and an auxiliary classifier head.
use cnn::prelude::*;

network! {
    pub struct Inception {
        input: [28, 28, 192],
        layers: [
            inception_3a: Concat {
                branches: [
                    [b1: Conv2d { filters: 64, kernel: 1 }, Relu],
                    [Conv2d { filters: 96, kernel: 1 }, Relu, b2: Conv2d { filters: 128, kernel: 3, padding: same }, Relu],
                    [Conv2d { filters: 16, kernel: 1 }, Relu, b3: Conv2d { filters: 32, kernel: 5, padding: same }, Relu],
                    [MaxPool2d { size: 3, stride: 1, padding: same }, b4: Conv2d { filters: 32, kernel: 1 }, Relu],
                ],
            },
            aux1: AuxHead {
                weight: 0.3,
                layers: [
                    AvgPool2d { size: 5, stride: 3 },
                    Conv2d { filters: 128, kernel: 1 },
                    Relu,
                    Flatten,
                    Dense { units: 1024 },
                    Relu,
                    Dropout { rate: 0.7 },
                    Dense { units: 10 },
                    Softmax,
                ],
            },
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

const _: () = assert!(Inception::OUTPUT_SIZE == 10);
