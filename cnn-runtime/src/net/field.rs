//! Receptive fields, as the `network!` macro works them out at compile
//! time (`Net::RECEPTIVE_FIELDS`, one per layer): which input pixels one
//! output position of a layer sees, and the helper that maps an output
//! position to its input rectangle, clipped to the picture (what the
//! Zeiler-Fergus figures crop).

/// One layer's receptive field, per axis `[rows, cols]`, and on a volume
/// along its frames too (`frames`). Along an axis, a window of `k` with
/// stride `s` and `p` zeros before it maps its input's `(size, jump,
/// start)` to `(size + (k - 1) * jump, jump * s, start - p * jump)`;
/// element-wise and 1x1 layers keep the field, a `Residual` or `Concat`
/// takes the union of its branches', and layers on a flat vector see the
/// whole input. A sequence is one row (`size[0] == 1`): its field is
/// along the columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReceptiveField {
    /// The layer's full name, as `summary()` shows it.
    pub name: &'static str,
    /// Input pixels one output position sees (before clipping to the
    /// picture): `[rows, cols]`.
    pub size: [usize; 2],
    /// Input pixels between the fields of two neighbouring output
    /// positions: the product of the strides so far.
    pub jump: [usize; 2],
    /// The first input row and column of output position `(0, 0)`'s
    /// field; negative where it reaches into the padding. Its centre is
    /// `start + (size - 1) / 2`.
    pub start: [isize; 2],
    /// On a volume (`input: [d, h, w, c]`), the field along the frames;
    /// `None` on an image or a sequence.
    pub frames: Option<Frames>,
    /// The network's input is a sequence (`input: [l, c]`), which the
    /// fields treat as an image of one row.
    pub sequence: bool,
}

/// A volume's receptive field along its frames (depth), as
/// [`ReceptiveField`]'s per-axis fields: frames one output position sees,
/// frames between neighbouring positions' fields, and the first frame of
/// position 0's field (negative into the padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Frames {
    /// Input frames one output position sees.
    pub size: usize,
    /// Input frames between the fields of two neighbouring positions.
    pub jump: usize,
    /// The first input frame of position 0's field.
    pub start: isize,
}

/// A rectangle of input pixels: rows `top..top + height`, columns
/// `left..left + width`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Patch {
    /// The first row.
    pub top: usize,
    /// The first column.
    pub left: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl ReceptiveField {
    /// A row of `RECEPTIVE_FIELDS` (what the generated code writes).
    pub const fn new(
        name: &'static str,
        size: [usize; 2],
        jump: [usize; 2],
        start: [isize; 2],
    ) -> Self {
        ReceptiveField {
            name,
            size,
            jump,
            start,
            frames: None,
            sequence: false,
        }
    }

    /// The same field on a volume, `size` frames seen, `jump` apart, from
    /// frame `start` (what the generated code writes for a volume).
    pub const fn with_frames(mut self, size: usize, jump: usize, start: isize) -> Self {
        self.frames = Some(Frames { size, jump, start });
        self
    }

    /// The same field on a sequence (what the generated code writes for
    /// `input: [l, c]`).
    pub const fn on_sequence(mut self) -> Self {
        self.sequence = true;
        self
    }

    /// The field's size as the summary prints it: `14x14` on an image,
    /// `3x7x7` (frames first) on a volume, `14` on a sequence.
    pub fn size_text(&self) -> String {
        let [h, w] = self.size;
        match (self.frames, self.sequence) {
            (Some(d), _) => format!("{}x{h}x{w}", d.size),
            (None, true) => format!("{w}"),
            (None, false) => format!("{h}x{w}"),
        }
    }

    /// The field of the layer named `name` in `fields` (a network's
    /// `RECEPTIVE_FIELDS`); usable in a `const`.
    pub const fn find(
        fields: &'static [ReceptiveField],
        name: &str,
    ) -> Option<&'static ReceptiveField> {
        let mut k = 0;
        while k < fields.len() {
            if same(fields[k].name.as_bytes(), name.as_bytes()) {
                return Some(&fields[k]);
            }
            k += 1;
        }
        None
    }

    /// The first input row and column of output position `(i, j)`'s
    /// field, before clipping: `start + (i, j) * jump`.
    pub fn origin(&self, i: usize, j: usize) -> [isize; 2] {
        let at = |a: usize, k: usize| self.start[a] + (k * self.jump[a]) as isize;
        [at(0, i), at(1, j)]
    }

    /// The centre of output position `(i, j)`'s field, in input pixels
    /// (half-way between two pixels for an even size).
    pub fn centre(&self, i: usize, j: usize) -> [f64; 2] {
        let o = self.origin(i, j);
        [0, 1].map(|a| o[a] as f64 + (self.size[a] as f64 - 1.0) / 2.0)
    }

    /// The input frames output frame `t` sees in a volume of `depth`
    /// frames: the field's frames clipped to the volume, as
    /// [`patch`](Self::patch) clips rows and columns. `None` on an image
    /// or a sequence (no `frames`), or when the field holds no frame of
    /// the volume.
    pub fn frames_seen(&self, t: usize, depth: usize) -> Option<std::ops::Range<usize>> {
        let f = self.frames?;
        let first = f.start + (t * f.jump) as isize;
        let end = (first + f.size as isize).min(depth as isize);
        let first = first.max(0);
        (end > first).then_some(first as usize..end as usize)
    }

    /// The input pixels output position `(i, j)` sees in a picture of
    /// `image` = `[height, width]`: the field clipped to the picture (it
    /// reaches into the padding near the borders). `None` when the field
    /// holds no pixel of the picture.
    pub fn patch(&self, i: usize, j: usize, image: [usize; 2]) -> Option<Patch> {
        let o = self.origin(i, j);
        let mut lo = [0usize; 2];
        let mut len = [0usize; 2];
        for a in 0..2 {
            let first = o[a].max(0);
            let end = (o[a] + self.size[a] as isize).min(image[a] as isize);
            if end <= first {
                return None;
            }
            lo[a] = first as usize;
            len[a] = (end - first) as usize;
        }
        Some(Patch {
            top: lo[0],
            left: lo[1],
            height: len[0],
            width: len[1],
        })
    }
}

