//! The output size divides by the stride.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [32, 32, 1],
        layers: [
            conv1: Conv2d { filters: 6, kernel: 5, stride: 0 },
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
