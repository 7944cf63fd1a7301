//! Gradient ascent on the input (Erhan et al. 2009; Simonyan et al.
//! 2014): the picture that maximises one unit of a tapped layer at the
//! centre of its map, through a held pass with every weight frozen, with
//! a decay towards the mean pixel, jitter and blur as regularisers and the
//! pixels kept in the range of real ones.

use cnn::ndarray::{Array4, ArrayD, IxDyn};
use cnn::pass::{Grads, Mode};

use super::{centre, map_dims, tap_shape, LeNet5Taps, SIDE};
use crate::lenet5_net::{MNIST_MEAN, MNIST_STD};

/// Gradient ascent settings: the step, as a fraction of the pixel range
/// per step for the largest gradient; the decay of the pixels towards the
/// mean per step (an L2 penalty); a blur every `BLUR_EVERY` steps.
const STEP: f32 = 0.05;
const DECAY: f32 = 0.002;
const BLUR_EVERY: usize = 4;

/// The valid range of a normalised pixel: 0 and 1 before normalising.
fn pixel_range() -> (f32, f32) {
    (
        (0.0 - MNIST_MEAN) / MNIST_STD,
        (1.0 - MNIST_MEAN) / MNIST_STD,
    )
}

/// What [`ascend`] returns: the pictures, and each unit's activation
/// before and after.
pub type Ascended = (Array4<f32>, Vec<(f32, f32)>);

/// Pictures that maximise each unit of `units` of layer `name` (at the
/// centre of its map), one per unit, by `steps` steps of gradient ascent
/// from faint noise around the mean pixel; returns them and each unit's
/// activation before and after.
pub fn ascend(
    net: &mut LeNet5Taps,
    name: &str,
    units: &[usize],
    steps: usize,
    seed: u64,
) -> Result<Ascended, cnn::Error> {
    let m = units.len();
    let [h, w, c] = map_dims(name);
    let [ci, cj] = centre(name);
    let (lo, hi) = pixel_range();
    let mut rng = cnn::rng::Rng::new(seed ^ 0xa5ce);
    let mut x = Array4::from_shape_simple_fn((m, SIDE, SIDE, 1), || 0.1 * rng.normal());
    // d(objective) / d(tap): one at each picture's own unit.
    let mut shape = vec![m];
    shape.extend_from_slice(tap_shape(name));
    let mut g = ArrayD::<f32>::zeros(IxDyn(&shape));
    {
        let gs = g.as_slice_mut().expect("standard order");
        for (b, &u) in units.iter().enumerate() {
            gs[((b * h + ci) * w + cj) * c + u] = 1.0;
        }
    }
    let read = |a: &[f32]| -> Vec<f32> {
        units
            .iter()
            .enumerate()
            .map(|(b, &u)| a[((b * h + ci) * w + cj) * c + u])
            .collect()
    };
    let pass = net.forward(x.view(), Mode::Infer)?;
    let first = read(pass.tap(name)?.as_slice().expect("standard order"));
    drop(pass);
    let px = SIDE * SIDE;
    let mut moved = x.clone();
    // A field of a few pixels has no room for blur or jitter: the best
    // picture for a 5x5 unit is its filter, which both would wash out.
    let field = LeNet5Taps::receptive_field(name).expect("a layer of LeNet5Taps");
    let smooth = field.size[0] >= 10;
    for step in 0..steps {
        // Jitter: the picture shifted by up to a pixel each way, so that
        // what grows is a pattern and not one pixel's noise.
        let shift = match smooth {
            true => [rng.below(3) as isize - 1, rng.below(3) as isize - 1],
            false => [0, 0],
        };
        roll(
            x.as_slice().expect("standard order"),
            moved.as_slice_mut().expect("standard order"),
            shift,
        );
        let mut pass = net.forward(moved.view(), Mode::Infer)?;
        pass.backward(Grads::new().tap(name, g.view()).input())?;
        let shifted = pass.input_grad().expect("asked for");
        let mut dx = vec![0.0; m * px];
        roll(
            shifted.as_slice().expect("standard order"),
            &mut dx,
            [-shift[0], -shift[1]],
        );
        drop(pass);
        let xs = x.as_slice_mut().expect("standard order");
        for b in 0..m {
            let (xb, db) = (&mut xs[b * px..(b + 1) * px], &dx[b * px..(b + 1) * px]);
            let top = db.iter().fold(0f32, |t, v| t.max(v.abs())).max(1e-12);
            for (v, d) in xb.iter_mut().zip(db) {
                *v = (*v + STEP * (hi - lo) * d / top) * (1.0 - DECAY);
            }
            if smooth && step % BLUR_EVERY == BLUR_EVERY - 1 {
                blur(xb);
            }
            xb.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
        }
    }
    let pass = net.forward(x.view(), Mode::Infer)?;
    let last = read(pass.tap(name)?.as_slice().expect("standard order"));
    drop(pass);
    net.zero_grads();
    Ok((x, first.into_iter().zip(last).collect()))
}

/// `dst` is each 32x32 picture of `src` shifted by `[rows, cols]`,
/// wrapping around.
fn roll(src: &[f32], dst: &mut [f32], shift: [isize; 2]) {
    let n = SIDE as isize;
    for (s, d) in src.chunks(SIDE * SIDE).zip(dst.chunks_mut(SIDE * SIDE)) {
        for y in 0..n {
            for x in 0..n {
                let (ty, tx) = ((y + shift[0]).rem_euclid(n), (x + shift[1]).rem_euclid(n));
                d[(ty * n + tx) as usize] = s[(y * n + x) as usize];
            }
        }
    }
}

/// A 3x3 binomial blur (`[1 2 1] / 4` each way) of a 32x32 picture, the
/// borders repeated.
fn blur(img: &mut [f32]) {
    let at = |v: &[f32], y: isize, x: isize| {
        let c = |k: isize| k.clamp(0, SIDE as isize - 1) as usize;
        v[c(y) * SIDE + c(x)]
    };
    let src = img.to_vec();
    for y in 0..SIDE as isize {
        for x in 0..SIDE as isize {
            let mut s = 0.0;
            for (dy, wy) in [(-1, 1.0), (0, 2.0), (1, 1.0)] {
                for (dx, wx) in [(-1, 1.0), (0, 2.0), (1, 1.0)] {
                    s += wy * wx * at(&src, y + dy, x + dx);
                }
            }
            img[y as usize * SIDE + x as usize] = s / 16.0;
        }
    }
}
