//! The measurements, the same for every way of turning an image into a
//! vector (the triplet encoder, the softmax baseline's features, raw
//! pixels): N-way one-shot recognition within a group (Koch et al. 2015's
//! protocol on Omniglot: N letters of one alphabet, one image each as the
//! gallery, a query that is another image of one of them, nearest by
//! squared Euclidean distance), and verification on balanced pairs (the
//! threshold chosen on training pairs, then measured on test pairs, with
//! the test ROC). Episodes and pairs depend on the seed alone, so the three
//! methods meet the same ones.

use cnn::data::Dataset;
use cnn::embed::{accuracy_at, l2_normalize, roc, Roc};
use cnn::ndarray::ArrayView4;
use cnn::rng::Rng;
use cnn::Error;

use super::data::{Identities, SIDE};
use super::nets::Encoder;

/// Images per `predict` call.
const BATCH: usize = 256;

/// The views of an image that test-time augmentation averages: itself
/// and shifted a pixel down, up, right and left (rows, columns).
const SHIFTS: [(isize, isize); 5] = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)];

/// The encoder's L2-normalised embeddings of every image of `data`,
/// `[n, 128]` row after row. With `tta`, an image's embedding is the mean
/// of its five views' (itself and shifted a pixel each way, the border
/// filled with 0), brought back to unit length: on the glyphs' unseen
/// alphabets that adds about half a point of 20-way accuracy.
pub fn embed(net: &Encoder, data: &Dataset, tta: bool) -> Result<Vec<f32>, Error> {
    let shifts = if tta { &SHIFTS[..] } else { &SHIFTS[..1] };
    let per = SIDE * SIDE;
    let dim = Encoder::OUTPUT_SIZE;
    let mut sum = vec![0f32; data.len() * dim];
    let mut moved = Vec::new();
    for &(dy, dx) in shifts {
        let mut out = Vec::with_capacity(data.len() * dim);
        for chunk in data.images().chunks(BATCH * per) {
            moved.clear();
            moved.extend(
                chunk
                    .chunks_exact(per)
                    .flat_map(|img| (0..per).map(move |k| shifted(img, k, dy, dx))),
            );
            let x = ArrayView4::from_shape((chunk.len() / per, SIDE, SIDE, 1), &moved[..])
                .map_err(|e| Error::InvalidArgument(format!("embedding batch: {e}")))?;
            out.extend(net.predict(x)?.iter());
        }
        l2_normalize(&mut out, dim)?;
        for (s, v) in sum.iter_mut().zip(&out) {
            *s += v;
        }
    }
    l2_normalize(&mut sum, dim)?;
    Ok(sum)
}

/// The ensemble's vectors of every image of `data`: each member's
/// [`embed`] side by side (`[n, 128 * members]`), scaled by `1 /
/// sqrt(members)` so that each row has unit length again and a squared
/// distance is the mean of the members' squared distances.
pub fn embed_ensemble(nets: &[Encoder], data: &Dataset, tta: bool) -> Result<Vec<f32>, Error> {
    let dim = Encoder::OUTPUT_SIZE;
    let members = nets.len();
    if members == 1 {
        return embed(&nets[0], data, tta);
    }
    let scale = 1.0 / (members as f32).sqrt();
    let mut out = vec![0f32; data.len() * dim * members];
    for (m, net) in nets.iter().enumerate() {
        let one = embed(net, data, tta)?;
        for (row, v) in out
            .chunks_exact_mut(dim * members)
            .zip(one.chunks_exact(dim))
        {
            for (o, x) in row[m * dim..(m + 1) * dim].iter_mut().zip(v) {
                *o = x * scale;
            }
        }
    }
    Ok(out)
}

/// Member `m`'s own unit-length embeddings, cut out of an ensemble's
/// vectors (`[n, 128 * members]`).
pub fn member(features: &[f32], members: usize, m: usize) -> Vec<f32> {
    let dim = Encoder::OUTPUT_SIZE;
    let scale = (members as f32).sqrt();
    features
        .chunks_exact(dim * members)
        .flat_map(|row| row[m * dim..(m + 1) * dim].iter().map(move |x| x * scale))
        .collect()
}

/// Pixel `k` of `img` (`SIDE x SIDE`) moved by `dy` rows and `dx`
/// columns: what was at `k - (dy, dx)`, or 0 from outside.
fn shifted(img: &[f32], k: usize, dy: isize, dx: isize) -> f32 {
    let side = SIDE as isize;
    let (y, x) = ((k / SIDE) as isize - dy, (k % SIDE) as isize - dx);
    if (0..side).contains(&y) && (0..side).contains(&x) {
        img[(y * side + x) as usize]
    } else {
        0.0
    }
}

/// One N-way episode, as image indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Episode {
    /// One image of each of the N identities.
    pub gallery: Vec<usize>,
    /// Another image of the identity at `answer`.
    pub query: usize,
    /// Which gallery image is of the query's identity.
    pub answer: usize,
}

