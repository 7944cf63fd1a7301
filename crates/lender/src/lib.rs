//! Blocks and a network declared for another crate (`cnn-borrower`) to
//! use: `pub block` and `pub struct` are lent across crates, by path or
//! by `use`. `Unit` is private to this crate but `Trunk`, which uses it,
//! is not: what a lent block uses travels with it.

use cnn::prelude::*;

network! {
    /// A convolution, batch norm and ReLU (used by `Trunk`; not lent).
    block Unit(filters, kernel: 3) = [
        conv: Conv2d { filters: filters, kernel: kernel, padding: same, bias: false },
        bn: BatchNorm,
        Relu,
    ];
}

network! {
    /// Two units and a pooling: a trunk for small images.
    pub block Trunk(width: 8) = [
        unit1: Unit { filters: width },
        pool: MaxPool2d { size: 2 },
        unit2: Unit { filters: 2 * width },
        GlobalAvgPool,
    ];

    /// The trunk and 10 class scores (no softmax: it is used as a layer) on 16x16 grey images.
    pub struct Small {
        input: [16, 16, 1],
        layers: [trunk: Trunk, fc: Dense { units: 10 }],
    }
}

network! {
    /// A block whose body has a shape error only when used on input too
    /// small for its kernel: the borrower's UI test shows where the
    /// message points.
    pub block Wide(filters) = [wide: Conv2d { filters: filters, kernel: 9 }];
}
