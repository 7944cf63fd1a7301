//! Batch norm's momentum is in [0, 1).
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [16],
        layers: [
            Dense { units: 32 },
            bn1: BatchNorm { momentum: 1.5 },
            Relu,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
