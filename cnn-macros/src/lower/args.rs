//! The keys of one layer: checked against its kind (unknown keys with the
//! closest valid one, keys given twice, required keys missing), then read
//! into the kind by type, each reader leaving the default in place when the
//! key is absent and reporting a value of the wrong type.

use super::kinds::{example, keys_of, meaning};
use super::Lowerer;
use crate::ast::{Entry, Value};
use crate::diag::Diag;
use crate::ir::{LayerKind, Pad, Site, UpsampleMode};
use crate::suggest::{all_of, closest, one_of};

/// The keys of one layer, checked against its kind.
pub(super) struct Args<'a, 'l, 's> {
    lw: &'l mut Lowerer<'s>,
    layer: &'a str,
    kind: &'static str,
    given: Vec<(&'static str, &'a Entry, Site)>,
    pub(super) sites: Vec<(&'static str, Site)>,
    pub(super) broken: bool,
    /// Keys given with a value that could not be worked out (reported).
    poisoned: Vec<&'static str>,
}

impl<'a, 'l, 's> Args<'a, 'l, 's> {
    /// Registers every key, reporting unknown ones and repeats.
    pub(super) fn new(
        lw: &'l mut Lowerer<'s>,
        layer: &'a str,
        kind: &LayerKind,
        entries: &'a [Entry],
    ) -> Self {
        let (known, _) = keys_of(kind);
        let mut args = Args {
            lw,
            layer,
            kind: kind.dsl_name(),
            given: Vec::new(),
            sites: Vec::new(),
            broken: false,
            poisoned: Vec::new(),
        };
        for entry in entries {
            let site = args.lw.site(entry.span());
            let key = entry.key.to_string();
            if super::template::is_poison(&entry.value) {
                // Its mistake (in a template expression) was reported.
                args.broken = true;
                if let Some(&k) = known.iter().find(|k| **k == key) {
                    args.poisoned.push(k);
                }
                continue;
            }
            let Some(&known_key) = known.iter().find(|k| **k == key) else {
                args.unknown_key(&key, known, site);
                continue;
            };
            if args.given.iter().any(|(k, _, _)| *k == known_key) {
                args.report(
                    Diag::new(site, format!("{layer}: `{key}` is given twice"))
                        .help("remove one of them"),
                );
                continue;
            }
            args.given.push((known_key, entry, site));
            args.sites.push((known_key, site));
        }
        args
    }

    fn unknown_key(&mut self, key: &str, known: &[&str], site: Site) {
        let (layer, kind) = (self.layer, self.kind);
        let mut with_trainable = known.to_vec();
        with_trainable.push("trainable");
        let help = match (closest(key, &with_trainable), kind) {
            (Some(hit), _) => format!("did you mean `{hit}`?"),
            (None, "Relu") if key == "alpha" => {
                "for a leaky ReLU write `LeakyRelu { alpha: .. }`".to_string()
            }
            _ if known.is_empty() => format!("{kind} takes no keys; write just `{kind}`"),
            _ => format!("{kind} takes {}", one_of(known)),
        };
        self.report(Diag::new(site, format!("{layer}: {kind} has no key `{key}`")).help(help));
    }

    fn report(&mut self, diag: Diag) {
        self.broken = true;
        self.lw.push(diag);
    }

