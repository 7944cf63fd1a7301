//! A dilated kernel's window, d(f-1)+1, must fit its padded input; the
//! error points at the dilation when the kernel alone would fit.
use cnn::prelude::*;
network! {
    pub struct Net {
        input: [8, 8, 3],
        layers: [
            conv1: Conv2d { filters: 8, kernel: 3, dilation: 2 },
            Relu,
            conv2: Conv2d { filters: 16, kernel: 3, dilation: 2 },
            Flatten,
            Dense { units: 10 },
            Softmax,
        ],
    }
}

fn main() {}
