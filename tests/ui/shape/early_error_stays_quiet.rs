//! Once a shape is wrong, the later layers (which would fail on it) stay quiet:
//! one mistake, one error.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [5, 5, 1],
        layers: [
            conv1: Conv2d { filters: 6, kernel: 7 },
            MaxPool2d { size: 2 },
            conv2: Conv2d { filters: 16, kernel: 5 },
            fc1: Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
