//! Taps on a layer, a layer inside a block and a block; a final Softmax on
//! an image (one per position). Their shapes are consts.
use cnn::prelude::*;

network! {
    pub struct Segment {
        input: [8, 8, 1],
        layers: [
            conv1: Conv2d { filters: 4, kernel: 3, padding: same },
            Relu,
            block: Residual { body: [inner: Conv2d { filters: 4, kernel: 1 }] },
            classes: Conv2d { filters: 3, kernel: 1 },
            Softmax,
        ],
        taps: [conv1, block.inner, block],
    }
}

const _: () = assert!(Segment::TAPS.len() == 3);
const _: () = assert!(Segment::OUTPUT_SIZE == 8 * 8 * 3);

#[test]
fn tap_shapes() {
    assert_eq!(Segment::TAPS[0].shape, &[8, 8, 4]);
    assert_eq!(Segment::TAPS[1].name, "block.inner");
}
