//! ast -> ir: what each key means. Applies DESIGN's defaults, gives unnamed
//! layers their `<stem>_<k>` names (counting within the block, and skipping
//! names the user took), prefixes names inside a block with the block's
//! name (`blk.conv2d_1`), and reports unknown kinds and keys (with the
//! closest valid one), missing required keys, keys given twice and values
//! of the wrong type. Ranges (`filters: 0`, `rate: 1.5`) are `check.rs`'s.
//!
//! A layer with such a mistake is lowered anyway, with placeholders, and
//! marked `broken`: the checker then stays quiet about it.

use std::collections::{HashMap, HashSet};

use crate::ast::{Entry, NetworkDef, SpanRange, Value};
use crate::check::Known;
use crate::diag::{Diag, Diags, Sites};
use crate::ir::{Layer, LayerKind, Net, Shape, Site};
use crate::suggest::{closest, one_of};

mod args;
mod kinds;
mod template;

use args::Args;
use kinds::blank;
pub use kinds::KINDS;
pub use template::Library;

/// The result of lowering: the net, and what of it could be read.
pub struct Lowered {
    pub net: Net,
    pub known: Known,
}

/// Lowers a parsed network, pushing its mistakes into `diags`; `lib`
/// holds the block templates and networks it may use by name.
pub fn lower(def: &NetworkDef, lib: &Library<'_>, sites: &mut Sites, diags: &mut Diags) -> Lowered {
    let mut lw = Lowerer {
        sites,
        diags,
        lib,
        via: None,
        written: None,
        inherit: None,
        inherit_back: None,
        depth: 0,
    };
    let name = def.header.ident.to_string();
    let struct_site = lw.site(SpanRange::single(def.header.ident.span()));
    let mut input: Option<(Option<Shape>, Site)> = None;
    let mut layers: Option<Vec<Layer>> = None;
    // Fields the unknown ones were probably meant to be: not reported
    // again as missing.
    let mut suggested: Vec<&str> = Vec::new();
    for field in &def.fields {
        let key = field.key.to_string();
        let site = lw.site(field.span());
        let given_twice = match key.as_str() {
            "input" => input.is_some(),
            "layers" => layers.is_some(),
            _ => false,
        };
        if given_twice {
            lw.push(
                Diag::new(site, format!("{name}: `{key}` is given twice"))
                    .help("remove one of them"),
            );
            continue;
        }
        match key.as_str() {
            "input" => input = Some((lw.input(&name, &field.value, site), site)),
            "layers" => layers = Some(lw.top_layers(&name, &field.value, site)),
            _ => {
                let help = match closest(&key, &["input", "layers", "taps"]) {
                    Some(hit) => {
                        suggested.push(hit);
                        format!("did you mean `{hit}`?")
                    }
                    None => {
                        "a network has `input: [..]`, `layers: [..]` and optionally `taps: [..]`"
                            .to_string()
                    }
                };
                let key_site = lw.site(SpanRange::single(field.key.span()));
                lw.push(Diag::new(key_site, format!("{name}: unknown field `{key}`")).help(help));
            }
        }
    }
    if input.is_none() && !suggested.contains(&"input") {
        lw.push(
            Diag::new(struct_site, format!("{name}: the network needs an `input`"))
                .help("add `input: [height, width, channels]` for images or `input: [features]`"),
        );
    }
    if layers.is_none() && !suggested.contains(&"layers") {
        lw.push(
            Diag::new(struct_site, format!("{name}: the network needs `layers`")).help(
                "add `layers: [ .. ]`, e.g. `layers: [Flatten, Dense { units: 10 }, Softmax]`",
            ),
        );
    }
    let known = Known {
        input: matches!(input, Some((Some(_), _))),
        layers: layers.is_some(),
    };
    let mut taps = Vec::new();
    for (i, (key, items)) in def.taps.iter().enumerate() {
        if i > 0 {
            let site = lw.site(SpanRange::single(key.span()));
            lw.push(
                Diag::new(site, format!("{name}: `taps` is given twice"))
                    .help("list every tapped layer in one `taps: [..]`"),
            );
            continue;
        }
        for (path, span) in items {
            taps.push((path.clone(), lw.site(*span)));
        }
    }
    let (shape, site_input) = input.unwrap_or((None, struct_site));
    Lowered {
        net: Net {
            name,
            input: shape.unwrap_or(Shape::Flat { n: 0 }),
            site_input,
            layers: layers.unwrap_or_default(),
            taps,
            params: 0,
            trainable: 0,
            macs: 0,
        },
        known,
    }
}

