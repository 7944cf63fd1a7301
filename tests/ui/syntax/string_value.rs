//! Values are numbers, lists or words, not strings.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [32, 32, 1],
        layers: [
            Conv2d { filters: 6, kernel: 5, padding: "same" },
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
