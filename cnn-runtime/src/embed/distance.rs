//! Distances between embeddings: the course's `d(x1, x2) = ||f(x1) -
//! f(x2)||^2` (squared Euclidean, the default) or the plain Euclidean
//! distance, for one pair or for every pair of a batch. The losses of this
//! module work on the `[n, n]` matrix of a batch in `f64` and push the
//! gradient of each distance they use back onto the two embeddings with
//! [`add_distance_grad`]. Differences are summed element by element, not
//! through `|a|^2 + |b|^2 - 2 a.b`, which cancels badly for nearby points
//! and can come out negative.

use crate::error::{Error, Result};

/// How far apart two embeddings are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Distance {
    /// `||a - b||^2`, the course's and FaceNet's distance (the default).
    #[default]
    SquaredEuclidean,
    /// `||a - b||`. Its gradient `(a - b) / ||a - b||` is taken as 0 where
    /// `a = b`, where it is not defined.
    Euclidean,
}

impl Distance {
    /// The short name files and messages use (`"squared_euclidean"`).
    pub fn name(self) -> &'static str {
        match self {
            Distance::SquaredEuclidean => "squared_euclidean",
            Distance::Euclidean => "euclidean",
        }
    }

    /// The distance named `name` (as [`Distance::name`] writes it).
    pub fn from_name(name: &str) -> Option<Distance> {
        match name {
            "squared_euclidean" => Some(Distance::SquaredEuclidean),
            "euclidean" => Some(Distance::Euclidean),
            _ => None,
        }
    }

    /// The distance from the squared distance `sq`.
    pub(crate) fn of_squared(self, sq: f64) -> f64 {
        match self {
            Distance::SquaredEuclidean => sq,
            Distance::Euclidean => sq.sqrt(),
        }
    }
}

/// The distance between `a` and `b` (of the same length).
///
/// ```
/// use cnn_runtime::embed::{distance, Distance};
/// assert_eq!(distance(&[0.0, 3.0], &[4.0, 0.0], Distance::SquaredEuclidean), 25.0);
/// assert_eq!(distance(&[0.0, 3.0], &[4.0, 0.0], Distance::Euclidean), 5.0);
/// ```
pub fn distance(a: &[f32], b: &[f32], distance: Distance) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    distance.of_squared(squared(a, b)) as f32
}

/// `||a - b||^2` in `f64`.
pub(crate) fn squared(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum()
}

/// Checks a batch of embeddings of `dim` values each and returns how many
/// there are; `what` names the caller in messages.
pub(crate) fn batch_len(what: &str, embeddings: &[f32], dim: usize) -> Result<usize> {
    if dim == 0 {
        return Err(Error::InvalidArgument(format!(
            "{what}: an embedding of 0 values; give the embedding's length"
        )));
    }
    if embeddings.is_empty() || !embeddings.len().is_multiple_of(dim) {
        return Err(Error::shape(
            format!("{what}: embeddings"),
            format!("a positive multiple of the embedding length {dim}"),
            embeddings.len(),
        ));
    }
    Ok(embeddings.len() / dim)
}

/// Every distance of a batch of `n = embeddings.len() / dim` embeddings,
/// row by row: `out[i * n + j] = d(e_i, e_j)` (0 on the diagonal, and
/// symmetric). Overwrites `out`, which must hold `n * n` values.
///
/// ```
/// use cnn_runtime::embed::{pairwise_distances, Distance};
/// let e = [0.0, 0.0, 1.0, 0.0, 0.0, 2.0]; // three points of the plane
/// let mut d = [f32::NAN; 9];
/// pairwise_distances(&e, 2, Distance::SquaredEuclidean, &mut d).unwrap();
/// assert_eq!(d, [0.0, 1.0, 4.0, 1.0, 0.0, 5.0, 4.0, 5.0, 0.0]);
/// ```
pub fn pairwise_distances(
    embeddings: &[f32],
    dim: usize,
    distance: Distance,
    out: &mut [f32],
) -> Result<()> {
    let n = batch_len("pairwise_distances", embeddings, dim)?;
    crate::error::check_len("pairwise_distances: out", out.len(), n * n)?;
    for i in 0..n {
        out[i * n + i] = 0.0;
        for j in i + 1..n {
            let sq = squared(
                &embeddings[i * dim..(i + 1) * dim],
                &embeddings[j * dim..(j + 1) * dim],
            );
            let d = distance.of_squared(sq) as f32;
            out[i * n + j] = d;
            out[j * n + i] = d;
        }
    }
    Ok(())
}

/// [`pairwise_distances`] in `f64`, into `out` (resized to `n * n`).
pub(crate) fn pairwise_f64(
    embeddings: &[f32],
    n: usize,
    dim: usize,
    distance: Distance,
    out: &mut Vec<f64>,
) {
    out.clear();
    out.resize(n * n, 0.0);
    for i in 0..n {
        for j in i + 1..n {
            let sq = squared(
                &embeddings[i * dim..(i + 1) * dim],
                &embeddings[j * dim..(j + 1) * dim],
            );
            let d = distance.of_squared(sq);
            out[i * n + j] = d;
            out[j * n + i] = d;
        }
    }
}

/// Adds `weight * d d(e_i, e_j) / d e` into `grad` (`f64`, laid out as the
/// embeddings): `2 (e_i - e_j)` onto `e_i` and its negative onto `e_j`
/// for the squared distance, `(e_i - e_j) / d` for the plain one (nothing
/// where `d = 0`). `d` is the distance itself, as the matrix holds it.
pub(crate) fn add_distance_grad(
    embeddings: &[f32],
    dim: usize,
    distance: Distance,
    (i, j): (usize, usize),
    d: f64,
    weight: f64,
    grad: &mut [f64],
) {
    let scale = match distance {
        Distance::SquaredEuclidean => 2.0 * weight,
        Distance::Euclidean if d > 0.0 => weight / d,
        Distance::Euclidean => return,
    };
    for k in 0..dim {
        let diff = embeddings[i * dim + k] as f64 - embeddings[j * dim + k] as f64;
        grad[i * dim + k] += scale * diff;
        grad[j * dim + k] -= scale * diff;
    }
}
