//! A gate's body gives one factor per channel or one per element: a body
//! that ends in another shape cannot multiply the input.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [8, 8, 16],
        layers: [
            se: Gate { body: [GlobalAvgPool, Dense { units: 4 }, Relu, Dense { units: 8 }, Sigmoid] },
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
