//! A scale's init is a finite f32, and a scale takes no other key.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [8, 8, 3],
        layers: [
            ls: Scale { init: 1e39 },
            ls2: Scale { inti: 0.5 },
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
