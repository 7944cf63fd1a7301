//! groups must divide the input channels and the filters.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [16, 16, 6],
        layers: [
            grouped: Conv2d { filters: 8, kernel: 3, groups: 4 },
            Relu,
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
