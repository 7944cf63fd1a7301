//! Neural style transfer (Gatys et al. 2015) and texture synthesis with
//! random filters (Ustyuzhaninov et al. 2016):
//!
//!     cargo run --release --example style_transfer -- --content assets/chelsea.png \
//!         --style assets/brick.png --weights vgg19.safetensors
//!     cargo run --release --example style_transfer -- --style assets/gravel.png --random
//!
//! With `--weights` (torchvision's VGG-19 `state_dict` in safetensors; the
//! docs/style.md gives the one command that saves it; `--vgg16` for VGG-16's)
//! it runs the course's assignment: content layer conv4_2, style layers
//! conv1_1 .. conv5_1 at 0.2 each, `alpha = 10`, `beta = 40`, the content
//! picture plus noise, pixels normalised as torchvision's VGG expects.
//! With `--random` it synthesises the style picture's texture from noise
//! through one multi-scale layer of random filters (no pretrained weights
//! needed); the content cost is then measured, not optimised
//! (`--alpha` > 0 and `--init content` turn it into a transfer).
//!
//! Options: `--steps N` (200), `--method lbfgs|adam` (lbfgs), `--lr` (Adam's,
//! 0.01), `--alpha`, `--beta`, `--tv` (total variation weight, 0),
//! `--init content|noise`, `--seed`, `--out DIR` (out/style_transfer). It
//! writes `result.png`, `strip.png` (snapshots from start to end, left to
//! right), and the content and style pictures as the network saw them;
//! it ends with `content cost: A -> B` and `style cost: A -> B`.

use std::path::{Path, PathBuf};

use cnn::io::image::{read_png, write_png_rgb, Image};
use cnn::style::{Extractor, Init, Method, Transfer};

#[path = "shared/vgg_features.rs"]
mod vgg_features;
use vgg_features::*;

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "style_transfer",
    about = "Neural style transfer (Gatys et al.): the content of one picture in the style of another",
    group = clap::ArgGroup::new("network").required(true).args(["weights", "random"])
)]
struct Args {
    /// The content picture
    #[arg(long, value_name = "CONTENT.png", default_value = "assets/chelsea.png")]
    content: PathBuf,
    /// The style picture
    #[arg(long, value_name = "STYLE.png", default_value = "assets/brick.png")]
    style: PathBuf,
    /// torchvision's VGG-19 weights (docs/style.md says how to save them)
    #[arg(long, value_name = "vgg19.safetensors")]
    weights: Option<PathBuf>,
    /// The weights are VGG-16's
    #[arg(long, requires = "weights")]
    vgg16: bool,
    /// Random filters, no weights needed (texture synthesis as Ustyuzhaninov et al.)
    #[arg(long)]
    random: bool,
    /// Optimisation steps
    #[arg(long, value_name = "N", default_value_t = 200)]
    steps: usize,
    /// The optimiser
    #[arg(long, default_value = "lbfgs", value_parser = ["lbfgs", "adam"])]
    method: String,
    /// Adam's learning rate
    #[arg(long, value_name = "LR", default_value_t = 0.01)]
    lr: f32,
    /// Weight of the content cost [default: the network's setting]
    #[arg(long, value_name = "A")]
    alpha: Option<f32>,
    /// Weight of the style cost [default: the network's setting]
    #[arg(long, value_name = "B")]
    beta: Option<f32>,
    /// Weight of total variation
    #[arg(long, value_name = "T", default_value_t = 0.0)]
    tv: f32,
    /// The starting picture [default: the network's setting]
    #[arg(long, value_parser = ["content", "noise"])]
    init: Option<String>,
    /// Seed of the noise
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Where the result and the snapshots go
    #[arg(long, value_name = "DIR", default_value = "out/style_transfer")]
    out: PathBuf,
}

/// A picture read and fitted to the network's input (RGB, centre crop).
fn picture(path: &Path, [h, w, _]: [usize; 3]) -> cnn::Result<Vec<f32>> {
    Ok(read_png(path)?.resize_to_fill(w, h)?.to_rgb().data)
}

