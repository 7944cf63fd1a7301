//! Branches are concatenated along channels: height and width must agree.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [28, 28, 192],
        layers: [
            inception: Concat {
                branches: [
                    [Conv2d { filters: 64, kernel: 1 }],
                    [Conv2d { filters: 96, kernel: 1 }, Conv2d { filters: 128, kernel: 3 }],
                    [MaxPool2d { size: 3, stride: 1, padding: same }, Conv2d { filters: 32, kernel: 1 }],
                ],
            },
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
