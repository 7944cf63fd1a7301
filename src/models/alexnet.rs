//! AlexNet as torchvision builds it (the one-tower variant of Krizhevsky's
//! "One weird trick" paper, 64-192-384-256-256 filters), with its names:
//! `features.<i>` and `classifier.<i>` index every layer of the two lists.

use cnn_macros::network;

network! {
    /// torchvision's `alexnet`: 61,100,840 parameters at 1,000 classes, on
    /// 224x224x3 (the features end at 6x6x256, the classifier's input).
    pub block AlexNet(classes: 1000) = [
        features: Sequential { layers: [
            Conv2d { filters: 64, kernel: 11, stride: 4, padding: 2 },
            Relu,
            MaxPool2d { size: 3, stride: 2 },
            Conv2d { filters: 192, kernel: 5, padding: 2 },
            Relu,
            MaxPool2d { size: 3, stride: 2 },
            Conv2d { filters: 384, kernel: 3, padding: 1 },
            Relu,
            Conv2d { filters: 256, kernel: 3, padding: 1 },
            Relu,
            Conv2d { filters: 256, kernel: 3, padding: 1 },
            Relu,
            MaxPool2d { size: 3, stride: 2 },
        ] },
        Flatten,
        classifier: Sequential { layers: [
            Dropout { rate: 0.5 },
            Dense { units: 4096 },
            Relu,
            Dropout { rate: 0.5 },
            Dense { units: 4096 },
            Relu,
            Dense { units: classes },
        ] },
        Softmax,
    ];
}