/// Byte-wise equality, in a `const fn`.
const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut k = 0;
    while k < a.len() {
        if a[k] != b[k] {
            return false;
        }
        k += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    // LeNet-5's conv2 (by hand: 14x14, jump 2, start 0) and a padded
    // VGG-16 conv5_3 (196x196, jump 16, start -90; Araujo et al. 2019).
    const FIELDS: &[ReceptiveField] = &[
        ReceptiveField::new("conv2", [14, 14], [2, 2], [0, 0]),
        ReceptiveField::new("conv5_3", [196, 196], [16, 16], [-90, -90]),
    ];
    const CONV2: &ReceptiveField = match ReceptiveField::find(FIELDS, "conv2") {
        Some(f) => f,
        None => panic!("conv2 is there"),
    };

    #[test]
    fn find_by_name_in_a_const() {
        assert_eq!(CONV2.size, [14, 14]);
        assert!(ReceptiveField::find(FIELDS, "conv").is_none());
        assert!(ReceptiveField::find(FIELDS, "conv5_3x").is_none());
    }

    #[test]
    fn patches_are_clipped_to_the_picture() {
        // conv2 is 10x10 on a 32x32 input: position (9, 9) sees rows and
        // columns 18..32, the last pixels.
        assert_eq!(
            CONV2.patch(9, 9, [32, 32]),
            Some(Patch {
                top: 18,
                left: 18,
                height: 14,
                width: 14
            })
        );
        assert_eq!(CONV2.centre(0, 1), [6.5, 8.5]);
        // conv5_3's corner position reaches 90 pixels into the padding:
        // 196 - 90 = 106 pixels are left. Position (7, 7) of its 14x14 map
        // starts at -90 + 7 * 16 = 22 and ends at 218, inside; (13, 13)
        // starts at 118 and is cut at 224.
        let vgg = FIELDS[1];
        let corner = vgg.patch(0, 0, [224, 224]).unwrap();
        assert_eq!((corner.top, corner.height), (0, 106));
        let mid = vgg.patch(7, 7, [224, 224]).unwrap();
        assert_eq!((mid.left, mid.width), (22, 196));
        let last = vgg.patch(13, 13, [224, 224]).unwrap();
        assert_eq!((last.top, last.height), (118, 106));
        assert_eq!(vgg.patch(0, 0, [0, 5]), None);
    }

    #[test]
    fn the_size_reads_as_the_input_rank() {
        let f = ReceptiveField::new("c", [3, 5], [1, 1], [-1, -2]);
        assert_eq!(f.size_text(), "3x5");
        assert_eq!(f.with_frames(7, 2, -3).size_text(), "7x3x5");
        let s = ReceptiveField::new("c", [1, 9], [1, 2], [0, -4]).on_sequence();
        assert_eq!(s.size_text(), "9");
        assert_eq!(
            f.with_frames(7, 2, -3).frames,
            Some(Frames {
                size: 7,
                jump: 2,
                start: -3
            })
        );
    }

    #[test]
    fn frames_seen_are_clipped_to_the_volume() {
        // C3D's c2 (8 frames, jump 2, from -3) on a 16-frame clip: output
        // frame 0 sees frames -3..5, clipped to 0..5; frame 3 sees 3..11;
        // frame 7 sees 11..19, clipped to 11..16.
        let f = ReceptiveField::new("c2", [8, 8], [2, 2], [-3, -3]).with_frames(8, 2, -3);
        assert_eq!(f.frames_seen(0, 16), Some(0..5));
        assert_eq!(f.frames_seen(3, 16), Some(3..11));
        assert_eq!(f.frames_seen(7, 16), Some(11..16));
        assert_eq!(f.frames_seen(20, 16), None);
        let image = ReceptiveField::new("c", [3, 3], [1, 1], [0, 0]);
        assert_eq!(image.frames_seen(0, 4), None);
    }
}
