//! SqueezeNet 1.1 (Iandola et al. 2016; torchvision's `squeezenet1_1`):
//! Fire modules (a 1x1 squeeze, then 1x1 and 3x3 expansions side by side)
//! and a 1x1 convolution as the classifier, named as torchvision names them
//! (`features.3.squeeze`, `classifier.1`).

use cnn_macros::network;

network! {
    /// A Fire module: squeeze to `squeeze_planes` channels, then
    /// `expand_planes` 1x1 and as many 3x3 filters, concatenated.
    pub block Fire(squeeze_planes, expand_planes) = [
        squeeze: Conv2d { filters: squeeze_planes, kernel: 1 },
        Relu,
        Concat { branches: [
            [expand1x1: Conv2d { filters: expand_planes, kernel: 1 }, Relu],
            [expand3x3: Conv2d { filters: expand_planes, kernel: 3, padding: 1 }, Relu],
        ] },
    ];

    /// torchvision's `squeezenet1_1`: 1,235,496 parameters at 1,000
    /// classes, on 224x224x3 (its ceil-mode pools meet exact sizes there).
    pub block SqueezeNet11(classes: 1000) = [
        features: Sequential { layers: [
            Conv2d { filters: 64, kernel: 3, stride: 2 },
            Relu,
            MaxPool2d { size: 3, stride: 2 },
            Fire { squeeze_planes: 16, expand_planes: 64 },
            Fire { squeeze_planes: 16, expand_planes: 64 },
            MaxPool2d { size: 3, stride: 2 },
            Fire { squeeze_planes: 32, expand_planes: 128 },
            Fire { squeeze_planes: 32, expand_planes: 128 },
            MaxPool2d { size: 3, stride: 2 },
            Fire { squeeze_planes: 48, expand_planes: 192 },
            Fire { squeeze_planes: 48, expand_planes: 192 },
            Fire { squeeze_planes: 64, expand_planes: 256 },
            Fire { squeeze_planes: 64, expand_planes: 256 },
        ] },
        classifier: Sequential { layers: [
            Dropout { rate: 0.5 },
            Conv2d { filters: classes, kernel: 1 },
            Relu,
            GlobalAvgPool,
        ] },
        Softmax,
    ];
}
