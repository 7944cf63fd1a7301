//! Softmax needs a flat vector of class scores.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [8, 8, 3],
        layers: [
            Conv2d { filters: 10, kernel: 3 },
            Softmax,
        ],
    }
}

fn main() {}