struct Lowerer<'s> {
    sites: &'s mut Sites,
    diags: &'s mut Diags,
    lib: &'s Library<'s>,
    /// While lowering the body of a template or network used by name: the
    /// outermost use, where messages about the layers inside also point.
    via: Option<(SpanRange, String)>,
    /// The use about to be lowered, as written with its path
    /// (`cnn::models::ResNet`): what messages from inside it name.
    written: Option<String>,
    /// A template's namespace lent to an unnamed `Residual` or `Concat`
    /// inside it (its layers are named as the template's own), and given
    /// back when the block is lowered.
    inherit: Option<(String, Namer)>,
    inherit_back: Option<Namer>,
    /// How many uses deep the lowering is (a template that uses itself
    /// stops at a limit with an error).
    depth: usize,
}

/// A layer as written, whether a bare word (`Relu`) or with keys.
#[derive(Clone, Copy)]
struct LayerView<'a> {
    name: Option<&'a crate::ast::LayerName>,
    kind: &'a syn::Ident,
    /// The path written in front of the kind, if any.
    path: Option<&'a proc_macro2::TokenStream>,
    entries: &'a [Entry],
    head: SpanRange,
}

impl LayerView<'_> {
    /// The kind as written, with its path (`cnn_lender::Trunk`), without
    /// the spaces the tokens print with.
    fn written(&self) -> String {
        let path = self.path.map(|p| p.to_string().replace(' ', ""));
        format!("{}{}", path.unwrap_or_default(), self.kind)
    }
}

fn layer_view(value: &Value) -> Option<LayerView<'_>> {
    match value {
        Value::Word(kind) => Some(LayerView {
            name: None,
            kind,
            path: None,
            entries: &[],
            head: SpanRange::single(kind.span()),
        }),
        Value::Layer(def) => Some(LayerView {
            name: def.name.as_ref(),
            kind: &def.kind,
            path: def.path.as_ref(),
            entries: def.args.as_ref().map_or(&[], |a| a.entries.as_slice()),
            head: def.head_span(),
        }),
        _ => None,
    }
}

/// Hands out `<stem>_<k>` names within one block, skipping the names the
/// user gave to other layers of the block.
#[derive(Default)]
struct Namer {
    taken: HashSet<String>,
    counters: HashMap<String, usize>,
    /// The namespace of a template's body: an unnamed `Residual` or
    /// `Concat` in it adds no level to the names of its layers.
    transparent: bool,
}