    fn get(&self, key: &str) -> Option<(&'a Value, Site)> {
        self.given
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, entry, site)| (&entry.value, *site))
    }

    /// Reports the required keys that are missing, all in one message.
    pub(super) fn require(&mut self, kind: &LayerKind, site: Site) {
        let (_, required) = keys_of(kind);
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|k| self.get(k).is_none() && !self.poisoned.contains(k))
            .collect();
        if missing.is_empty() {
            return;
        }
        let (layer, name) = (self.layer, self.kind);
        let help = match missing.as_slice() {
            [one] => meaning(name, one).to_string(),
            _ => format!("add them, e.g. `{}`", example(name)),
        };
        let diag =
            Diag::new(site, format!("{layer}: {name} needs {}", all_of(&missing))).help(help);
        self.report(diag);
    }

    fn type_error(&mut self, key: &str, value: &Value, site: Site, takes: &str) {
        let layer = self.layer;
        let diag = Diag::new(
            site,
            format!("{layer}: `{key}` takes {takes}, got `{}`", value.describe()),
        );
        let example = match key {
            "kernel" | "size" | "stride" | "scale" => format!("`{key}: 3` or `{key}: [3, 1]`"),
            "output_padding" => "`output_padding: 1` or `output_padding: [1, 0]`".to_string(),
            "mode" => "`mode: bilinear`".to_string(),
            "dilation" => "`dilation: 2` or `dilation: [2, 1]`".to_string(),
            // PyTorch's ConvTranspose has no `same` or `valid` either.
            "padding" if self.kind.starts_with("ConvTranspose") => {
                "`padding: 1` or `padding: [1, 0]`: a transposed convolution cuts that many rows and columns from each end of its output".to_string()
            }
            "padding" => "`padding: 1`, `padding: valid` or `padding: same`".to_string(),
            "bias" => "`bias: false`".to_string(),
            "momentum" => "`momentum: 0.99`".to_string(),
            "epsilon" => "`epsilon: 0.001`".to_string(),
            "groups" => "`groups: 8`".to_string(),
            "rate" => "`rate: 0.5`".to_string(),
            "alpha" => "`alpha: 0.01`".to_string(),
            "approximate" => "`approximate: tanh`".to_string(),
            "init" => "`init: 0.000001`".to_string(),
            "weight" => "`weight: 0.3`".to_string(),
            _ => format!("`{key}: ..`"),
        };
        self.report(diag.help(format!("for example {example}")));
    }

    /// Reads the given keys into the kind (defaults for the others).
    pub(super) fn fill(&mut self, mut kind: LayerKind) -> LayerKind {
        match &mut kind {
            LayerKind::Conv2d {
                filters,
                kernel,
                stride,
                dilation,
                padding,
                bias,
                groups,
                depthwise,
                seq,
                depth,
            } => {
                self.count("filters", filters);
                if let Some(dp) = depth {
                    self.triple("kernel", kernel, &mut dp.f);
                    self.triple("stride", stride, &mut dp.s);
                    self.triple("dilation", dilation, &mut dp.d);
                } else if *seq {
                    self.along("kernel", kernel);
                    self.along("stride", stride);
                    self.along("dilation", dilation);
                } else {
                    self.pair("kernel", kernel);
                    self.pair("stride", stride);
                    self.pair("dilation", dilation);
                }
                self.pad("padding", padding);
                self.flag("bias", bias);
                self.count("groups", groups);
                if let Some(multiplier) = depthwise {
                    self.count("multiplier", multiplier);
                }
            }
            LayerKind::ConvTranspose2d {
                filters,
                kernel,
                stride,
                dilation,
                padding,
                output_padding,
                bias,
                groups,
                seq,
                depth,
            } => {
                self.count("filters", filters);
                if let Some(dp) = depth {
                    self.triple("kernel", kernel, &mut dp.f);
                    self.triple("stride", stride, &mut dp.s);
                    self.triple("dilation", dilation, &mut dp.d);
                    self.triple("padding", padding, &mut dp.pad_front);
                    self.triple("output_padding", output_padding, &mut dp.output_padding);
                } else {
                    // Along a sequence the height is 1 (one tap, stride 1)
                    // and unpadded.
                    let read = |args: &mut Self, key: &str, out: &mut [usize; 2], blank: usize| {
                        if *seq {
                            args.along(key, out);
                            out[0] = blank;
                        } else {
                            args.pair(key, out);
                        }
                    };
                    read(self, "kernel", kernel, 1);
                    read(self, "stride", stride, 1);
                    read(self, "dilation", dilation, 1);
                    read(self, "padding", padding, 0);
                    read(self, "output_padding", output_padding, 0);
                }
                self.flag("bias", bias);
                self.count("groups", groups);
            }
            LayerKind::Upsample {
                scale,
                scale_pair,
                scale_depth,
                mode,
            } => {
                match self.get("scale") {
                    // `[sd, sh, sw]`, for a volume.
                    Some((Value::List { items, .. }, _)) if items.len() == 3 => {
                        let mut sd = 1;
                        self.triple("scale", scale, &mut sd);
                        *scale_depth = Some(sd);
                    }
                    _ => {
                        *scale_pair = matches!(self.get("scale"), Some((Value::List { .. }, _)));
                        self.pair("scale", scale);
                    }
                }
                self.upsample_mode("mode", mode);
            }
            LayerKind::MaxPool2d {
                size,
                stride,
                padding,
                seq,
                depth,
            }
            | LayerKind::AvgPool2d {
                size,
                stride,
                padding,
                seq,
                depth,
            } => {
                if let Some(dp) = depth {
                    self.triple("size", size, &mut dp.f);
                    (*stride, dp.s) = (*size, dp.f);
                    self.triple("stride", stride, &mut dp.s);
                } else if *seq {
                    self.along("size", size);
                    *stride = *size;
                    self.along("stride", stride);
                } else {
                    self.pair("size", size);
                    *stride = *size;
                    self.pair("stride", stride);
                }
                self.pad("padding", padding);
            }
            LayerKind::Dense { units, bias } => {
                self.count("units", units);
                self.flag("bias", bias);
            }
            LayerKind::BatchNorm { momentum, epsilon } => {
                self.real("momentum", momentum);
                self.real("epsilon", epsilon);
            }
            LayerKind::GroupNorm { groups, epsilon } => {
                self.count("groups", groups);
                self.real("epsilon", epsilon);
            }
            LayerKind::LayerNorm { epsilon } => self.real("epsilon", epsilon),
            LayerKind::Scale { init } => self.real("init", init),
            LayerKind::Dropout { rate } => self.real("rate", rate),
            LayerKind::LeakyRelu { alpha } => self.real("alpha", alpha),
            LayerKind::Gelu { tanh } => self.approximate("approximate", tanh),
            LayerKind::AuxHead { weight, .. } => self.real("weight", weight),
            _ => {}
        }
        self.blocks(&mut kind);
        kind
    }
}

