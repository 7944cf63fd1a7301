//! A transposed convolution takes its padding as numbers (PyTorch's has no same).
use cnn::prelude::*;
network! {
    pub struct Net {
        input: [8, 8, 4],
        layers: [
            up: ConvTranspose2d { filters: 2, kernel: 3, padding: same },
            Flatten,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

fn main() {}
