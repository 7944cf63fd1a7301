//! A dropout rate is in [0, 1).
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [16],
        layers: [
            Dense { units: 32 },
            Relu,
            Dropout { rate: 1.0 },
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
