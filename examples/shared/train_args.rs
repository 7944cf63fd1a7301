//! The command line of the MNIST training examples (`lenet5`,
//! `resnet_mnist`): `--data DIR`, `--epochs N`, `--batch-size N`,
//! `--threads N`, `--seed N`, `--out DIR`, `--lr X`, `--augment KIND`, `--resume PATH`, as
//! `--flag value` or `--flag=value` (clap's parser); `--help` lists them. Also what both
//! examples do around training ([`load_mnist`], [`fit_and_report`]), which
//! `tests/resume_examples.rs` runs on a tiny network. Needs `shared/cli.rs`
//! as the crate's `cli` module.

use std::path::PathBuf;

use clap::{Arg, ArgMatches, Command};

/// The parsed options.
#[derive(Clone)]
pub struct Args {
    pub data: PathBuf,
    pub epochs: usize,
    pub batch_size: usize,
    pub threads: Option<usize>,
    pub seed: u64,
    pub out: PathBuf,
    pub learning_rate: f32,
    /// `none`, `shift` (the default) or `elastic`; see [`augmentation`].
    pub augment: String,
    /// A checkpoint to continue from (`--resume PATH`).
    pub resume: Option<PathBuf>,
    /// Stop after this epoch, as if interrupted, leaving the checkpoint of a
    /// run of `epochs` epochs. Not on the command line: the resume test
    /// uses it to interrupt a run.
    pub stop_after: Option<usize>,
    /// Print nothing: the ranks other than 0 of a data-parallel job.
    pub quiet: bool,
}

/// An example's defaults and how it describes its learning rate.
pub struct Defaults {
    pub program: &'static str,
    pub epochs: usize,
    pub batch_size: usize,
    pub out: &'static str,
    pub learning_rate: f32,
    /// e.g. "Adam's initial learning rate (cosine-annealed to 0)"; clap adds the default.
    pub lr_help: &'static str,
}

/// The command line, with `d`'s defaults; clap prints its `--help`.
pub fn command(d: &Defaults) -> Command {
    Command::new(d.program)
        .about(format!(
            "Trains {} on MNIST with checkpoints, a history and curves in --out",
            d.program
        ))
        .arg(
            Arg::new("data")
                .long("data")
                .value_name("DIR")
                .value_parser(clap::value_parser!(PathBuf))
                .help("A directory with the four MNIST IDX files, gzipped or not [default: the vendored data/mnist]"),
        )
        .arg(
            Arg::new("epochs")
                .long("epochs")
                .value_name("N")
                .value_parser(crate::cli::positive)
                .default_value(d.epochs.to_string())
                .help("Epochs to train"),
        )
        .arg(
            Arg::new("batch-size")
                .long("batch-size")
                .value_name("N")
                .value_parser(crate::cli::positive)
                .default_value(d.batch_size.to_string())
                .help("Examples per step"),
        )
        .arg(
            Arg::new("threads")
                .long("threads")
                .value_name("N")
                .value_parser(crate::cli::positive)
                .help("Worker threads [default: all cores]"),
        )
        .arg(
            Arg::new("seed")
                .long("seed")
                .value_name("N")
                .value_parser(clap::value_parser!(u64))
                .default_value("1")
                .help("Seed of the weights and the data order"),
        )
        .arg(
            Arg::new("out")
                .long("out")
                .value_name("DIR")
                .value_parser(clap::value_parser!(PathBuf))
                .default_value(d.out)
                .help("Where the model, checkpoints, log and curves go"),
        )
        .arg(
            Arg::new("lr")
                .long("lr")
                .value_name("X")
                .value_parser(clap::value_parser!(f32))
                .default_value(d.learning_rate.to_string())
                .help(d.lr_help),
        )
        .arg(
            Arg::new("augment")
                .long("augment")
                .value_name("KIND")
                .value_parser(["none", "shift", "elastic"])
                .default_value("shift")
                .help("none, shift (random 2-pixel shifts) or elastic (affine + elastic distortions)"),
        )
        .arg(
            Arg::new("resume")
                .long("resume")
                .value_name("PATH")
                .value_parser(clap::value_parser!(PathBuf))
                .help(format!(
                    "Continue from a checkpoint of this example (such as {}/{}_checkpoint.safetensors), \
                     started with the same --epochs, --batch-size, --seed and --lr; it ends with the \
                     weights the run would have had without the interruption",
                    d.out, d.program
                )),
        )
}

/// Parses the command line; `--help` prints the options and exits with
/// status 0, a bad option prints clap's message and exits with status 2.
pub fn parse_or_exit(d: &Defaults) -> Args {
    match command(d).try_get_matches() {
        Ok(m) => from_matches(&m),
        Err(e) => e.exit(),
    }
}

/// Parses the options after the program's name; `Err` is clap's message
/// (its help text for `--help`).
#[allow(dead_code)] // the tests' entry (tests/resume_examples.rs)
pub fn parse(d: &Defaults, it: impl Iterator<Item = String>) -> Result<Args, String> {
    let line = std::iter::once(d.program.to_string()).chain(it);
    let m = command(d)
        .try_get_matches_from(line)
        .map_err(|e| e.to_string())?;
    Ok(from_matches(&m))
}

