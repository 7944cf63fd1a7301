//! A VGG-style stack: `same` 3x3 convolutions keep the size, pooling halves it.
use cnn::prelude::*;

network! {
    pub struct Vgg {
        input: [32, 32, 3],
        layers: [
            block1_conv1: Conv2d { filters: 64, kernel: 3, padding: same },
            Relu,
            block1_conv2: Conv2d { filters: 64, kernel: 3, padding: same },
            Relu,
            MaxPool2d { size: 2 },
            block2_conv1: Conv2d { filters: 128, kernel: [3, 3], stride: 1, padding: 1 },
            BatchNorm { momentum: 0.9, epsilon: 1e-5 },
            Relu,
            MaxPool2d { size: 2, stride: 2, padding: valid },
            Flatten,
            Dropout { rate: 0.5 },
            fc: Dense { units: 10, bias: true },
            Softmax,
        ],
    }
}

// 1,792 + 36,928 + 73,856 + 512 (batch norm, 256 trainable) + 8*8*128*10 + 10.
const _: () = assert!(Vgg::PARAMS == 1_792 + 36_928 + 73_856 + 512 + 81_930);
const _: () = assert!(Vgg::TRAINABLE_PARAMS == Vgg::PARAMS - 256);
const _: () = assert!(Vgg::OUTPUT_SIZE == 10);
