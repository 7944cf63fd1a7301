//! A stage of zero blocks.
use cnn::prelude::*;

network! {
    block Unit(filters) = [Conv2d { filters: filters, kernel: 3, padding: same }, Relu];

    pub struct Net {
        input: [8, 8, 1],
        layers: [
            layer1: Stage { block: Unit { filters: 4 }, repeat: 0 },
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
