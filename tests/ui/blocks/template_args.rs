//! A use with a misspelt argument and one without a required one.
use cnn::prelude::*;

network! {
    block Unit(filters, stride: 1) = [Conv2d { filters: filters, kernel: 3, stride: stride, padding: same }, Relu];

    pub struct Net {
        input: [8, 8, 1],
        layers: [
            a: Unit { filter: 4 },
            b: Unit { filters: 4, strides: 2 },
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
