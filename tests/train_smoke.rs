//! A short LeNet-5 training run on synthetic, separable data (a bright
//! square at one of ten places): the loss must fall and the network must
//! learn the classes. Long training lives in examples/.

use crate::common::{images, labels, squares, LeNet5};
use cnn::network;
use cnn_runtime::optim::{Adam, Sgd};

network! {
    /// With batch norm and dropout, so that both train.
    struct Regularised {
        input: [12, 12, 1],
        layers: [
            Conv2d { filters: 8, kernel: 3, padding: same }, BatchNorm, Relu, MaxPool2d { size: 2 },
            Flatten, Dense { units: 32 }, Relu, Dropout { rate: 0.2 }, Dense { units: 4 }, Softmax,
        ],
    }
}

#[test]
fn lenet5_learns_separable_squares() {
    let mut net = LeNet5::new(42);
    let mut opt = Sgd::new(0.05).momentum(0.9);
    let (x, y) = squares(64, 1);
    let first = net.loss_and_grads(x.view(), &y).unwrap().0;
    let mut last = first;
    for _ in 0..40 {
        last = net.train_step(x.view(), &y, &mut opt).unwrap();
    }
    assert!(last < 0.3 * first, "loss {first} -> {last}");
    let (test_x, test_y) = squares(50, 2);
    let p = net.predict(test_x.view()).unwrap();
    let correct = (0..50)
        .filter(|&i| {
            let row = p.row(i);
            let best = (0..10).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            best == test_y[i]
        })
        .count();
    assert!(correct >= 45, "{correct}/50 correct on fresh examples");
}

#[test]
fn batch_norm_and_dropout_train() {
    let mut net = Regularised::new(3);
    let mut opt = Adam::new(0.01);
    // Class k: the mean brightness of quadrant k is raised.
    let n = 32;
    let y = labels(n, 4);
    let mut x = images(n, 12, 12, 1, 5);
    for (b, &k) in y.iter().enumerate() {
        for h in 0..6 {
            for w in 0..6 {
                x[[b, h + 6 * (k / 2), w + 6 * (k % 2), 0]] += 1.5;
            }
        }
    }
    let first = net.train_step(x.view(), &y, &mut opt).unwrap();
    let mut last = first;
    for _ in 0..30 {
        last = net.train_step(x.view(), &y, &mut opt).unwrap();
    }
    assert!(last < 0.3 * first, "loss {first} -> {last}");
    // The moving statistics moved away from their start.
    let var = net.tensor("batch_norm_1.moving_variance").unwrap();
    assert!(var.iter().any(|&v| v != 1.0));
}
