//! Layer norm's epsilon is above 0, and group norm needs `groups`.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [8, 8, 3],
        layers: [
            ln: LayerNorm { epsilon: 0.0 },
            gn: GroupNorm,
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