/// Readers for each type of value: each leaves the default in place when
/// the key is absent, and reports a value of the wrong type.
impl<'a> Args<'a, '_, '_> {
    fn count(&mut self, key: &str, out: &mut usize) {
        if let Some((value, site)) = self.get(key) {
            let what = format!("{}: {key}", self.layer);
            match self.lw.whole(&what, value, site) {
                Some(n) => *out = n,
                None => self.broken = true,
            }
        }
    }

    /// `f` (square) or `[fh, fw]`.
    fn pair(&mut self, key: &str, out: &mut [usize; 2]) {
        let Some((value, site)) = self.get(key) else {
            return;
        };
        let what = format!("{}: {key}", self.layer);
        match value {
            Value::Int { .. } => match self.lw.whole(&what, value, site) {
                Some(n) => *out = [n, n],
                None => self.broken = true,
            },
            Value::List { items, .. } if items.len() == 2 => {
                let h = self.lw.whole(&what, &items[0], site);
                let w = self.lw.whole(&what, &items[1], site);
                match (h, w) {
                    (Some(h), Some(w)) => *out = [h, w],
                    _ => self.broken = true,
                }
            }
            _ => self.type_error(key, value, site, "a number or [height, width]"),
        }
    }

    /// `f` (a cube) or `[fd, fh, fw]` for a 3D kind: the height and width
    /// into `hw`, the depth into `depth`.
    fn triple(&mut self, key: &str, hw: &mut [usize; 2], depth: &mut usize) {
        let Some((value, site)) = self.get(key) else {
            return;
        };
        let what = format!("{}: {key}", self.layer);
        match value {
            Value::Int { .. } => match self.lw.whole(&what, value, site) {
                Some(n) => (*hw, *depth) = ([n, n], n),
                None => self.broken = true,
            },
            Value::List { items, .. } if items.len() == 3 => {
                let [d, h, w] = [0, 1, 2].map(|i| self.lw.whole(&what, &items[i], site));
                match (d, h, w) {
                    (Some(d), Some(h), Some(w)) => (*hw, *depth) = ([h, w], d),
                    _ => self.broken = true,
                }
            }
            _ => self.type_error(key, value, site, "a number or [depth, height, width]"),
        }
    }

