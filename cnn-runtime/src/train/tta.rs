//! 10-crop at test time (Krizhevsky et al. 2012, section 4.1): a network
//! trained on random crops of larger images is asked about the four
//! corner crops and the centre crop of each test image, and about their
//! left-right mirrors, and the ten probability vectors are averaged. For
//! digits, whose mirror is another symbol, leave the mirrors out (5 crops).
//! It costs 10 (or 5) forward passes per image.

use super::classifier::Classifier;
use crate::error::{Error, Result};

/// A classifier over images of `image` shape that averages the crops of
/// `inner`'s input size.
pub struct TenCrop<'a, C: Classifier + ?Sized> {
    inner: &'a C,
    image: [usize; 3],
    mirrors: bool,
}

impl<'a, C: Classifier + ?Sized> TenCrop<'a, C> {
    /// Crops of `inner`'s input `[h, w, c]` from images of shape `image`
    /// (as large or larger, same channels), mirrors included.
    pub fn new(inner: &'a C, image: [usize; 3]) -> Result<Self> {
        let dims = inner.input_dims();
        let [ih, iw, ic] = image;
        let ok = dims.len() == 3 && dims[0] <= ih && dims[1] <= iw && dims[2] == ic;
        if !ok {
            return Err(Error::InvalidArgument(format!(
                "10-crop: the network takes {dims:?}, which is not a crop of the {ih}x{iw}x{ic} images\n  \
                 = help: the network's input must be an image no larger than the test images, with as many channels"
            )));
        }
        Ok(TenCrop {
            inner,
            image,
            mirrors: true,
        })
    }
    /// With (the default) or without the mirrored crops.
    pub fn mirrors(mut self, on: bool) -> Self {
        self.mirrors = on;
        self
    }
    /// The top-left corners of the five crops: four corners, then the centre.
    pub fn offsets(&self) -> [(usize, usize); 5] {
        let d = self.inner.input_dims();
        let (sy, sx) = (self.image[0] - d[0], self.image[1] - d[1]);
        [(0, 0), (0, sx), (sy, 0), (sy, sx), (sy / 2, sx / 2)]
    }
    /// How many crops each image is asked about (10, or 5 without mirrors).
    pub fn views(&self) -> usize {
        if self.mirrors {
            10
        } else {
            5
        }
    }
}

impl<C: Classifier + ?Sized> Classifier for TenCrop<'_, C> {
    fn input_dims(&self) -> &[usize] {
        &self.image
    }
    fn n_classes(&self) -> usize {
        self.inner.n_classes()
    }
    fn probabilities(&self, x: &[f32], out: &mut [f32]) -> Result<()> {
        let [ih, iw, c] = self.image;
        let per = ih * iw * c;
        let classes = self.n_classes();
        if !x.len().is_multiple_of(per) || out.len() != x.len() / per * classes {
            return Err(Error::shape(
                "10-crop: batch",
                format!("[n, {ih}, {iw}, {c}] in and [n, {classes}] out"),
                format!("{} values in, {} out", x.len(), out.len()),
            ));
        }
        let n = x.len() / per;
        let (h, w) = (self.inner.input_dims()[0], self.inner.input_dims()[1]);
        let mut crops = vec![0.0; n * h * w * c];
        let mut probs = vec![0.0; n * classes];
        out.fill(0.0);
        for view in 0..self.views() {
            let (oy, ox) = self.offsets()[view % 5];
            let mirror = view >= 5;
            for (img, crop) in x.chunks_exact(per).zip(crops.chunks_exact_mut(h * w * c)) {
                for r in 0..h {
                    let src = &img[((oy + r) * iw + ox) * c..((oy + r) * iw + ox + w) * c];
                    let dst = &mut crop[r * w * c..(r + 1) * w * c];
                    if mirror {
                        for (q, px) in src.chunks_exact(c).enumerate() {
                            dst[(w - 1 - q) * c..(w - q) * c].copy_from_slice(px);
                        }
                    } else {
                        dst.copy_from_slice(src);
                    }
                }
            }
            self.inner.probabilities(&crops, &mut probs)?;
            out.iter_mut().zip(&probs).for_each(|(o, p)| *o += p);
        }
        let inv = 1.0 / self.views() as f32;
        out.iter_mut().for_each(|o| *o *= inv);
        Ok(())
    }
}
