//! Counts are checked: inputs * units overflows.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [1024],
        layers: [
            fc1: Dense { units: 18446744073709551615 },
            Softmax,
        ],
    }
}

fn main() {}
