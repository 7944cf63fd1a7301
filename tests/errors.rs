//! Run-time error paths of a generated network: every one is an `Err` with
//! a message that says what was expected, never a panic, and none changes
//! the network.

use crate::common::{images, labels, vectors, LeNet5};
use cnn::network;
use cnn::Error;
use cnn_runtime::optim::Sgd;

network! {
    struct Norm {
        input: [4, 4, 2],
        layers: [Conv2d { filters: 3, kernel: 3, padding: same }, BatchNorm, Relu, Flatten, Dense { units: 5 }, Softmax],
    }
}

network! {
    struct FlatNet {
        input: [12],
        layers: [Dense { units: 6 }, Relu, Dense { units: 3 }, Softmax],
    }
}

#[test]
fn wrong_input_shape() {
    let net = LeNet5::new(0);
    let err = net.predict(images(2, 28, 28, 1, 1).view()).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }));
    assert_eq!(
        err.to_string(),
        "predict: x: expected [batch, 32, 32, 1], got [2, 28, 28, 1]"
    );
    let mut net = LeNet5::new(0);
    let err = net
        .train_step(images(2, 32, 32, 3, 1).view(), &[0, 1], &mut Sgd::new(0.1))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "train_step: x: expected [batch, 32, 32, 1], got [2, 32, 32, 3]"
    );
    let flat = FlatNet::new(0);
    let err = flat.predict(vectors(3, 10, 1).view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "predict: x: expected [batch, 12], got [3, 10]"
    );
}

#[test]
fn label_out_of_range() {
    let mut net = LeNet5::new(0);
    let before = net.params().to_vec();
    let err = net
        .train_step(
            images(3, 32, 32, 1, 1).view(),
            &[0, 10, 2],
            &mut Sgd::new(0.1),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::LabelOutOfRange {
                index: 1,
                label: 10,
                classes: 10
            }
        ),
        "{err}"
    );
    assert_eq!(net.params(), &before[..]);
}

#[test]
fn labels_length_mismatch() {
    let mut net = LeNet5::new(0);
    let err = net
        .train_step(images(3, 32, 32, 1, 1).view(), &[0, 1], &mut Sgd::new(0.1))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "labels: expected one per example (3), got 2"
    );
}

#[test]
fn empty_batch() {
    let mut net = LeNet5::new(0);
    assert!(net
        .train_step(images(0, 32, 32, 1, 1).view(), &[], &mut Sgd::new(0.1))
        .is_err());
    // Predicting nothing is fine: no rows.
    assert_eq!(
        net.predict(images(0, 32, 32, 1, 1).view()).unwrap().shape(),
        [0, 10]
    );
}

#[test]
fn non_finite_loss_leaves_every_parameter_as_it_was() {
    let mut net = Norm::new(0);
    // One step so that the moving statistics are not at their start.
    let x = images(4, 4, 4, 2, 3);
    net.train_step(x.view(), &labels(4, 5), &mut Sgd::new(0.1))
        .unwrap();
    let before = net.params().to_vec();
    let mut bad = x.clone();
    bad[[1, 2, 2, 0]] = f32::INFINITY;
    let err = net
        .train_step(bad.view(), &labels(4, 5), &mut Sgd::new(0.1))
        .unwrap_err();
    assert!(matches!(err, Error::NonFiniteLoss { .. }), "{err}");
    let same = net
        .params()
        .iter()
        .zip(&before)
        .all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(same, "parameters (or moving statistics) changed");
}
