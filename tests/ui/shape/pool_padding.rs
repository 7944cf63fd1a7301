//! A pool's padding is smaller than its window.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [8, 8, 3],
        layers: [
            pool1: MaxPool2d { size: 2, padding: 2 },
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
