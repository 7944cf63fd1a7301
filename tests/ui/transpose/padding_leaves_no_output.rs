//! A transposed convolution's padding cuts p rows and columns from each end of its output and must leave some.
use cnn::prelude::*;
network! {
    pub struct Net {
        input: [3, 3, 4],
        layers: [
            up: ConvTranspose2d { filters: 2, kernel: 3, padding: 4 },
            Flatten,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

fn main() {}
