//! A 2D kind on a sequence and a 1D kind on an image: each is an error
//! that names the kind to use.
use cnn::prelude::*;

network! {
    pub struct OnSequence {
        input: [150, 1],
        layers: [
            conv: Conv2d { filters: 8, kernel: 3 },
            GlobalAvgPool,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

network! {
    pub struct OnImage {
        input: [28, 28, 1],
        layers: [
            pool: MaxPool1d { size: 2 },
            Flatten,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

fn main() {}
