//! A transposed convolution of the wrong rank names the kind to use.
use cnn::prelude::*;
network! {
    pub struct Net {
        input: [32, 4],
        layers: [
            up: ConvTranspose2d { filters: 2, kernel: 2, stride: 2 },
            Flatten,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

fn main() {}