fn main() {
    let a = <Args as clap::Parser>::parse();
    if let Err(e) = run(&a) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(a: &Args) -> cnn::Result<()> {
    let (mut net, mut settings): (Box<dyn Extractor>, Transfer) = if a.random {
        let net = RandomScales::new(a.seed);
        // Texture synthesis: the style alone drives; the content cost at the
        // same layer is measured against the content picture.
        let mut s = Transfer::course("act", &["act"]);
        s.alpha = 0.0;
        s.beta = 1.0;
        s.init = Init::Noise;
        (Box::new(net), s)
    } else {
        let path = a.weights.as_ref().expect("checked in parse_args");
        let (net, table, last): (Box<dyn Extractor>, _, usize) = if a.vgg16 {
            let mut net = Vgg16Features::new(0);
            let report = net.load_pytorch(path, |k| features_key(k, 24))?;
            println!("{report}");
            (Box::new(net), VGG16_LAYERS, 24)
        } else {
            let mut net = Vgg19Features::new(0);
            let report = net.load_pytorch(path, |k| features_key(k, 28))?;
            println!("{report}");
            (Box::new(net), VGG19_LAYERS, 28)
        };
        let _ = last;
        let name = |c: &str| torchvision_name(&table, c);
        let styles = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"].map(name);
        let mut s = Transfer::course(name("conv4_2"), &styles);
        // torchvision's VGG reads ImageNet-normalised pictures.
        s.mean = vec![0.485, 0.456, 0.406];
        s.std = vec![0.229, 0.224, 0.225];
        (net, s)
    };
    settings.steps = a.steps;
    settings.seed = a.seed;
    settings.tv_weight = a.tv;
    settings.progress = true;
    settings.report_every = (a.steps / 10).max(1);
    settings.snapshot_every = (a.steps / 8).max(1);
    if let Some(alpha) = a.alpha {
        settings.alpha = alpha;
    }
    if let Some(beta) = a.beta {
        settings.beta = beta;
    }
    match a.init.as_deref() {
        None => {}
        Some("content") => settings.init = Init::ContentPlusNoise(0.25),
        Some("noise") => settings.init = Init::Noise,
        Some(other) => {
            return Err(cnn::Error::InvalidArgument(format!(
                "--init content|noise, not `{other}`"
            )))
        }
    }
    settings.method = match a.method.as_str() {
        "adam" => Method::Adam { lr: a.lr },
        "lbfgs" => Method::Lbfgs { history: 20 },
        other => {
            return Err(cnn::Error::InvalidArgument(format!(
                "--method lbfgs|adam, not `{other}`"
            )))
        }
    };

    let shape = net.picture_shape();
    let [h, w, _] = shape;
    let content = picture(&a.content, shape)?;
    let style = picture(&a.style, shape)?;
    std::fs::create_dir_all(&a.out).map_err(|e| cnn::Error::io(&a.out, e))?;
    write_png_rgb(&a.out.join("content.png"), w, h, &content, false)?;
    write_png_rgb(&a.out.join("style.png"), w, h, &style, false)?;
    println!(
        "{} on {}x{}: {} steps of {:?}, alpha {}, beta {}, tv {}",
        if a.random {
            "texture synthesis with random multi-scale filters"
        } else {
            "style transfer through VGG"
        },
        h,
        w,
        settings.steps,
        settings.method,
        settings.alpha,
        settings.beta,
        settings.tv_weight
    );
    let mut snapshots: Vec<Vec<f32>> = Vec::new();
    let outcome = settings.run(net.as_mut(), Some(&content), &style, &mut |_, x| {
        snapshots.push(x.to_vec());
        Ok(())
    })?;
    write_png_rgb(&a.out.join("result.png"), w, h, &outcome.picture, false)?;
    let strip = strip(&snapshots, shape)?;
    write_png_rgb(
        &a.out.join("strip.png"),
        strip.width,
        strip.height,
        &strip.data,
        false,
    )?;
    println!(
        "wrote {} (and strip.png, {} snapshots; content.png, style.png) after {} cost evaluations",
        a.out.join("result.png").display(),
        snapshots.len(),
        outcome.evals
    );
    let (first, last) = (outcome.first(), outcome.last());
    println!(
        "content cost: {:.4e} -> {:.4e}",
        first.content, last.content
    );
    println!("style cost: {:.4e} -> {:.4e}", first.style, last.style);
    Ok(())
}

/// The snapshots side by side, each at most 128 pixels high.
fn strip(snapshots: &[Vec<f32>], [h, w, c]: [usize; 3]) -> cnn::Result<Image> {
    let (th, tw) = if h > 128 { (128, w * 128 / h) } else { (h, w) };
    let n = snapshots.len();
    let mut data = vec![1.0f32; th * tw * n * c];
    for (k, snap) in snapshots.iter().enumerate() {
        let small = Image {
            width: w,
            height: h,
            channels: c,
            data: snap.clone(),
        }
        .resize_to_fill(tw, th)?;
        for y in 0..th {
            let row = &small.data[y * tw * c..(y + 1) * tw * c];
            let at = (y * tw * n + k * tw) * c;
            data[at..at + tw * c].copy_from_slice(row);
        }
    }
    Ok(Image {
        width: tw * n,
        height: th,
        channels: c,
        data,
    })
}
