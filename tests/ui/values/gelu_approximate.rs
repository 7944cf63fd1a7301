//! GELU's approximation is PyTorch's word: `none` (exact) or `tanh`.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [16],
        layers: [
            Dense { units: 32 },
            Gelu { approximate: tahn },
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
