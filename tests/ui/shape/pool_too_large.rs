//! A pool window must fit its padded input.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [8, 8, 3],
        layers: [
            MaxPool2d { size: 2 },
            MaxPool2d { size: 2 },
            pool3: MaxPool2d { size: 3 },
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
