//! Bilinear upsampling is for images; a sequence takes linear.
use cnn::prelude::*;
network! {
    pub struct Net {
        input: [32, 4],
        layers: [
            up: Upsample { scale: 2, mode: bilinear },
            Flatten,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

fn main() {}
