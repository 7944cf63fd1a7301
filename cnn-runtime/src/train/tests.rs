//! The workflow on a hand-written softmax regression (no macro needed):
//! fit learns, evaluate agrees, callbacks stop and save, a NaN loss stops
//! with a clear error and leaves the last checkpoint whole, and a resumed
//! run equals an uninterrupted one bit for bit.

// The hand-written gradients index several arrays by the same class and
// input number; iterators would hide the formula.
#![allow(clippy::needless_range_loop)]

use super::*;
use crate::error::Error;
use crate::net::Init;
use crate::optim::Optimizer;
use crate::rng::Rng;

/// softmax(x W + b) over 4 inputs and 3 classes; params = W (12) then b (3).
struct Softmax4 {
    params: Vec<f32>,
    grads: Vec<f32>,
    rng: Rng,
    /// What `Network::name` says (the default would be "Softmax4").
    name: &'static str,
}

const TENSORS: &[TensorInfo] = &[
    TensorInfo {
        name: "dense.weight",
        layer: "dense",
        offset: 0,
        shape: &[4, 3],
        len: 12,
        trainable: true,
        init: Init::Zeros,
    },
    TensorInfo {
        name: "dense.bias",
        layer: "dense",
        offset: 12,
        shape: &[3],
        len: 3,
        trainable: true,
        init: Init::Zeros,
    },
];

impl Softmax4 {
    fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let params = (0..15)
            .map(|i| if i < 12 { 0.1 * rng.normal() } else { 0.0 })
            .collect();
        Softmax4 {
            params,
            grads: vec![0.0; 15],
            rng,
            name: "Softmax4",
        }
    }
    fn probs(&self, x: &[f32], out: &mut [f32]) {
        for (xi, o) in x.chunks_exact(4).zip(out.chunks_exact_mut(3)) {
            for k in 0..3 {
                o[k] = self.params[12 + k]
                    + (0..4).map(|i| xi[i] * self.params[i * 3 + k]).sum::<f32>();
            }
            let m = o.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let s: f32 = o
                .iter_mut()
                .map(|v| {
                    *v = (*v - m).exp();
                    *v
                })
                .sum();
            o.iter_mut().for_each(|v| *v /= s);
        }
    }
}

impl Network for Softmax4 {
    fn input_shape(&self) -> &'static [usize] {
        &[2, 2, 1]
    }
    fn classes(&self) -> usize {
        3
    }
    fn train_batch(
        &mut self,
        x: &[f32],
        labels: &[usize],
        opt: &mut dyn Optimizer,
    ) -> crate::Result<BatchStats> {
        let n = labels.len();
        let mut p = vec![0.0; n * 3];
        self.probs(x, &mut p);
        // A draw from the network's own generator, as dropout would make.
        let _ = self.rng.next_u64();
        self.grads.fill(0.0);
        let (mut loss, mut correct) = (0.0f32, 0);
        for ((xi, pi), &y) in x.chunks_exact(4).zip(p.chunks_exact(3)).zip(labels) {
            loss -= pi[y].ln();
            correct += usize::from(fit::argmax(pi) == y);
            for k in 0..3 {
                let d = (pi[k] - f32::from(k == y)) / n as f32;
                for i in 0..4 {
                    self.grads[i * 3 + k] += xi[i] * d;
                }
                self.grads[12 + k] += d;
            }
        }
        let loss = loss / n as f32;
        if !loss.is_finite() {
            return Err(Error::NonFiniteLoss {
                loss,
                at: String::new(),
            });
        }
        opt.step(&mut self.params, &self.grads);
        Ok(BatchStats { loss, correct })
    }
    fn predict_batch(&self, x: &[f32], out: &mut [f32]) -> crate::Result<()> {
        self.probs(x, out);
        Ok(())
    }
    fn tensors(&self) -> &'static [TensorInfo] {
        TENSORS
    }
    fn params(&self) -> &[f32] {
        &self.params
    }
    fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }
    fn rng_state(&self) -> [u64; 4] {
        self.rng.state()
    }
    fn set_rng_state(&mut self, s: [u64; 4]) {
        self.rng = Rng::from_state(s);
    }
    fn name(&self) -> &'static str {
        self.name
    }
}

