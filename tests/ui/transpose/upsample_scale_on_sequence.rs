//! A sequence is upsampled along its length: one scale.
use cnn::prelude::*;
network! {
    pub struct Net {
        input: [32, 4],
        layers: [
            up: Upsample { scale: [2, 2] },
            Flatten,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

fn main() {}
