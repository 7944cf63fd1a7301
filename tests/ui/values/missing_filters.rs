//! Required keys: `filters` and `kernel` for Conv2d.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [32, 32, 1],
        layers: [
            conv1: Conv2d { kernel: 5 },
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
