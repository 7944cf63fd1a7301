//! Dense needs a flat input: suggest Flatten or GlobalAvgPool.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [32, 32, 1],
        layers: [
            conv1: Conv2d { filters: 6, kernel: 5 },
            Relu,
            MaxPool2d { size: 2 },
            fc1: Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