    /// `f` along a sequence: stored as `[1, f]`, a height-1 window.
    fn along(&mut self, key: &str, out: &mut [usize; 2]) {
        let Some((value, site)) = self.get(key) else {
            return;
        };
        let what = format!("{}: {key}", self.layer);
        match value {
            Value::Int { .. } => match self.lw.whole(&what, value, site) {
                Some(n) => *out = [1, n],
                None => self.broken = true,
            },
            _ => self.type_error(key, value, site, "one number along the sequence"),
        }
    }

    /// A number, `valid` or `same`.
    fn pad(&mut self, key: &str, out: &mut Pad) {
        let Some((value, site)) = self.get(key) else {
            return;
        };
        let what = format!("{}: {key}", self.layer);
        match value {
            Value::Int { .. } => match self.lw.whole(&what, value, site) {
                Some(p) => *out = Pad::Explicit(p),
                None => self.broken = true,
            },
            Value::Word(word) if word == "same" => *out = Pad::Same,
            Value::Word(word) if word == "valid" => *out = Pad::Valid,
            Value::Word(word) => {
                let written = word.to_string();
                let help = match closest(&written, &["same", "valid"]) {
                    Some(hit) => format!("did you mean `{hit}`?"),
                    None => {
                        "padding is a number, `valid` (no padding) or `same` (output ceil(n / s))"
                            .to_string()
                    }
                };
                let message = format!("{}: unknown padding `{written}`", self.layer);
                self.report(Diag::new(site, message).help(help));
            }
            _ => self.type_error(key, value, site, "a number, `valid` or `same`"),
        }
    }

    /// Upsampling's mode, PyTorch's words: `nearest`, `bilinear` (images),
    /// `linear` (sequences) or `trilinear` (volumes).
    fn upsample_mode(&mut self, key: &str, mode: &mut UpsampleMode) {
        let Some((value, site)) = self.get(key) else {
            return;
        };
        let modes = ["nearest", "bilinear", "linear", "trilinear"];
        match value {
            Value::Word(word) if word == "nearest" => *mode = UpsampleMode::Nearest,
            Value::Word(word) if word == "bilinear" => *mode = UpsampleMode::Bilinear,
            Value::Word(word) if word == "linear" => *mode = UpsampleMode::Linear,
            Value::Word(word) if word == "trilinear" => *mode = UpsampleMode::Trilinear,
            Value::Word(word) => {
                let written = word.to_string();
                let help = match closest(&written, &modes) {
                    Some(hit) => format!("did you mean `{hit}`?"),
                    None => {
                        "mode is `nearest`, `bilinear` (images), `linear` (sequences) or `trilinear` (volumes)".to_string()
                    }
                };
                let message = format!("{}: unknown upsampling mode `{written}`", self.layer);
                self.report(Diag::new(site, message).help(help));
            }
            _ => self.type_error(key, value, site, "`nearest`, `bilinear` or `linear`"),
        }
    }

    /// GELU's form, PyTorch's words: `none` (exact, erf) or `tanh`.
    fn approximate(&mut self, key: &str, tanh: &mut bool) {
        let Some((value, site)) = self.get(key) else {
            return;
        };
        match value {
            Value::Word(word) if word == "tanh" => *tanh = true,
            Value::Word(word) if word == "none" => *tanh = false,
            Value::Word(word) => {
                let written = word.to_string();
                let help = match closest(&written, &["tanh", "none"]) {
                    Some(hit) => format!("did you mean `{hit}`?"),
                    None => {
                        "approximate is `none` (the exact GELU, with erf) or `tanh`".to_string()
                    }
                };
                let message = format!("{}: unknown approximation `{written}`", self.layer);
                self.report(Diag::new(site, message).help(help));
            }
            _ => self.type_error(key, value, site, "`none` or `tanh`"),
        }
    }

