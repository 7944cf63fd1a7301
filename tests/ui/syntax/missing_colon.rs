//! A key without `:` is a syntax error, reported where the `:` belongs.
use cnn::prelude::*;

network! {
    pub struct Net {
        input [32, 32, 1],
        layers: [Flatten, Dense { units: 10 }, Softmax],
    }
}

fn main() {
    // The struct is still declared, so this line adds no error.
    let _ = Net::PARAMS;
}
