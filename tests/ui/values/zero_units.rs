//! A dense layer has at least one unit.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [16],
        layers: [
            fc1: Dense { units: 0 },
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
