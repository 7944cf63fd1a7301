//! A given shortcut must end in the body's shape too.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [56, 56, 64],
        layers: [
            res3a: Residual {
                body: [Conv2d { filters: 128, kernel: 3, stride: 2, padding: 1 }, BatchNorm],
                shortcut: [Conv2d { filters: 64, kernel: 1, stride: 2 }],
            },
            Relu,
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