fn from_matches(m: &ArgMatches) -> Args {
    let path = |id: &str| m.get_one::<PathBuf>(id).cloned();
    let whole = |id: &str| m.get_one::<usize>(id).copied();
    Args {
        data: path("data").unwrap_or_else(cnn::data::mnist::vendored_dir),
        epochs: whole("epochs").unwrap_or(1),
        batch_size: whole("batch-size").unwrap_or(1),
        threads: whole("threads"),
        seed: m.get_one::<u64>("seed").copied().unwrap_or(1),
        out: path("out").unwrap_or_default(),
        learning_rate: m.get_one::<f32>("lr").copied().unwrap_or(1e-3),
        augment: m
            .get_one::<String>("augment")
            .cloned()
            .unwrap_or_else(|| "shift".into()),
        resume: path("resume"),
        stop_after: None,
        quiet: false,
    }
}

/// What both examples do first: set the thread count, load MNIST from
/// `--data` through `prepare`, hold out 5,000 training images for
/// validation (Keras-style, seeded by `--seed`), create `--out`, and say
/// so. Returns `(train, validation, test)`.
pub fn load_mnist(
    args: &Args,
    prepare: fn(&cnn::data::LabelledImages) -> Result<cnn::Dataset, cnn::Error>,
) -> Result<(cnn::Dataset, cnn::Dataset, cnn::Dataset), cnn::Error> {
    if let Some(t) = args.threads {
        cnn::parallel::set_threads(t);
    }
    let t0 = std::time::Instant::now();
    let mnist = cnn::data::mnist::load(&args.data)?;
    let all = prepare(&mnist.train)?;
    let test = prepare(&mnist.test)?;
    let (train, val) = all.split(5_000, args.seed)?;
    if args.quiet {
        return Ok((train, val, test));
    }
    println!(
        "MNIST from {}: {} training, {} validation, {} test images ({:.1} s to load)",
        args.data.display(),
        train.len(),
        val.len(),
        test.len(),
        t0.elapsed().as_secs_f64()
    );
    std::fs::create_dir_all(&args.out).map_err(|e| cnn::Error::io(&args.out, e))?;
    println!("threads: {}", cnn::parallel::threads());
    Ok((train, val, test))
}

/// The distortions of `--augment elastic` for digits whose background is
/// `background`: a random affine map (rotation and shear up to 8 degrees,
/// scale 0.92-1.08, shifts up to 2 pixels), then Simard et al.'s elastic
/// distortion (alpha 34 as theirs, sigma 6 where theirs is 4: smoother),
/// sampled once. LeNet-5 is small: with rotations and shears of 10 degrees
/// and sigma 4 it underfits (0.89% test error after 30 epochs, against
/// 0.62% with these; RESULTS.md).
pub fn mnist_distortions(background: f32) -> cnn::augment::Pipeline {
    use cnn::augment::{Affine, Border, Elastic, Pipeline};
    Pipeline::new()
        .then(Affine {
            rotation: 8.0,
            shear: 8.0,
            scale: (0.92, 1.08),
            translate: 2.0,
            p: 1.0,
        })
        .then(Elastic::new(34.0, 6.0))
        .border(Border::Constant(background))
}

/// The learning rate of every step: a linear warm-up over the first 5% of
/// the run (at most one epoch), then cosine annealing from `peak` to 0 at
/// the last step.
pub fn step_schedule(peak: f32, epochs: usize, steps_per_epoch: usize) -> cnn::optim::WarmupCosine {
    let total = epochs * steps_per_epoch;
    cnn::optim::WarmupCosine::new(peak, (total / 20).min(steps_per_epoch), total)
}

/// What both examples do after building the model: continue from
/// `--resume` if given (refused, with every difference named, when the
/// checkpoint is of another network or of a run with another seed,
/// learning rate, batch size or epoch count), train with the augmentation of
/// `--augment` (filled with `background`), a learning rate from `--lr` that
/// warms up and anneals every step over `--epochs`, the best-on-validation weights kept in
/// `<name>_best.safetensors` and a resumable checkpoint, log and curves in
/// `--out`; then test the final weights (saved as `<name>.safetensors`)
/// and the best ones, and end with the line `test accuracy: NN.NN%` that
/// scripts read. Returns the model, holding the best weights.
#[allow(dead_code)] // lenet5 calls fit_and_report_on, for its ranks
pub fn fit_and_report<N: cnn::Network>(
    args: &Args,
    model: cnn::Model<N>,
    data: (&cnn::Dataset, &cnn::Dataset, &cnn::Dataset),
    name: &str,
    title: &str,
    background: f32,
) -> Result<cnn::Model<N>, cnn::Error> {
    fit_and_report_on(args, model, data, name, title, background, None)
}

