//! A residual block has a body.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [8, 8, 4],
        layers: [
            res1: Residual { body: [] },
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