/// `count` N-way episodes (`way` = N) drawn within `set`'s groups: a group
/// at random among those with `way` identities of two images or more,
/// `way` of its identities, an image of each, and a query of one of them.
/// `None` when no group has `way` such identities.
pub fn episodes(set: &Identities, way: usize, count: usize, seed: u64) -> Option<Vec<Episode>> {
    let by_identity = set.images_by_identity();
    let mut members = vec![Vec::new(); set.group_names.len()];
    for (id, images) in by_identity.iter().enumerate() {
        if images.len() >= 2 {
            members[set.group_of[id]].push(id);
        }
    }
    let groups: Vec<&Vec<usize>> = members.iter().filter(|m| m.len() >= way).collect();
    if groups.is_empty() || way < 2 {
        return None;
    }
    let mut rng = Rng::new(seed ^ (way as u64).wrapping_mul(0x9e37_79b9));
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let mut ids = groups[rng.below(groups.len())].clone();
        rng.shuffle(&mut ids);
        ids.truncate(way);
        let answer = rng.below(way);
        let mut query = 0;
        let gallery = ids
            .iter()
            .enumerate()
            .map(|(k, &id)| {
                let images = &by_identity[id];
                let a = rng.below(images.len());
                if k == answer {
                    // Another image of the same identity.
                    let b = (a + 1 + rng.below(images.len() - 1)) % images.len();
                    query = images[b];
                }
                images[a]
            })
            .collect();
        out.push(Episode {
            gallery,
            query,
            answer,
        });
    }
    Some(out)
}

/// The squared Euclidean distance between rows `i` and `j` of `features`.
fn distance(features: &[f32], dim: usize, i: usize, j: usize) -> f32 {
    let (a, b) = (
        &features[i * dim..(i + 1) * dim],
        &features[j * dim..(j + 1) * dim],
    );
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The share of episodes whose query is nearest to its own identity's
/// gallery image (ties to the first).
pub fn one_shot_accuracy(features: &[f32], dim: usize, episodes: &[Episode]) -> f64 {
    let right = episodes
        .iter()
        .filter(|e| {
            let d: Vec<f32> = e
                .gallery
                .iter()
                .map(|&g| distance(features, dim, e.query, g))
                .collect();
            let nearest = (0..d.len()).fold(0, |b, k| if d[k] < d[b] { k } else { b });
            nearest == e.answer
        })
        .count();
    right as f64 / episodes.len().max(1) as f64
}

/// Balanced verification pairs, as image indices.
#[derive(Clone, Debug, Default)]
pub struct Pairs {
    /// Two images of one identity.
    pub same: Vec<(usize, usize)>,
    /// Images of two identities of one group.
    pub different: Vec<(usize, usize)>,
}

/// `count` same and `count` different pairs of `set`: a same pair is two
/// images of an identity drawn at random (among those with two or more),
/// a different pair an image of each of two identities of one group, so
/// a different pair is as hard as a one-shot episode's distractors.
pub fn pairs(set: &Identities, count: usize, seed: u64) -> Pairs {
    let by_identity = set.images_by_identity();
    let twice: Vec<usize> = (0..set.count())
        .filter(|&id| by_identity[id].len() >= 2)
        .collect();
    let mut members = vec![Vec::new(); set.group_names.len()];
    for id in 0..set.count() {
        if !by_identity[id].is_empty() {
            members[set.group_of[id]].push(id);
        }
    }
    let groups: Vec<&Vec<usize>> = members.iter().filter(|m| m.len() >= 2).collect();
    let mut rng = Rng::new(seed ^ 0x9a1f);
    let mut p = Pairs::default();
    let pick = |rng: &mut Rng, id: usize| by_identity[id][rng.below(by_identity[id].len())];
    for _ in 0..count {
        if !twice.is_empty() {
            let images = &by_identity[twice[rng.below(twice.len())]];
            let a = rng.below(images.len());
            let b = (a + 1 + rng.below(images.len() - 1)) % images.len();
            p.same.push((images[a], images[b]));
        }
        if !groups.is_empty() {
            let g = groups[rng.below(groups.len())];
            let i = rng.below(g.len());
            let j = (i + 1 + rng.below(g.len() - 1)) % g.len();
            p.different
                .push((pick(&mut rng, g[i]), pick(&mut rng, g[j])));
        }
    }
    p
}

/// The distances of the same and of the different pairs.
pub fn pair_distances(features: &[f32], dim: usize, pairs: &Pairs) -> (Vec<f32>, Vec<f32>) {
    let d = |ps: &[(usize, usize)]| -> Vec<f32> {
        ps.iter()
            .map(|&(i, j)| distance(features, dim, i, j))
            .collect()
    };
    (d(&pairs.same), d(&pairs.different))
}

/// Verification of one method.
pub struct Verification {
    /// The threshold of best accuracy on the training pairs.
    pub threshold: f32,
    /// The accuracy on the test pairs at that threshold.
    pub accuracy: f64,
    /// The TAR on the test pairs at a FAR of at most 1e-3 (its own
    /// threshold, read off the test ROC, as FaceNet reports).
    pub tar_at_far: f64,
    /// The test pairs' ROC.
    pub roc: Roc,
}

/// Chooses the threshold on `train` pairs and measures it on `test` pairs.
pub fn verify(train: (&[f32], &[f32]), test: (&[f32], &[f32])) -> Result<Verification, Error> {
    let threshold = roc(train.0, train.1)?.best_threshold().threshold;
    let accuracy = accuracy_at(test.0, test.1, threshold)?;
    let test_roc = roc(test.0, test.1)?;
    Ok(Verification {
        threshold,
        accuracy,
        tar_at_far: test_roc.tar_at_far(1e-3).tar,
        roc: test_roc,
    })
}
