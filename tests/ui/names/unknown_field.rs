//! The network's fields are `input` and `layers`.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [32, 32, 1],
        layer: [Flatten, Dense { units: 10 }, Softmax],
    }
}

fn main() {}