/// Three separable classes: the class sets one pixel high.
fn data(n: usize, seed: u64) -> Dataset {
    let mut r = Rng::new(seed);
    let mut x = Vec::new();
    let mut y = Vec::new();
    for _ in 0..n {
        let c = r.below(3);
        for i in 0..4 {
            x.push(0.1 * r.normal() + if i == c { 1.0 } else { 0.0 });
        }
        y.push(c);
    }
    Dataset::new([2, 2, 1], x, y, 3).unwrap()
}

/// A test's own directory under the system's temporary directory,
/// removed with what it holds when dropped, also when the test fails.
struct TmpDir(std::path::PathBuf);

impl TmpDir {
    fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        // Nothing to do about a directory that cannot be removed.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmp(name: &str) -> TmpDir {
    let dir = std::env::temp_dir().join(format!("cnn-train-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    TmpDir(dir)
}

#[test]
fn fit_learns_and_evaluate_agrees() {
    let (train, test) = (data(600, 1), data(200, 2));
    let mut m = Model::compile(Softmax4::new(3), crate::optim::Sgd::new(0.5)).seed(4);
    let h = m
        .fit(
            &train,
            Fit::epochs(5)
                .batch_size(32)
                .validation_data(&test)
                .verbose(false),
        )
        .unwrap()
        .clone();
    assert_eq!(h.epochs.len(), 5);
    let last = h.last().unwrap().clone();
    assert!(last.accuracy > 0.95, "{last:?}");
    let e = m.evaluate(&test, 64).unwrap();
    assert_eq!(Some(e.accuracy), last.val_accuracy);
    assert!(h.epochs[0].loss > last.loss);
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    let train = data(300, 5);
    let dir = tmp("resume");
    let ck = dir.join("ck.safetensors");
    let opt = || crate::optim::Sgd::new(0.1).momentum(0.9);
    let mut full = Model::compile(Softmax4::new(7), opt()).seed(11);
    full.fit(&train, Fit::epochs(4).batch_size(16).verbose(false))
        .unwrap();

    let mut first = Model::compile(Softmax4::new(7), opt()).seed(11);
    first
        .fit(
            &train,
            Fit::epochs(2).batch_size(16).verbose(false).checkpoint(&ck),
        )
        .unwrap();
    drop(first);
    // A fresh network with another seed: everything must come from the file.
    let mut resumed = Model::resume(Softmax4::new(99), opt(), &ck).unwrap();
    assert_eq!(resumed.epoch(), 2);
    resumed
        .fit(&train, Fit::epochs(4).batch_size(16).verbose(false))
        .unwrap();
    assert_eq!(resumed.network().params(), full.network().params());
    assert_eq!(resumed.history().epochs.len(), 4);
    assert_eq!(
        resumed.history().epochs[3].loss,
        full.history().epochs[3].loss
    );
}

#[test]
fn nan_loss_stops_with_an_error_and_keeps_the_checkpoint() {
    let mut train = data(64, 6);
    let dir = tmp("nan");
    let ck = dir.join("ck.safetensors");
    let mut m = Model::compile(Softmax4::new(1), crate::optim::Sgd::new(0.1)).seed(2);
    m.fit(
        &train,
        Fit::epochs(1).batch_size(16).verbose(false).checkpoint(&ck),
    )
    .unwrap();
    let saved = std::fs::read(&ck).unwrap();
    let mut x = train.images().to_vec();
    x[5] = f32::NAN;
    train = Dataset::new([2, 2, 1], x, train.labels().to_vec(), 3).unwrap();
    let err = m
        .fit(
            &train,
            Fit::epochs(2).batch_size(16).verbose(false).checkpoint(&ck),
        )
        .unwrap_err();
    assert!(matches!(err, Error::NonFiniteLoss { .. }), "{err}");
    assert!(err.to_string().contains("epoch 2, batch"), "{err}");
    assert_eq!(
        std::fs::read(&ck).unwrap(),
        saved,
        "the last good checkpoint is untouched"
    );
}

#[test]
fn early_stopping_and_best_checkpoint() {
    let (train, val) = (data(200, 8), data(100, 9));
    let dir = tmp("cb");
    let best = dir.join("best.safetensors");
    let mut es = EarlyStopping::new(Monitor::ValLoss, 1).min_delta(10.0);
    let mut cp = ModelCheckpoint::best(&best, Monitor::ValAccuracy);
    let mut m = Model::compile(Softmax4::new(1), crate::optim::Sgd::new(0.1));
    let fit = Fit::epochs(10)
        .batch_size(20)
        .validation_data(&val)
        .verbose(false)
        .callback(&mut es)
        .callback(&mut cp);
    let h = m.fit(&train, fit).unwrap();
    // min_delta 10 means nothing counts as an improvement after epoch 1.
    assert_eq!(h.epochs.len(), 2);
    assert_eq!(es.stopped_epoch, Some(2));
    let mut fresh = Softmax4::new(5);
    checkpoint::load_weights(&best, &mut fresh).unwrap();
    assert!(cp.saved_epoch.is_some());
}

#[test]
fn mismatched_data_is_an_error() {
    let m = Model::compile(Softmax4::new(1), crate::optim::Sgd::new(0.1));
    let wrong = Dataset::new([3, 1, 1], vec![0.0; 6], vec![0, 1], 3).unwrap();
    assert!(matches!(m.evaluate(&wrong, 8), Err(Error::Shape { .. })));
}

#[test]
fn logs_and_curves_are_written() {
    let train = data(100, 3);
    let dir = tmp("logs");
    let mut m = Model::compile(Softmax4::new(1), crate::optim::Sgd::new(0.1));
    m.fit(
        &train,
        Fit::epochs(2)
            .batch_size(50)
            .verbose(false)
            .csv_log(dir.join("log.csv"))
            .curves(dir.join("c.svg"), "t"),
    )
    .unwrap();
    let csv = std::fs::read_to_string(dir.join("log.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3);
    assert!(std::fs::read_to_string(dir.join("c.svg"))
        .unwrap()
        .contains("<polyline"));
}

#[test]
fn type_names_lose_their_path_and_generics() {
    assert_eq!(short_type_name("my_crate::nets::LeNet5"), "LeNet5");
    assert_eq!(short_type_name("a::Net<b::Inner<c::T>>"), "Net");
    assert_eq!(short_type_name("Plain"), "Plain");
}

/// The pieces of a run that `resume_from` checks: a model compiled as the
/// interrupted run's was, with a setting.
fn run_model(seed: u64, lr: f32, epochs: usize) -> Model<Softmax4> {
    Model::compile(Softmax4::new(7), crate::optim::Sgd::new(lr).momentum(0.9))
        .seed(seed)
        .setting("epochs", epochs)
}

fn mismatch(r: crate::Result<Model<Softmax4>>) -> String {
    match r {
        Err(Error::Mismatch { message, .. }) => message,
        Err(other) => panic!("expected Error::Mismatch, got {other:?}"),
        Ok(_) => panic!("expected Error::Mismatch, got a model"),
    }
}

#[test]
fn resume_from_continues_the_same_run_and_refuses_another() {
    let train = data(200, 12);
    let dir = tmp("resume-from");
    let ck = dir.join("ck.safetensors");
    // A schedule over all 4 epochs, as the examples' cosine one.
    let schedule = || LearningRateScheduler::new(|epoch| 0.2 / epoch as f32);
    let cfg = |epochs| Fit::epochs(epochs).batch_size(16).verbose(false);

    let mut full = run_model(11, 0.2, 4);
    let mut s = schedule();
    full.fit(&train, cfg(4).callback(&mut s)).unwrap();

    let mut first = run_model(11, 0.2, 4);
    let mut s = schedule();
    first
        .fit(&train, cfg(2).callback(&mut s).checkpoint(&ck))
        .unwrap();
    drop(first);

    // One difference, then all of them at once, each with both values.
    let m = mismatch(run_model(12, 0.2, 4).resume_from(&ck));
    assert_eq!(
        m,
        "a checkpoint of a run with other settings: seed 11 in the checkpoint, 12 now; \
         a resumed run repeats the interrupted one only with the settings that run was \
         started with"
    );
    let m = mismatch(run_model(12, 0.02, 5).resume_from(&ck));
    for part in [
        "seed 11 in the checkpoint, 12 now",
        "initial learning rate 0.2 in the checkpoint, 0.02 now",
        "epochs 4 in the checkpoint, 5 now",
    ] {
        assert!(m.contains(part), "{part:?} in {m}");
    }
    let m = mismatch(
        run_model(11, 0.2, 4)
            .setting("augment", "none")
            .resume_from(&ck),
    );
    assert!(
        m.contains("augment (not set) in the checkpoint, none now"),
        "{m}"
    );

    // Another network (by name) is refused before anything is loaded.
    let mut other = Softmax4::new(7);
    other.name = "Other";
    let m = mismatch(
        Model::compile(other, crate::optim::Sgd::new(0.2).momentum(0.9))
            .seed(11)
            .setting("epochs", 4)
            .resume_from(&ck),
    );
    assert_eq!(
        m,
        "a checkpoint of another network: `Softmax4` (2 tensors), not `Other` \
         (2 tensors, 15 parameters)"
    );

    // The same run: another batch size is refused at fit, and the right
    // one ends where the uninterrupted run ended, bit for bit.
    let mut resumed = run_model(11, 0.2, 4).resume_from(&ck).unwrap();
    assert_eq!(resumed.epoch(), 2);
    let mut s = schedule();
    let err = resumed
        .fit(
            &train,
            Fit::epochs(4)
                .batch_size(32)
                .verbose(false)
                .callback(&mut s),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("batch size 16 in the checkpoint, 32 now"),
        "{err}"
    );
    assert!(
        err.to_string().starts_with(&ck.display().to_string()),
        "{err}"
    );
    resumed.fit(&train, cfg(4).callback(&mut s)).unwrap();
    assert_eq!(resumed.network().params(), full.network().params());
    assert_eq!(resumed.history().epochs.len(), 4);
}

#[test]
fn checkpoints_record_the_run() {
    let dir = tmp("run-info");
    let ck = dir.join("ck.safetensors");
    let mut m = run_model(3, 0.05, 6);
    m.fit(
        &data(40, 1),
        Fit::epochs(1).batch_size(8).verbose(false).checkpoint(&ck),
    )
    .unwrap();
    let mut net = Softmax4::new(0);
    let mut opt = crate::optim::Sgd::new(1.0).momentum(0.9);
    let r = checkpoint::load(&ck, &mut net, &mut opt).unwrap();
    assert_eq!(
        r.run,
        checkpoint::RunInfo {
            network: Some("Softmax4".into()),
            seed: 3,
            initial_learning_rate: Some(0.05),
            batch_size: Some(8),
            settings: vec![("epochs".into(), "6".into())],
        }
    );
    // The lenient `resume` adopts all of it.
    let resumed = Model::resume(Softmax4::new(0), opt, &ck).unwrap();
    assert_eq!(resumed.run_info(), r.run);

    // A weights-only file cannot resume; one with a tensor this network
    // lacks is another network's.
    let weights = dir.join("w.safetensors");
    checkpoint::save_weights(&weights, &net).unwrap();
    let err = checkpoint::load(&weights, &mut net, &mut crate::optim::Sgd::new(0.1)).unwrap_err();
    assert!(err.to_string().contains("weights-only"), "{err}");
    let extra = dir.join("extra.safetensors");
    let mut tensors = checkpoint::named_tensors(&net);
    let more = [0.0f32; 2];
    tensors.push(("head.bias".into(), vec![2], &more[..]));
    crate::io::save(
        &extra,
        &tensors,
        &[("format".into(), "cnn-training-checkpoint-1".into())],
    )
    .unwrap();
    let err = checkpoint::load(&extra, &mut net, &mut crate::optim::Sgd::new(0.1)).unwrap_err();
    assert!(
        matches!(&err, Error::Checkpoint { tensor, .. } if tensor == "head.bias"),
        "{err}"
    );
}

/// Random 2x2 windows of the examples padded to 3x3, mirrored half the time.
fn crop_pipeline() -> crate::augment::Pipeline {
    use crate::augment::{Mirror, Pipeline, RandomCrop};
    Pipeline::new()
        .then(RandomCrop::new(2, 2, 0))
        .then(Mirror::horizontal(0.5))
}

#[test]
fn augmented_fit_is_the_same_for_any_number_of_workers() {
    let train = data(200, 12).pad([0, 1, 0, 1], 0.0);
    let pipeline = crop_pipeline();
    let run = |workers: usize| {
        let mut m = Model::compile(Softmax4::new(2), crate::optim::Sgd::new(0.2)).seed(3);
        let fit = Fit::epochs(3)
            .batch_size(16)
            .verbose(false)
            .augment(&pipeline)
            .workers(workers);
        m.fit(&train, fit).unwrap();
        m.network().params().to_vec()
    };
    let inline = run(0);
    assert_eq!(run(1), inline);
    assert_eq!(run(3), inline);
    assert_ne!(inline, Softmax4::new(2).params);
}

#[test]
fn bad_augmentation_is_an_error_before_the_first_step() {
    use crate::augment::{Pipeline, RandomCrop};
    let train = data(50, 1).pad([0, 1, 0, 1], 0.0); // 3x3
    let mut m = Model::compile(Softmax4::new(1), crate::optim::Sgd::new(0.1));
    let too_big = Pipeline::new().then(RandomCrop::new(4, 4, 0));
    let err = m
        .fit(&train, Fit::epochs(1).verbose(false).augment(&too_big))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not fit the padded image 3x3"),
        "{err}"
    );
    // A crop that fits the data but not the network's 2x2 input.
    let wrong = Pipeline::new().then(RandomCrop::new(3, 3, 1));
    let err = m
        .fit(&train, Fit::epochs(1).verbose(false).augment(&wrong))
        .unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
    assert_eq!(m.epoch(), 0);
    assert_eq!(m.network().params(), Softmax4::new(1).params);
}

#[test]
fn a_step_schedule_sets_the_rate_before_every_step() {
    use crate::optim::{StepSchedule, WarmupCosine};
    let train = data(100, 4);
    // A rate of 0 everywhere: nothing may move, whatever the optimizer's own rate.
    struct Zero;
    impl StepSchedule for Zero {
        fn lr(&self, _step: usize) -> f32 {
            0.0
        }
    }
    let mut m = Model::compile(Softmax4::new(1), crate::optim::Sgd::new(0.5));
    m.fit(
        &train,
        Fit::epochs(2).batch_size(10).verbose(false).schedule(&Zero),
    )
    .unwrap();
    assert_eq!(m.network().params(), Softmax4::new(1).params);

    // 10 steps an epoch: epoch e starts at step 10 (e - 1), and the rate
    // left in the optimizer is that of the last step.
    let s = WarmupCosine::new(0.4, 5, 30);
    let mut m = Model::compile(Softmax4::new(1), crate::optim::Sgd::new(9.0));
    let h = m
        .fit(
            &train,
            Fit::epochs(3).batch_size(10).verbose(false).schedule(&s),
        )
        .unwrap()
        .clone();
    let logged: Vec<f32> = h.epochs.iter().map(|e| e.learning_rate).collect();
    assert_eq!(logged, [s.lr(0), s.lr(10), s.lr(20)]);
    assert_eq!(m.optimizer_mut().learning_rate(), s.lr(29));
}

/// Input 2x2x1, four classes: the crop's pixels divided by their sum, so
/// the probabilities show which pixels each crop saw.
struct PixelsAsClasses;

impl Classifier for PixelsAsClasses {
    fn input_dims(&self) -> &[usize] {
        &[2, 2, 1]
    }
    fn n_classes(&self) -> usize {
        4
    }
    fn probabilities(&self, x: &[f32], out: &mut [f32]) -> crate::Result<()> {
        for (xi, o) in x.chunks_exact(4).zip(out.chunks_exact_mut(4)) {
            let s: f32 = xi.iter().sum();
            o.iter_mut().zip(xi).for_each(|(o, v)| *o = v / s);
        }
        Ok(())
    }
}

#[test]
fn ten_crop_averages_the_corners_the_centre_and_their_mirrors() {
    // One 3x4 image 1..12; crops 2x2 at (0,0), (0,2), (1,0), (1,2), centre (0,1).
    let x: Vec<f32> = (1..=12).map(|v| v as f32).collect();
    let at = |r: usize, q: usize| x[r * 4 + q];
    let mut want = [0f32; 4];
    let mut want5 = [0f32; 4];
    for (oy, ox) in [(0, 0), (0, 2), (1, 0), (1, 2), (0, 1)] {
        let crop = [
            at(oy, ox),
            at(oy, ox + 1),
            at(oy + 1, ox),
            at(oy + 1, ox + 1),
        ];
        let mirrored = [crop[1], crop[0], crop[3], crop[2]];
        for c in [crop, mirrored] {
            let s: f32 = c.iter().sum();
            (0..4).for_each(|k| want[k] += c[k] / s / 10.0);
        }
        let s: f32 = crop.iter().sum();
        (0..4).for_each(|k| want5[k] += crop[k] / s / 5.0);
    }
    let tc = TenCrop::new(&PixelsAsClasses, [3, 4, 1]).unwrap();
    assert_eq!(tc.offsets(), [(0, 0), (0, 2), (1, 0), (1, 2), (0, 1)]);
    let mut got = [0f32; 8];
    let two = [x.clone(), x.clone()].concat();
    tc.probabilities(&two, &mut got).unwrap();
    crate::testing::assert_close(&got[..4], &want, 1e-6, 0.0);
    crate::testing::assert_close(&got[4..], &want, 1e-6, 0.0);
    let five = TenCrop::new(&PixelsAsClasses, [3, 4, 1])
        .unwrap()
        .mirrors(false);
    five.probabilities(&x, &mut got[..4]).unwrap();
    crate::testing::assert_close(&got[..4], &want5, 1e-6, 0.0);

    // Images smaller than the network's input, or with other channels: errors.
    let err = TenCrop::new(&PixelsAsClasses, [1, 4, 1]).err().unwrap();
    assert!(
        err.to_string().contains("not a crop of the 1x4x1 images"),
        "{err}"
    );
    assert!(TenCrop::new(&PixelsAsClasses, [3, 3, 3]).is_err());
    assert!(TenCrop::new(&Softmax4::new(1), [3, 3, 1]).is_ok());
}

#[test]
fn an_ensemble_averages_its_members() {
    let test = data(40, 3);
    let nets: Vec<Softmax4> = (1..=3).map(Softmax4::new).collect();
    let each: Vec<Vec<f32>> = nets
        .iter()
        .map(|n| predict(n, &test, 16).unwrap())
        .collect();
    let ens = Ensemble::new(nets).unwrap();
    let got = predict(&ens, &test, 7).unwrap();
    let want: Vec<f32> = (0..got.len())
        .map(|i| (each[0][i] + each[1][i] + each[2][i]) / 3.0)
        .collect();
    crate::testing::assert_close(&got, &want, 1e-6, 1e-7);
    // evaluate() scores it as Model::evaluate scores one network.
    let one = Model::compile(Softmax4::new(1), crate::optim::Sgd::new(0.1));
    assert_eq!(
        evaluate(&ens.members()[0], &test, 9).unwrap(),
        one.evaluate(&test, 9).unwrap()
    );
    assert!(evaluate(&ens, &test, 9).unwrap().loss.is_finite());
    // A 10-crop of the ensemble, on images padded by one pixel.
    let padded = test.pad([0, 1, 0, 1], 0.0);
    let tc = TenCrop::new(&ens, [3, 3, 1]).unwrap();
    assert_eq!(predict(&tc, &padded, 8).unwrap().len(), 40 * 3);

    assert!(Ensemble::<Softmax4>::new(vec![]).is_err());
    let err = Ensemble::new(vec![
        TenCrop::new(&PixelsAsClasses, [3, 3, 1]).unwrap(),
        TenCrop::new(&PixelsAsClasses, [3, 4, 1]).unwrap(),
    ])
    .err()
    .unwrap();
    assert!(err.to_string().contains("network 2"), "{err}");
}
