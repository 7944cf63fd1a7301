//! Shape arithmetic is checked: n + 2p overflows.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [32, 32, 1],
        layers: [
            conv1: Conv2d { filters: 6, kernel: 5, padding: 18446744073709551615 },
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
