//! Output padding is below the stride or the dilation (PyTorch's rule).
use cnn::prelude::*;
network! {
    pub struct Net {
        input: [5, 5, 4],
        layers: [
            up: ConvTranspose2d { filters: 2, kernel: 3, stride: 2, padding: 1, output_padding: 2 },
            Flatten,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

fn main() {}
