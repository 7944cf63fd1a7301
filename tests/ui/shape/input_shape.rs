//! The input is [height, width, channels], [length, channels], [depth, height,
//! width, channels] or [features].
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [16, 32, 32, 1, 1],
        layers: [
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
