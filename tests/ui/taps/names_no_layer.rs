//! A tap names a layer of the network by its full name; a misspelt one is
//! an error at the name, with the closest layer.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [8, 8, 1],
        layers: [
            conv4_2: Conv2d { filters: 2, kernel: 3 },
            Relu,
            block: Residual { body: [inner: Conv2d { filters: 2, kernel: 1 }] },
            Flatten,
            fc: Dense { units: 3 },
        ],
        taps: [conv4_1, block.inner, blok],
    }
}

fn main() {}
