//! Group norm's groups divide the channels.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [8, 8, 3],
        layers: [
            Conv2d { filters: 12, kernel: 3 },
            gn: GroupNorm { groups: 5 },
            Relu,
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
