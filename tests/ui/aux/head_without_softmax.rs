//! An aux head's loss is a cross-entropy: it ends in Softmax.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [16, 16, 8],
        layers: [
            aux1: AuxHead { weight: 0.3, layers: [GlobalAvgPool, Dense { units: 10 }] },
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
