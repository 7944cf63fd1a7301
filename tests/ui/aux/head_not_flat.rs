//! An aux head ends in a flat vector of class scores.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [16, 16, 8],
        layers: [
            aux1: AuxHead { weight: 0.3, layers: [AvgPool2d { size: 4 }, Conv2d { filters: 16, kernel: 1 }] },
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
