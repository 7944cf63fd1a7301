//! Each key takes values of one type.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [32, 32, 1],
        layers: [
            conv1: Conv2d { filters: 6, kernel: same },
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
