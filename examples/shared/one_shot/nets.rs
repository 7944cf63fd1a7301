//! The two networks of the example: the course's Siamese encoder, one
//! network that maps an image to 128 numbers (its output is L2-normalised
//! in the loss path and after `predict`, as FaceNet's), and the softmax
//! baseline, the same encoder under a classifier whose penultimate
//! features (the encoder's output) are compared instead.

use cnn::network;

network! {
    /// The embedding network: four 3x3 convolutions with batch norm and
    /// ReLU (32, 64, 128, 128 filters; 2x2 max pooling after the first
    /// three), then a dense layer to a 128-d embedding.
    pub struct Encoder {
        input: [32, 32, 1],
        layers: [
            c1: Conv2d { filters: 32, kernel: 3, padding: same, bias: false }, bn1: BatchNorm, Relu,
            MaxPool2d { size: 2 },
            c2: Conv2d { filters: 64, kernel: 3, padding: same, bias: false }, bn2: BatchNorm, Relu,
            MaxPool2d { size: 2 },
            c3: Conv2d { filters: 128, kernel: 3, padding: same, bias: false }, bn3: BatchNorm, Relu,
            MaxPool2d { size: 2 },
            c4: Conv2d { filters: 128, kernel: 3, padding: same, bias: false }, bn4: BatchNorm, Relu,
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
