//! The generated `impl cnn::train::Network` drives the Keras-style loop:
//! `Model::compile(net, optimizer).fit(...)`, `evaluate`, and a checkpoint
//! resume that reproduces the uninterrupted run.

use crate::common::{squares, LeNet5, TempDir};
use cnn::network;
use cnn::train::{Dataset, Fit, Model, Network};
use cnn_runtime::optim::Sgd;

network! {
    /// Dropout draws from the network's own generator, which checkpoints keep.
    struct Small {
        input: [32, 32, 1],
        layers: [
            Conv2d { filters: 4, kernel: 5, stride: 3 }, Relu, MaxPool2d { size: 2 },
            Flatten, Dense { units: 16 }, Relu, Dropout { rate: 0.3 }, Dense { units: 10 },
        ],
    }
}

fn dataset(n: usize, seed: u64) -> Dataset {
    let (x, y) = squares(n, seed);
    Dataset::new([32, 32, 1], x.into_raw_vec_and_offset().0, y, 10).unwrap()
}

#[test]
fn fit_and_evaluate_lenet5() {
    let (train, test) = (dataset(160, 1), dataset(60, 2));
    let mut model = Model::compile(LeNet5::new(3), Sgd::new(0.05).momentum(0.9)).seed(4);
    let history = model
        .fit(&train, Fit::epochs(4).batch_size(32).verbose(false))
        .unwrap();
    assert_eq!(history.epochs.len(), 4);
    let eval = model.evaluate(&test, 50).unwrap();
    assert!(eval.accuracy >= 0.9, "accuracy {}", eval.accuracy);
    assert!(eval.loss < 0.5, "loss {}", eval.loss);
}

#[test]
fn network_trait_on_flat_slices() {
    let mut net = Small::new(5);
    assert_eq!(net.input_shape(), [32, 32, 1]);
    assert_eq!(net.classes(), 10);
    assert_eq!(Network::tensors(&net).len(), Small::TENSORS.len());
    let (x, y) = squares(8, 6);
    let x = x.into_raw_vec_and_offset().0;
    // No final Softmax: predict returns the outputs, predict_batch their
    // softmax (what evaluate's cross-entropy reads).
    let mut probs = vec![0.0; 80];
    net.predict_batch(&x, &mut probs).unwrap();
    let raw = net
        .predict(cnn::ndarray::ArrayView4::from_shape((8, 32, 32, 1), &x).unwrap())
        .unwrap();
    for (p, r) in probs.chunks(10).zip(raw.rows()) {
        let sum: f32 = p.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5);
        let e: Vec<f32> = r.iter().map(|v| v.exp()).collect();
        let z: f32 = e.iter().sum();
        cnn_runtime::testing::assert_close(
            p,
            &e.iter().map(|v| v / z).collect::<Vec<_>>(),
            1e-5,
            1e-7,
        );
    }
    let stats = net.train_batch(&x, &y, &mut Sgd::new(0.01)).unwrap();
    assert!(stats.correct <= 8 && stats.loss.is_finite());
    assert!(net.train_batch(&x[..100], &y, &mut Sgd::new(0.01)).is_err());
    let state = net.rng_state();
    net.set_rng_state(state);
    assert_eq!(net.rng_state(), state);
}

#[test]
fn resume_reproduces_the_uninterrupted_run() {
    let train = dataset(64, 7);
    let dir = TempDir::new("fit-resume");
    let ckpt = dir.join("small.ckpt");
    let cfg = || Fit::epochs(2).batch_size(16).verbose(false);

    let mut whole = Model::compile(Small::new(8), Sgd::new(0.05).momentum(0.9)).seed(9);
    whole
        .fit(&train, Fit::epochs(3).batch_size(16).verbose(false))
        .unwrap();

    let mut first = Model::compile(Small::new(8), Sgd::new(0.05).momentum(0.9)).seed(9);
    first.fit(&train, cfg().checkpoint(&ckpt)).unwrap();
    let mut resumed = Model::resume(Small::new(0), Sgd::new(0.05).momentum(0.9), &ckpt).unwrap();
    resumed
        .fit(&train, Fit::epochs(3).batch_size(16).verbose(false))
        .unwrap();
    assert_eq!(resumed.network().params(), whole.network().params());
}

#[test]
fn augmented_fit_and_test_time_averaging_on_a_generated_network() {
    use cnn::augment::{Affine, Elastic, Pipeline, RandomCrop};
    use cnn::optim::WarmupCosine;
    use cnn::train::{evaluate, Ensemble, TenCrop};
    // 36x36 examples; the pipeline distorts them and cuts the 32x32 input.
    let (train, test) = (
        dataset(96, 5).pad([2, 2, 2, 2], 0.0),
        dataset(40, 6).pad([2, 2, 2, 2], 0.0),
    );
    let pipeline = Pipeline::new()
        .then(Affine::rotation(10.0))
        .then(Elastic::new(8.0, 3.0).probability(0.5))
        .then(RandomCrop::new(32, 32, 0));
    let schedule = WarmupCosine::new(0.05, 3, 9);
    let train_with = |workers: usize, seed: u64| {
        let mut model = Model::compile(Small::new(seed), Sgd::new(1.0).momentum(0.9)).seed(seed);
        let fit = Fit::epochs(3)
            .batch_size(32)
            .verbose(false)
            .augment(&pipeline)
            .workers(workers)
            .schedule(&schedule);
        model.fit(&train, fit).unwrap();
        model.into_network()
    };
    let inline = train_with(0, 1);
    let threaded = train_with(2, 1);
    assert_eq!(
        inline.params(),
        threaded.params(),
        "the same batches whatever the thread count"
    );

    // 10-crop (no mirrors) and an ensemble of networks from other seeds.
    let crops = TenCrop::new(&inline, [36, 36, 1]).unwrap().mirrors(false);
    assert!(evaluate(&crops, &test, 16).unwrap().loss.is_finite());
    let ensemble = Ensemble::new(vec![inline, train_with(1, 2)]).unwrap();
    let both = TenCrop::new(&ensemble, [36, 36, 1]).unwrap();
    assert!(evaluate(&both, &test, 16).unwrap().accuracy >= 0.0);
    // A 36x36 input is not what the network takes without the crop.
    let mut m = Model::compile(Small::new(1), Sgd::new(0.1));
    assert!(m.fit(&train, Fit::epochs(1).verbose(false)).is_err());
}
