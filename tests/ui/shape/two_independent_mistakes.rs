//! Independent mistakes all show up in one build.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [28, 28, 1],
        layers: [
            conv1: Conv2d { filters: 6, kernel: 5, strides: 1 },
            Relu,
            Dropout { rate: 1.5 },
            MaxPool2d { size: 2 },
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
