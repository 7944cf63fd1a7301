//! Blocks in training, end to end: a small network with an identity and a
//! projection `Residual`, a `Concat` (Inception-style) and an `AuxHead`
//! learns real MNIST digits from a 2,000-image subset (its loss falls and
//! it beats chance by far on held-out digits), the auxiliary head trains
//! with it, and `predict` does none of the head's work: its workspace is
//! exactly that of the same network without the head, and its outputs are
//! the same. (tests/gradcheck_network.rs checks these blocks' gradients,
//! tests/predict_reference.rs their inference against reference kernels.)

use cnn::data::mnist;
use cnn::network;
use cnn::train::{Dataset, Fit, Model};
use cnn_runtime::optim::Adam;

network! {
    /// 28x28x1 -> stem (stride 2) -> identity residual -> aux head ->
    /// projection residual (stride 2) -> inception module -> classifier.
    struct MiniInceptionResNet {
        input: [28, 28, 1],
        layers: [
            stem: Conv2d { filters: 8, kernel: 3, stride: 2, padding: 1, bias: false },
            stem_bn: BatchNorm { momentum: 0.9 },
            Relu,
            res1: Residual {
                body: [
                    c1: Conv2d { filters: 8, kernel: 3, padding: same, bias: false },
                    bn1: BatchNorm { momentum: 0.9 },
                    Relu,
                    c2: Conv2d { filters: 8, kernel: 3, padding: same, bias: false },
                    bn2: BatchNorm { momentum: 0.9 },
                ],
            },
            Relu,
            aux: AuxHead {
                weight: 0.3,
                layers: [
                    AvgPool2d { size: 2 },
                    Flatten,
                    fc1: Dense { units: 256 },
                    Relu,
                    fc2: Dense { units: 10 },
                    Softmax,
                ],
            },
            res2: Residual {
                body: [
                    c1: Conv2d { filters: 16, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm { momentum: 0.9 },
                    Relu,
                    c2: Conv2d { filters: 16, kernel: 3, padding: same, bias: false },
                    bn2: BatchNorm { momentum: 0.9 },
                ],
                shortcut: [proj: Conv2d { filters: 16, kernel: 1, stride: 2, bias: false }, proj_bn: BatchNorm { momentum: 0.9 }],
            },
            Relu,
            inc: Concat {
                branches: [
                    [b1: Conv2d { filters: 8, kernel: 1 }, Relu],
                    [b2_reduce: Conv2d { filters: 8, kernel: 1 }, Relu, b2: Conv2d { filters: 8, kernel: 3, padding: same }, Relu],
                    [MaxPool2d { size: 3, stride: 1, padding: same }, b3: Conv2d { filters: 8, kernel: 1 }, Relu],
                ],
            },
            GlobalAvgPool,
            fc: Dense { units: 10 },
            Softmax,
        ],
    }
}

network! {
    /// The same network without its auxiliary head.
    struct MiniInceptionResNetNoAux {
        input: [28, 28, 1],
        layers: [
            stem: Conv2d { filters: 8, kernel: 3, stride: 2, padding: 1, bias: false },
            stem_bn: BatchNorm { momentum: 0.9 },
            Relu,
            res1: Residual {
                body: [
                    c1: Conv2d { filters: 8, kernel: 3, padding: same, bias: false },
                    bn1: BatchNorm { momentum: 0.9 },
                    Relu,
                    c2: Conv2d { filters: 8, kernel: 3, padding: same, bias: false },
                    bn2: BatchNorm { momentum: 0.9 },
                ],
            },
            Relu,
            res2: Residual {
                body: [
                    c1: Conv2d { filters: 16, kernel: 3, stride: 2, padding: 1, bias: false },
                    bn1: BatchNorm { momentum: 0.9 },
                    Relu,
                    c2: Conv2d { filters: 16, kernel: 3, padding: same, bias: false },
                    bn2: BatchNorm { momentum: 0.9 },
                ],
                shortcut: [proj: Conv2d { filters: 16, kernel: 1, stride: 2, bias: false }, proj_bn: BatchNorm { momentum: 0.9 }],
            },
            Relu,
            inc: Concat {
                branches: [
                    [b1: Conv2d { filters: 8, kernel: 1 }, Relu],
                    [b2_reduce: Conv2d { filters: 8, kernel: 1 }, Relu, b2: Conv2d { filters: 8, kernel: 3, padding: same }, Relu],
                    [MaxPool2d { size: 3, stride: 1, padding: same }, b3: Conv2d { filters: 8, kernel: 1 }, Relu],
                ],
            },
            GlobalAvgPool,
            fc: Dense { units: 10 },
            Softmax,
        ],
    }
}

// The head: a 7x7x8 average (no parameters), dense 392 -> 256 -> 10.
const AUX_PARAMS: usize = 392 * 256 + 256 + 256 * 10 + 10;
const AUX_MACS: u64 = 392 * 256 + 256 * 10;
const _: () = assert!(MiniInceptionResNet::PARAMS == MiniInceptionResNetNoAux::PARAMS + AUX_PARAMS);
const _: () = assert!(MiniInceptionResNet::MACS == MiniInceptionResNetNoAux::MACS + AUX_MACS);

/// The first `n` training and `m` test digits of the vendored MNIST, scaled
/// to [0, 1] and centred.
fn mnist_subset(n: usize, m: usize) -> (Dataset, Dataset) {
    let data = mnist::load(&mnist::vendored_dir()).unwrap();
    let prepare = |set, k| {
        let mut d = Dataset::from_labelled(set).unwrap().take(k);
        d.normalise(0.1307, 0.3081);
        d
    };
    (prepare(&data.train, n), prepare(&data.test, m))
}

#[test]
fn residual_concat_and_aux_head_learn_mnist() {
    let (train, test) = mnist_subset(2_000, 400);
    let net = MiniInceptionResNet::new(5);
    let aux_before = net.tensor("aux.fc2.weight").unwrap().to_vec();
    let mut model = Model::compile(net, Adam::new(3e-3)).seed(6);
    let before = model.evaluate(&test, 200).unwrap();
    let history = model
        .fit(&train, Fit::epochs(6).batch_size(32).verbose(false))
        .unwrap()
        .clone();
    let losses: Vec<f32> = history.epochs.iter().map(|e| e.loss).collect();
    println!("training losses {losses:?}");
    assert!(
        losses.windows(2).all(|w| w[1] < w[0]),
        "the loss falls every epoch: {losses:?}"
    );
    assert!(
        losses[5] < 0.5 * losses[0],
        "the loss at least halves: {losses:?}"
    );
    let after = model.evaluate(&test, 200).unwrap();
    println!(
        "held-out digits: {:.1}% -> {:.1}%, loss {:.3} -> {:.3}",
        100.0 * before.accuracy,
        100.0 * after.accuracy,
        before.loss,
        after.loss
    );
    assert!(after.loss < 0.5 * before.loss);
    assert!(after.accuracy >= 0.85, "accuracy {}", after.accuracy);
    // The auxiliary head's weights got gradients too.
    let aux_after = model.network().tensor("aux.fc2.weight").unwrap();
    let moved = aux_before
        .iter()
        .zip(aux_after)
        .filter(|(a, b)| a != b)
        .count();
    assert!(moved > aux_before.len() / 2, "{moved} aux weights moved");
}

/// Bytes of the calling thread's inference workspace after `f`, on a fresh
/// thread (so that no other network's `predict` has grown it).
fn predict_workspace(f: impl FnOnce() + Send) -> usize {
    std::thread::scope(|s| {
        s.spawn(|| {
            f();
            cnn::net::with_thread_workspace(|ws| ws.bytes())
        })
        .join()
        .unwrap()
    })
}

#[test]
fn predict_does_none_of_the_aux_heads_work() {
    let with = MiniInceptionResNet::new(7);
    let mut without = MiniInceptionResNetNoAux::new(8);
    // Same trunk weights: copy every tensor the head-less network has.
    for t in MiniInceptionResNetNoAux::TENSORS {
        let src = with.tensor(t.name).unwrap().to_vec();
        without.tensor_mut(t.name).unwrap().copy_from_slice(&src);
    }
    // Four examples: below what predict gives to the pool's threads whole
    // (`net::infer_chunks`), so it runs in this thread's workspace, which
    // is what is measured, whatever thread count another test has set.
    let (_, test) = mnist_subset(0, 4);
    let x = cnn::ndarray::ArrayView4::from_shape((4, 28, 28, 1), test.images()).unwrap();

    let mut p_with = None;
    let mut p_without = None;
    let bytes_with = predict_workspace(|| p_with = Some(with.predict(x).unwrap()));
    let bytes_without = predict_workspace(|| p_without = Some(without.predict(x).unwrap()));
    assert_eq!(p_with, p_without, "the head changes nothing at inference");
    // The head's activations (7x7x8 pooled, 256 and 10 per example) would
    // need 4 * 315 * 4 bytes more; predict's workspace is exactly the
    // head-less network's, so no aux layer runs.
    assert!(bytes_without > 0);
    assert_eq!(bytes_with, bytes_without, "predict's workspace in bytes");
}