/// [`fit_and_report`] on the ranks of a data-parallel job (`ranks`; `None`
/// is one process): every rank trains its shards of each batch, rank 0
/// alone prints, writes, tests and reports, and the others return after
/// `fit` (with `args.quiet` set).
pub fn fit_and_report_on<N: cnn::Network>(
    args: &Args,
    model: cnn::Model<N>,
    data: (&cnn::Dataset, &cnn::Dataset, &cnn::Dataset),
    name: &str,
    title: &str,
    background: f32,
    ranks: Option<&mut dyn cnn::dist::Collective>,
) -> Result<cnn::Model<N>, cnn::Error> {
    use cnn::train::{Augment, Callback, Control, EpochEnd, ModelCheckpoint, Monitor, RandomShift};
    let (train, val, test) = data;
    // The schedule spans --epochs, so a resumed run must have the same
    // count (and augmentation) to repeat the run: the checkpoint keeps them.
    let mut model = model
        .setting("epochs", args.epochs)
        .setting("augment", args.augment.as_str());
    if let Some(path) = &args.resume {
        model = model.resume_from(path)?;
        if !args.quiet {
            println!(
                "resuming from {}: {} of {} epochs done",
                path.display(),
                model.epoch(),
                args.epochs
            );
        }
    }
    let first_epoch = model.epoch();
    let schedule = step_schedule(
        args.learning_rate,
        args.epochs,
        train.len().div_ceil(args.batch_size),
    );
    let best_path = args.out.join(format!("{name}_best.safetensors"));
    let mut best = ModelCheckpoint::best(&best_path, Monitor::ValAccuracy);
    if first_epoch > 0 && best_path.exists() {
        // The interrupted run kept its best epoch there: beat that one.
        best = best.continue_from(model.history());
    }
    // Random shifts of up to 2 pixels: the course's cheapest augmentation,
    // worth a few tenths of a percent on MNIST.
    let shift = RandomShift {
        max: 2,
        fill: background,
    };
    /// Stops after an epoch, as an interruption would (`Args::stop_after`).
    struct StopAfter(usize);
    impl Callback for StopAfter {
        fn on_epoch_end(&mut self, end: &EpochEnd<'_>) -> Result<Control, cnn::Error> {
            Ok(if end.log.epoch >= self.0 {
                Control::Stop
            } else {
                Control::Continue
            })
        }
    }
    let mut stop = StopAfter(args.stop_after.unwrap_or(usize::MAX));
    let distort = mnist_distortions(background);
    let mut fit = cnn::Fit::epochs(args.epochs);
    let augment: Option<&dyn Augment> = match args.augment.as_str() {
        "shift" => Some(&shift),
        "elastic" => Some(&distort),
        _ => None,
    };
    if let Some(a) = augment {
        fit = fit.augment(a);
    }
    if !args.quiet {
        println!("augmentation: {}", args.augment);
    }
    let fit = fit
        .batch_size(args.batch_size)
        .validation_data(val)
        .schedule(&schedule)
        .callback(&mut best)
        .callback(&mut stop)
        .checkpoint(args.out.join(format!("{name}_checkpoint.safetensors")))
        .csv_log(args.out.join("history.csv"))
        .curves(args.out.join("curves.svg"), title);
    let fit = match ranks {
        Some(r) => fit.ranks(cnn::dist::Ranks::new(r)),
        None => fit,
    };
    let start = std::time::Instant::now();
    let history = model.fit(train, fit)?.clone();
    if args.quiet {
        return Ok(model);
    }
    let seconds = start.elapsed().as_secs_f64();
    let trained = &history.epochs[first_epoch.min(history.epochs.len())..];
    let epochs = trained.len().max(1);
    let images_per_second =
        trained.iter().map(|e| e.images_per_second).sum::<f64>() / epochs as f64;
    let step_ms = 1e3 * trained.iter().map(|e| e.seconds).sum::<f64>()
        / (epochs * train.len().div_ceil(args.batch_size)) as f64;
    println!(
        "trained {} epoch{} in {seconds:.1} s ({:.1} s per epoch, {images_per_second:.0} images/s on average, {step_ms:.2} ms per step)",
        trained.len(),
        if trained.len() == 1 { "" } else { "s" },
        seconds / epochs as f64
    );

    // Test with the final weights (the cosine schedule ends at a small
    // learning rate), and report the best-on-validation checkpoint beside it.
    let eval = model.evaluate(test, 500)?;
    let saved = args.out.join(format!("{name}.safetensors"));
    cnn::train::checkpoint::save_weights(&saved, model.network())?;
    cnn::train::checkpoint::load_weights(&best_path, model.network_mut())?;
    let best_eval = model.evaluate(test, 500)?;
    println!(
        "saved {}; the best validation epoch ({}) is in {} and scores {:.2}% on test",
        saved.display(),
        best.saved_epoch.unwrap_or(0),
        best_path.display(),
        100.0 * best_eval.accuracy
    );
    println!(
        "curves: {}, log: {}",
        args.out.join("curves.svg").display(),
        args.out.join("history.csv").display()
    );
    println!("test loss: {:.4}", eval.loss);
    println!("test accuracy: {:.2}%", 100.0 * eval.accuracy);
    Ok(model)
}
