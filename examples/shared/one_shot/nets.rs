//! The two networks of the example: the course's Siamese encoder, one
//! network that maps an image to 128 numbers (its output is L2-normalised
//! in the loss path and after `predict`, as FaceNet's), and the softmax
//! baseline, the same encoder under a classifier whose penultimate
//! features (the encoder's output) are compared instead.

use cnn::network;

network! {
    /// The embedding network, VGG's pattern at 32x32: three stages of two
    /// 3x3 convolutions with batch norm and ReLU (32, 64, 128 filters),
    /// each closed by 2x2 max pooling, a fourth convolution of 256
    /// filters, then a dense layer to a 128-d embedding. One convolution
    /// per stage (32, 64, 128, 128) did worse, trained from random
    /// weights with the triplet loss: 20-way on the unseen alphabets
    /// 87.5% against 89.7% after 4 epochs, 88.2% after 12 against 90.8%
    /// after 10 (1,000 episodes each).
    pub struct Encoder {
        input: [32, 32, 1],
        layers: [
            c1: Conv2d { filters: 32, kernel: 3, padding: same, bias: false }, bn1: BatchNorm, Relu,
            c1b: Conv2d { filters: 32, kernel: 3, padding: same, bias: false }, bn1b: BatchNorm, Relu,
            MaxPool2d { size: 2 },
            c2: Conv2d { filters: 64, kernel: 3, padding: same, bias: false }, bn2: BatchNorm, Relu,
            c2b: Conv2d { filters: 64, kernel: 3, padding: same, bias: false }, bn2b: BatchNorm, Relu,
            MaxPool2d { size: 2 },
            c3: Conv2d { filters: 128, kernel: 3, padding: same, bias: false }, bn3: BatchNorm, Relu,
            c3b: Conv2d { filters: 128, kernel: 3, padding: same, bias: false }, bn3b: BatchNorm, Relu,
            MaxPool2d { size: 2 },
            c4: Conv2d { filters: 256, kernel: 3, padding: same, bias: false }, bn4: BatchNorm, Relu,
            Flatten,
            embedding: Dense { units: 128 },
        ],
    }
}

/// The classes the softmax baseline's head has room for: a network's
/// sizes are constants, so one head serves every data set, and a set's
/// classes use its first outputs (the others only learn to stay low).
pub const CLASSIFIER_CLASSES: usize = 1024;

network! {
    /// The softmax baseline: the encoder, a ReLU and a classifier over the
    /// training identities. Its `enc.*` tensors are copied into an
    /// [`Encoder`] to use its features.
    pub struct Classifier {
        input: [32, 32, 1],
        layers: [
            enc: Encoder,
            Relu,
            out: Dense { units: 1024 },
            Softmax,
        ],
    }
}

const _: () = assert!(Classifier::OUTPUT_SIZE == CLASSIFIER_CLASSES);

/// The encoder inside a trained classifier, as a network of its own.
pub fn encoder_of(classifier: &Classifier) -> Encoder {
    let mut enc = Encoder::new(0);
    for t in Encoder::TENSORS {
        let from = classifier
            .tensor(&format!("enc.{}", t.name))
            .expect("the classifier holds every tensor of its encoder");
        enc.tensor_mut(t.name)
            .expect("a tensor of Encoder::TENSORS")
            .copy_from_slice(from);
    }
    enc
}
