//! LeNet-5 as the course draws it (LeCun et al. 1998): 32x32x1 in, two 5x5
//! convolutions with 2x2 average pooling, then 120, 84 and 10 units, tanh
//! between them. The course's figures: 6 and 16 filters, 61,706
//! parameters with a softmax over ten digits.

use cnn_macros::network;

network! {
    /// LeNet-5 with tanh and average pooling (`classes: 10`).
    pub block LeNet5(classes: 10) = [
        conv1: Conv2d { filters: 6, kernel: 5 },
        Tanh,
        pool1: AvgPool2d { size: 2 },
        conv2: Conv2d { filters: 16, kernel: 5 },
        Tanh,
        pool2: AvgPool2d { size: 2 },
        Flatten,
        fc1: Dense { units: 120 },
        Tanh,
        fc2: Dense { units: 84 },
        Tanh,
        fc3: Dense { units: classes },
        Softmax,
    ];
}
