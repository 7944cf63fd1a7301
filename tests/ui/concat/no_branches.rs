//! A concat has at least one branch.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [8, 8, 4],
        layers: [
            inception: Concat { branches: [] },
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