    fn flag(&mut self, key: &str, out: &mut bool) {
        match self.get(key) {
            Some((Value::Bool { value, .. }, _)) => *out = *value,
            Some((value, site)) => self.type_error(key, value, site, "`true` or `false`"),
            None => {}
        }
    }

    /// A number with or without a fraction.
    fn real(&mut self, key: &str, out: &mut f64) {
        match self.get(key) {
            Some((Value::Float { value, .. }, _)) => *out = *value,
            Some((
                Value::Int {
                    negative, digits, ..
                },
                _,
            )) => {
                // Digits always parse as a float (huge ones become inf,
                // which the range checks reject).
                let magnitude: f64 = digits.parse().unwrap_or(f64::INFINITY);
                *out = if *negative { -magnitude } else { magnitude };
            }
            Some((value, site)) => self.type_error(key, value, site, "a number"),
            None => {}
        }
    }

    /// The layer lists of a block, lowered with the block's name as prefix
    /// (or, for an unnamed block in a template, in the template's own
    /// namespace, which the lowerer lent it).
    fn blocks(&mut self, kind: &mut LayerKind) {
        let (prefix, mut namer) = match self.lw.inherit.take() {
            Some((prefix, namer)) => (prefix, Some(namer)),
            None => (format!("{}.", self.layer), None),
        };
        match kind {
            LayerKind::Residual { body, shortcut } => {
                let lists = [self.layer_list("body"), self.layer_list("shortcut")];
                let mut lowered = self
                    .lower_lists(&lists, &prefix, namer.as_mut())
                    .into_iter();
                *body = lowered.next().unwrap_or_default();
                *shortcut = lowered.next().unwrap_or_default();
            }
            LayerKind::Concat { branches } => {
                let lists = self.branch_lists();
                *branches = self.lower_lists(&lists, &prefix, namer.as_mut());
            }
            LayerKind::Gate { body } => {
                let lists = [self.layer_list("body")];
                *body = self.lower_lists(&lists, &prefix, namer.as_mut()).remove(0);
            }
            LayerKind::AuxHead { layers, .. } => {
                let lists = [self.layer_list("layers")];
                *layers = self.lower_lists(&lists, &prefix, namer.as_mut()).remove(0);
            }
            LayerKind::Sequential { layers, .. } => {
                let list = self.layer_list("layers");
                *layers = self.lw.indexed_block(list, &prefix);
            }
            _ => {}
        }
        if let Some(namer) = namer {
            self.lw.inherit_back = Some(namer);
        }
    }

    fn lower_lists(
        &mut self,
        lists: &[&[Value]],
        prefix: &str,
        namer: Option<&mut super::Namer>,
    ) -> Vec<Vec<crate::ir::Layer>> {
        match namer {
            Some(namer) => self.lw.block_in(lists, prefix, namer),
            None => self.lw.block(lists, prefix),
        }
    }

    fn layer_list(&mut self, key: &str) -> &'a [Value] {
        match self.get(key) {
            Some((Value::List { items, .. }, _)) => items,
            Some((value, site)) => {
                let layer = self.layer;
                let got = value.describe();
                let diag = Diag::new(
                    site,
                    format!("{layer}: `{key}` takes a list of layers, got `{got}`"),
                );
                self.report(diag.help(format!("write `{key}: [{got}]`")));
                &[]
            }
            None => &[],
        }
    }

    fn branch_lists(&mut self) -> Vec<&'a [Value]> {
        let Some((value, site)) = self.get("branches") else {
            return Vec::new();
        };
        let lists: Option<Vec<&[Value]>> = match value {
            Value::List { items, .. } => items
                .iter()
                .map(|item| match item {
                    Value::List { items, .. } => Some(items.as_slice()),
                    _ => None,
                })
                .collect(),
            _ => None,
        };
        if lists.is_none() {
            let layer = self.layer;
            let diag = Diag::new(
                site,
                format!(
                    "{layer}: `branches` takes a list of layer lists, got `{}`",
                    value.describe()
                ),
            );
            self.report(
                diag.help("write each branch in its own brackets: `branches: [[ .. ], [ .. ]]`"),
            );
        }
        lists.unwrap_or_default()
    }
}
