//! An aux head learns the network's labels: same number of classes.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [16, 16, 8],
        layers: [
            aux1: AuxHead { weight: 0.3, layers: [GlobalAvgPool, Dense { units: 100 }, Softmax] },
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
