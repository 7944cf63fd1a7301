//! Softmax is the last layer: training fuses it with the loss.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [16],
        layers: [
            Dense { units: 10 },
            Softmax,
            Dense { units: 10 },
        ],
    }
}

fn main() {}
