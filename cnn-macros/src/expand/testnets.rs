//! Checked networks for the back end's unit tests, through the real front
//! end (`crate::tests::good` parses, lowers, checks and counts a string).

use crate::ir::Net;

pub fn net(src: &str) -> Net {
    crate::tests::good(src)
}

/// LeNet-5 as in docs/design.md.
pub fn lenet5() -> Net {
    net("pub struct LeNet5 {
        input: [32, 32, 1],
        layers: [
            conv1: Conv2d { filters: 6, kernel: 5 },
            Relu,
            MaxPool2d { size: 2, stride: 2 },
            conv2: Conv2d { filters: 16, kernel: 5 },
            Relu,
            MaxPool2d { size: 2, stride: 2 },
            Flatten,
            fc3: Dense { units: 120 },
            Relu,
            fc4: Dense { units: 84 },
            Relu,
            fc5: Dense { units: 10 },
            Softmax,
        ],
    }")
}

/// conv -> batch norm -> relu -> dropout -> global pool -> dense.
pub fn bn_net() -> Net {
    net("struct BnNet {
        input: [6, 6, 3],
        layers: [
            conv: Conv2d { filters: 8, kernel: 3 },
            bn: BatchNorm,
            Relu,
            Dropout { rate: 0.5 },
            GlobalAvgPool,
            out: Dense { units: 4 },
            Softmax,
        ],
    }")
}
