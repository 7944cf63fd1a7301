//! A mistake that only the third use of a template makes: the message names
//! that use (`layer3.0.conv2`), at the use and at the template's line.
use cnn::prelude::*;

network! {
    block Shrink(filters, kernel: 3) = [
        conv1: Conv2d { filters: filters, kernel: 3, padding: same },
        Relu,
        conv2: Conv2d { filters: filters, kernel: kernel },
        Relu,
    ];

    pub struct Net {
        input: [8, 8, 1],
        layers: [
            layer1: Shrink { filters: 4 },
            layer2: Shrink { filters: 8 },
            layer3: Stage { block: Shrink { filters: 16, kernel: 5 }, repeat: 1 },
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
