//! A spatial layer needs an image, not a flat vector.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [32, 32, 1],
        layers: [
            Flatten,
            conv1: Conv2d { filters: 6, kernel: 5 },
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