impl Namer {
    fn new<'a>(lists: impl Iterator<Item = &'a [Value]>) -> Namer {
        let taken = lists
            .flatten()
            .filter_map(layer_view)
            .filter_map(|view| view.name.map(ToString::to_string))
            .collect();
        Namer {
            taken,
            counters: HashMap::new(),
            transparent: false,
        }
    }

    /// A template body's namespace: the names the user gave, looking
    /// through unnamed `Residual` and `Concat` blocks, are taken.
    fn transparent(body: &[Value]) -> Namer {
        fn collect(list: &[Value], taken: &mut HashSet<String>) {
            for view in list.iter().filter_map(layer_view) {
                if let Some(name) = view.name {
                    taken.insert(name.to_string());
                    continue;
                }
                for entry in view.entries {
                    match &entry.value {
                        Value::List { items, .. }
                            if entry.key == "body"
                                || entry.key == "shortcut"
                                || (entry.key == "layers" && view.kind == "AuxHead") =>
                        {
                            collect(items, taken)
                        }
                        Value::List { items, .. } if entry.key == "branches" => {
                            for branch in items {
                                if let Value::List { items, .. } = branch {
                                    collect(items, taken);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        let mut taken = HashSet::new();
        collect(body, &mut taken);
        Namer {
            taken,
            counters: HashMap::new(),
            transparent: true,
        }
    }

    fn next(&mut self, stem: &str) -> String {
        let k = self.counters.entry(stem.to_string()).or_insert(0);
        loop {
            *k += 1;
            let name = format!("{stem}_{k}");
            if !self.taken.contains(&name) {
                return name;
            }
        }
    }
}

impl Lowerer<'_> {
    fn site(&mut self, span: SpanRange) -> Site {
        match &self.via {
            Some((via, what)) => self.sites.add_via(span, *via, what.clone()),
            None => self.sites.add(span),
        }
    }

    fn push(&mut self, diag: Diag) {
        self.diags.push(diag);
    }

    /// `[D, H, W, C]`, `[H, W, C]`, `[L, C]` or `[N]`.
    fn input(&mut self, net: &str, value: &Value, site: Site) -> Option<Shape> {
        let dims: Option<Vec<usize>> = match value {
            Value::List { items, .. } if (1..=4).contains(&items.len()) => items
                .iter()
                .map(|item| self.whole(&format!("{net}: input"), item, site))
                .collect(),
            _ => {
                self.push(
                    Diag::new(
                        site,
                        format!(
                            "{net}: input must be [height, width, channels], [length, channels], [depth, height, width, channels] or [features], got {}",
                            value.describe()
                        ),
                    )
                    .help("a 32x32 grayscale image is `input: [32, 32, 1]`"),
                );
                return None;
            }
        };
        match *dims?.as_slice() {
            [d, h, w, c] => Some(Shape::Image {
                h,
                w,
                c,
                seq: false,
                depth: Some(d),
            }),
            [h, w, c] => Some(Shape::image(h, w, c)),
            // A sequence is a height-1 image to the kernels.
            [l, c] => Some(Shape::Image {
                h: 1,
                w: l,
                c,
                seq: true,
                depth: None,
            }),
            [n] => Some(Shape::Flat { n }),
            _ => None,
        }
    }

    /// A non-negative whole number, `None` (reported) otherwise.
    fn whole(&mut self, what: &str, value: &Value, site: Site) -> Option<usize> {
        let problem = match value {
            Value::Int {
                negative: false,
                digits,
                ..
            } => match digits.parse::<usize>() {
                Ok(n) => return Some(n),
                Err(_) => Diag::new(
                    site,
                    format!(
                        "{what} {digits} is too large (the largest is {})",
                        usize::MAX
                    ),
                )
                .help("arithmetic overflow: use a smaller number"),
            },
            Value::Int { .. } => Diag::new(
                site,
                format!("{what} cannot be negative, got {}", value.describe()),
            )
            .help("use a positive whole number"),
            _ => Diag::new(
                site,
                format!("{what} must be a whole number, got `{}`", value.describe()),
            )
            .help("use a positive whole number"),
        };
        self.push(problem);
        None
    }

    fn top_layers(&mut self, net: &str, value: &Value, site: Site) -> Vec<Layer> {
        match value {
            Value::List { items, .. } => {
                // Expressions are worked out first (outside a template
                // they hold only numbers).
                let items = self.resolve_list(items, &template::Env::default());
                self.block(&[items.as_slice()], "").remove(0)
            }
            // `layers: Template { .. }`: the template's layers are the
            // network's, named as in the template (`conv1`, `layer1.0`).
            Value::Layer(_) | Value::Word(_)
                if layer_view(value)
                    .is_some_and(|v| self.lib.template(&v.kind.to_string()).is_some()) =>
            {
                let view = layer_view(value).expect("checked above");
                self.whole_network_use(&view, site)
            }
            _ => {
                self.push(
                    Diag::new(
                        site,
                        format!("{net}: layers must be a list, got {}", value.describe()),
                    )
                    .help("write `layers: [ .. ]`, or `layers: Template { .. }` for a block template's layers"),
                );
                Vec::new()
            }
        }
    }

    /// Lowers the layer lists of one block (one namespace for auto names).
    fn block(&mut self, lists: &[&[Value]], prefix: &str) -> Vec<Vec<Layer>> {
        let mut namer = Namer::new(lists.iter().copied());
        self.block_in(lists, prefix, &mut namer)
    }

    /// A `Sequential`'s list: unnamed layers are named by their position
    /// (`downsample.0`, `downsample.1`), as in PyTorch's `nn.Sequential`.
    fn indexed_block(&mut self, list: &[Value], prefix: &str) -> Vec<Layer> {
        let mut namer = Namer::new([list].into_iter());
        let mut layers = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let mut one = self.block_in(&[std::slice::from_ref(item)], prefix, &mut namer);
            let Some(mut layer) = one.pop().and_then(|mut l| l.pop()) else {
                continue;
            };
            if !layer.named_by_user {
                let index = i.to_string();
                let old = layer.name.clone();
                let new = format!("{prefix}{index}");
                layer.name.clone_from(&new);
                rename_children(&mut layer, &old, &new);
            }
            layers.push(layer);
        }
        layers
    }

    /// Lowers layer lists with the given namer.
    fn block_in(&mut self, lists: &[&[Value]], prefix: &str, namer: &mut Namer) -> Vec<Vec<Layer>> {
        let mut out = Vec::new();
        for list in lists {
            let mut layers = Vec::new();
            for item in *list {
                if let Value::Spread { value, .. } = item {
                    layers.extend(self.spread(value, prefix, namer));
                    continue;
                }
                match layer_view(item) {
                    Some(view) => layers.push(self.layer(&view, prefix, namer)),
                    None => {
                        let site = self.site(item.span());
                        self.push(
                            Diag::new(
                                site,
                                format!("expected a layer, found {}", item.describe()),
                            )
                            .help("a layer is `Kind`, `Kind { key: value, .. }` or `name: Kind { .. }`"),
                        );
                        let name = format!("{prefix}{}", namer.next("layer"));
                        layers.push(placeholder(name, false, site, Vec::new()));
                    }
                }
            }
            out.push(layers);
        }
        out
    }

    fn layer(&mut self, view: &LayerView<'_>, prefix: &str, namer: &mut Namer) -> Layer {
        // `trainable: false` may stand on any layer, block or use.
        if let Some(at) = view.entries.iter().position(|e| e.key == "trainable") {
            let entry = &view.entries[at];
            let rest: Vec<Entry> = view
                .entries
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != at)
                .map(|(_, e)| e.clone())
                .collect();
            let inner = LayerView {
                entries: &rest,
                ..*view
            };
            let mut layer = self.layer(&inner, prefix, namer);
            match &entry.value {
                Value::Bool { value: false, .. } => crate::ir::freeze(&mut layer),
                Value::Bool { value: true, .. } => {}
                _ if template::is_poison(&entry.value) => layer.broken = true,
                other => {
                    let site = self.site(entry.span());
                    self.push(
                        Diag::new(
                            site,
                            format!(
                                "{}: `trainable` takes `true` or `false`, got `{}`",
                                layer.name,
                                other.describe()
                            ),
                        )
                        .help("write `trainable: false` to freeze the layer"),
                    );
                    layer.broken = true;
                }
            }
            let site = self.site(entry.span());
            layer.keys.push(("trainable", site));
            return layer;
        }
        let written = view.kind.to_string();
        if blank(&written).is_none() {
            if let Some(layer) = self.named_use(view, prefix, namer) {
                return layer;
            }
        }
        let kind = blank(&written);
        let site = self.site(view.head);
        let mut keys = Vec::new();
        if let Some(name) = view.name {
            keys.push(("name", self.site(SpanRange::single(name.span()))));
        }
        let local = match (view.name, &kind) {
            (Some(name), _) => name.to_string(),
            (None, Some(kind)) => namer.next(kind.auto_stem()),
            (None, None) => namer.next("layer"),
        };
        let full = format!("{prefix}{local}");
        let Some(kind) = kind else {
            let kind_site = self.site(SpanRange::single(view.kind.span()));
            let who = view.name.map_or(String::new(), |_| format!("{full}: "));
            let mut known: Vec<&str> = KINDS.to_vec();
            known.push(kinds::STAGE);
            let extra = self.lib.names();
            known.extend(extra.iter().map(String::as_str));
            let help = match closest(&written, &known) {
                Some(hit) => format!("did you mean `{hit}`?"),
                None => format!("the layer kinds are {}", one_of(KINDS)),
            };
            self.push(
                Diag::new(kind_site, format!("{who}unknown layer kind `{written}`")).help(help),
            );
            return placeholder(full, view.name.is_some(), site, keys);
        };
        if namer.transparent
            && view.name.is_none()
            && matches!(
                kind,
                LayerKind::Residual { .. }
                    | LayerKind::Concat { .. }
                    | LayerKind::AuxHead { .. }
                    | LayerKind::Gate { .. }
            )
        {
            self.inherit = Some((prefix.to_string(), std::mem::take(namer)));
        }
        let mut args = Args::new(self, &full, &kind, view.entries);
        args.require(&kind, site);
        let kind = args.fill(kind);
        let broken = args.broken;
        keys.extend(args.sites);
        if let Some((_, lent)) = self.inherit.take() {
            *namer = lent;
        }
        if let Some(lent) = self.inherit_back.take() {
            *namer = lent;
        }
        Layer {
            name: full,
            named_by_user: view.name.is_some(),
            kind,
            site,
            keys,
            broken,
            frozen: false,
            input: None,
            output: None,
            pad_before: [0, 0],
            params: 0,
            trainable: 0,
            macs: 0,
        }
    }
}

/// Gives a layer's children the layer's new name as their prefix.
fn rename_children(layer: &mut Layer, old: &str, new: &str) {
    for list in layer.children_mut() {
        for child in list.iter_mut() {
            if let Some(rest) = child.name.strip_prefix(old) {
                child.name = format!("{new}{rest}");
            }
            rename_children(child, old, new);
        }
    }
}

/// A stand-in for a layer that could not be read; its output is unknown.
fn placeholder(
    name: String,
    named_by_user: bool,
    site: Site,
    keys: Vec<(&'static str, Site)>,
) -> Layer {
    Layer {
        name,
        named_by_user,
        kind: LayerKind::Flatten,
        site,
        keys,
        broken: true,
        input: None,
        output: None,
        frozen: false,
        pad_before: [0, 0],
        params: 0,
        trainable: 0,
        macs: 0,
    }
}
