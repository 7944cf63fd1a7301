//! An unknown upsampling mode gets the closest valid one.
use cnn::prelude::*;
network! {
    pub struct Net {
        input: [8, 8, 4],
        layers: [
            up: Upsample { scale: 2, mode: bilnear },
            Flatten,
            Dense { units: 2 },
            Softmax,
        ],
    }
}

fn main() {}
