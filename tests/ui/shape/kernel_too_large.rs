//! A convolution's kernel must fit its padded input.
use cnn::prelude::*;
network! {
    pub struct Net {
        input: [5, 5, 3],
        layers: [
            conv1: Conv2d { filters: 8, kernel: 3, padding: 1 },
            Relu,
            conv2: Conv2d { filters: 16, kernel: 7 },
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
