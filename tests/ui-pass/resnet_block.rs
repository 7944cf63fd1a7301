//! ResNet bottleneck blocks: a projection shortcut where the shape changes,
//! identity where it does not.
use cnn::prelude::*;

network! {
    pub struct ResNetBlocks {
        input: [56, 56, 64],
        layers: [
            res3a: Residual {
                body: [
                    Conv2d { filters: 128, kernel: 1, stride: 2 }, BatchNorm, Relu,
                    Conv2d { filters: 128, kernel: 3, padding: same }, BatchNorm, Relu,
                    Conv2d { filters: 512, kernel: 1 }, BatchNorm,
                ],
                shortcut: [Conv2d { filters: 512, kernel: 1, stride: 2 }, BatchNorm],
            },
            Relu,
            res3b: Residual {
                body: [
                    Conv2d { filters: 128, kernel: 1 }, BatchNorm, Relu,
                    Conv2d { filters: 128, kernel: 3, padding: 1 }, BatchNorm, Relu,
                    Conv2d { filters: 512, kernel: 1 }, BatchNorm,
                ],
            },
            Relu,
            GlobalAvgPool,
            Dense { units: 100 },
            Softmax,
        ],
    }
}

const _: () = assert!(ResNetBlocks::OUTPUT_SIZE == 100);
const _: () = assert!(ResNetBlocks::INPUT_SHAPE[2] == 64);
