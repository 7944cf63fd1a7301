//! The input's h * w * c must fit in usize.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [4294967296, 4294967296, 3],
        layers: [
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
