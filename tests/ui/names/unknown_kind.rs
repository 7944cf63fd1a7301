//! An unknown layer kind names the closest valid one.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [32, 32, 1],
        layers: [
            conv1: Conv2D { filters: 6, kernel: 5 },
            Relu,
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
