//! The input is [height, width, channels] or [features].
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [32, 32],
        layers: [
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
