//! LeNet-5 as in docs/design.md; its constants are usable in const assertions.
use cnn::prelude::*;

network! {
    /// LeNet-5 (LeCun et al., 1998) with ReLU and max pooling.
    pub struct LeNet5 {
        input: [32, 32, 1],                 // nH x nW x nC, as in the course
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
    }
}

// 156 + 2,416 + 48,120 + 10,164 + 850 parameters (docs/design.md).
const _: () = assert!(LeNet5::PARAMS == 61_706);
const _: () = assert!(LeNet5::TRAINABLE_PARAMS == 61_706);
// 28*28*6*25 + 10*10*16*150 + 400*120 + 120*84 + 84*10 multiply-adds.
const _: () = assert!(LeNet5::MACS == 416_520);
const _: () = assert!(LeNet5::OUTPUT_SIZE == 10);
const _: () = assert!(LeNet5::INPUT_SHAPE[0] == 32 && LeNet5::INPUT_SHAPE[2] == 1);
