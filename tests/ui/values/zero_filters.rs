//! A convolution has at least one filter.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [32, 32, 1],
        layers: [
            conv1: Conv2d { filters: 0, kernel: 5 },
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
