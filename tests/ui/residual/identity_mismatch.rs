//! The body's output is added to the input: the shapes must match;
//! the help computes the projection shortcut that fixes it.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [56, 56, 64],
        layers: [
            res3a: Residual {
                body: [
                    Conv2d { filters: 128, kernel: 1, stride: 2 }, BatchNorm, Relu,
                    Conv2d { filters: 128, kernel: 3, padding: same }, BatchNorm,
                ],
            },
            Relu,
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
