//! A gate whose body keeps the positions but changes the channels: the
//! help suggests a 1x1 convolution back to the input's channels.
use cnn::prelude::*;

network! {
    pub struct Net {
        input: [8, 8, 16],
        layers: [
            sa: Gate { body: [Conv2d { filters: 1, kernel: 3, padding: same }, Sigmoid] },
            GlobalAvgPool,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
