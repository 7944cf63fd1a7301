//! Blocks used by name: a template (`block BasicBlock(filters, stride: 1)
//! = [ .. ]`) used with arguments, a `Stage` of repeated template uses
//! named `stage.0`, `stage.1`, .., and a network declared by another
//! `network!` struct used as a layer. All three lower to a `Sequential`
//! holding the layers they stand for, named under the use (`layer3.1.conv2`),
//! so the checker, the counter and the back end see ordinary layers.
//!
//! A template's body is instantiated per use: its parameters are replaced
//! by the use's arguments (or their defaults) and its expressions
//! (`filters * 4`, `if project { .. } else { .. }`) worked out, then the
//! result is lowered like any layer list, with every site it registers
//! also pointing at the use (`Lowerer::via`), so a message about a layer
//! inside names the use and shows both places.

use std::collections::HashMap;

use super::{layer_view, placeholder, LayerView, Lowerer, Namer};
use crate::ast::{BinOp, Entry, NetworkDef, Program, SpanRange, Template, Value};
use crate::diag::Diag;
use crate::ir::{Layer, LayerKind};
use crate::suggest::{closest, one_of};

/// How deep uses may nest before a template is taken to use itself.
const MAX_DEPTH: usize = 64;

/// The word a value that could not be worked out is replaced by: the
/// readers stay quiet about it (its mistake was reported).
pub(super) const POISON: &str = "__cnn_unresolved";

/// The templates and networks a call can use by name: its own first, then
/// those other calls lent it.
#[derive(Default)]
pub struct Library<'p> {
    templates: Vec<&'p Template>,
    nets: Vec<&'p NetworkDef>,
}

impl<'p> Library<'p> {
    pub fn new(program: &'p Program) -> Library<'p> {
        let mut lib = Library::default();
        lib.add(program);
        lib
    }

    fn add(&mut self, program: &'p Program) {
        self.templates.extend(program.templates.iter());
        self.nets.extend(program.nets.iter());
        for import in &program.imports {
            self.add(import);
        }
    }

    /// Every name a layer kind may take besides the built-in kinds.
    pub fn names(&self) -> Vec<String> {
        let t = self.templates.iter().map(|t| t.ident.to_string());
        let n = self.nets.iter().map(|n| n.header.ident.to_string());
        let mut names: Vec<String> = t.chain(n).collect();
        names.dedup();
        names
    }

    pub fn template(&self, name: &str) -> Option<&'p Template> {
        self.templates.iter().copied().find(|t| t.ident == name)
    }

    pub fn net(&self, name: &str) -> Option<&'p NetworkDef> {
        self.nets.iter().copied().find(|n| n.header.ident == name)
    }
}

/// A template's parameters bound to values.
#[derive(Default, Clone)]
pub struct Env {
    values: HashMap<String, Value>,
    /// The template's name, for messages; empty outside a template.
    template: String,
    /// The full name of the use (`layer3.1`), for messages.
    use_name: String,
}

/// `BasicBlock` -> `basic_block`, the stem of an unnamed use's name.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// What a resolved value is, for arithmetic.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Scalar {
    Int(i128),
    Real(f64),
    Bool(bool),
}

impl Lowerer<'_> {
    /// A layer whose kind names a template, `Stage` or a network: lowered
    /// to a `Sequential`. `None` when the kind names none of them.
    pub(super) fn named_use(
        &mut self,
        view: &LayerView<'_>,
        prefix: &str,
        namer: &mut Namer,
    ) -> Option<Layer> {
        let written = view.kind.to_string();
        let lib = self.lib;
        let (stem, what) = if let Some(t) = lib.template(&written) {
            (snake_case(&written), Use::Template(t))
        } else if written == super::kinds::STAGE {
            ("stage".to_string(), Use::Stage)
        } else if let Some(net) = lib.net(&written) {
            (snake_case(&written), Use::Network(net))
        } else {
            return None;
        };
        let local = match view.name {
            Some(name) => name.to_string(),
            None => namer.next(&stem),
        };
        let full = format!("{prefix}{local}");
        let site = self.site(view.head);
        let mut keys = Vec::new();
        if let Some(name) = view.name {
            keys.push(("name", self.site(SpanRange::single(name.span()))));
        }
        if self.depth >= MAX_DEPTH {
            self.push(
                Diag::new(site, format!("{full}: `{written}` uses itself"))
                    .help("a block template cannot contain a use of itself"),
            );
            return Some(placeholder(full, view.name.is_some(), site, keys));
        }
        self.depth += 1;
        self.written = view.path.is_some().then(|| view.written());
        let lowered = match what {
            Use::Template(t) => self.use_template(t, &full, view.entries, site, view.head),
            Use::Stage => self.stage(&full, view, site),
            Use::Network(net) => self.use_network(net, &full, view.entries, site, view.head),
        };
        self.depth -= 1;
        let mut layer = placeholder(full, view.name.is_some(), site, keys);
        match lowered {
            Some(kind) => {
                layer.kind = kind;
                layer.broken = false;
            }
            None => layer.broken = true,
        }
        Some(layer)
    }

    /// Runs `f` with the sites it registers also pointing at `head`, the
    /// use in the network (the outermost one, when uses nest).
    fn via<T>(&mut self, head: SpanRange, label: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        let outermost = self.via.is_none();
        let written = self.written.take();
        if outermost {
            self.via = Some((head, written.unwrap_or_else(|| label.to_string())));
        }
        let out = f(self);
        if outermost {
            self.via = None;
        }
        out
    }

    /// One use of a template: its body with the arguments bound.
    fn use_template(
        &mut self,
        t: &Template,
        full: &str,
        entries: &[Entry],
        site: crate::ir::Site,
        head: SpanRange,
    ) -> Option<LayerKind> {
        let env = self.bind(t, full, entries, site)?;
        let layers = self.via(head, &t.ident.to_string(), |lw| {
            let body = lw.resolve_list(&t.body, &env);
            let mut namer = Namer::transparent(&body);
            lw.block_in(&[body.as_slice()], &format!("{full}."), &mut namer)
                .remove(0)
        });
        Some(LayerKind::Sequential {
            layers,
            label: t.ident.to_string(),
            expect_input: None,
            expect_output: None,
        })
    }

    /// `..Template { .. }` in a list: the template's layers lowered in
    /// place, in the list's namespace (as if written there).
    pub(super) fn spread(&mut self, value: &Value, prefix: &str, namer: &mut Namer) -> Vec<Layer> {
        let view = layer_view(value);
        let template = view
            .as_ref()
            .and_then(|v| self.lib.template(&v.kind.to_string()));
        let (Some(view), Some(t)) = (view, template) else {
            let site = self.site(value.span());
            self.push(
                Diag::new(
                    site,
                    format!("`..` takes a block template, got `{}`", value.describe()),
                )
                .help("write `..Template { param: value, .. }` to put a template's layers here"),
            );
            return Vec::new();
        };
        let written = t.ident.to_string();
        let site = self.site(view.head);
        if self.depth >= MAX_DEPTH {
            self.push(
                Diag::new(site, format!("`{written}` uses itself"))
                    .help("a block template cannot contain a use of itself"),
            );
            return Vec::new();
        }
        let what = format!("..{written}");
        let Some(env) = self.bind(t, &what, view.entries, site) else {
            return Vec::new();
        };
        self.depth += 1;
        self.written = view.path.is_some().then(|| view.written());
        let layers = self.via(view.head, &written, |lw| {
            let body = lw.resolve_list(&t.body, &env);
            lw.block_in(&[body.as_slice()], prefix, namer).remove(0)
        });
        self.depth -= 1;
        layers
    }

    /// `layers: Template { .. }`: a template's layers as the whole network,
    /// named as the template names them.
    pub(super) fn whole_network_use(
        &mut self,
        view: &LayerView<'_>,
        site: crate::ir::Site,
    ) -> Vec<Layer> {
        let written = view.kind.to_string();
        let Some(t) = self.lib.template(&written) else {
            return Vec::new();
        };
        let Some(env) = self.bind(t, &written, view.entries, site) else {
            return Vec::new();
        };
        self.written = view.path.is_some().then(|| view.written());
        self.via(view.head, &written, |lw| {
            let body = lw.resolve_list(&t.body, &env);
            let mut namer = Namer::transparent(&body);
            lw.block_in(&[body.as_slice()], "", &mut namer).remove(0)
        })
    }

    /// The use's arguments checked against the template's parameters, and
    /// the defaults of the others (a default may use earlier parameters).
    fn bind(
        &mut self,
        t: &Template,
        full: &str,
        entries: &[Entry],
        site: crate::ir::Site,
    ) -> Option<Env> {
        let name = t.ident.to_string();
        let params: Vec<String> = t.params.iter().map(|(p, _)| p.to_string()).collect();
        let mut ok = true;
        let mut given: HashMap<String, &Entry> = HashMap::new();
        let mut suggested = Vec::new();
        for entry in entries {
            let key = entry.key.to_string();
            let key_site = self.site(entry.span());
            if !params.contains(&key) {
                let known: Vec<&str> = params.iter().map(String::as_str).collect();
                let help = match closest(&key, &known) {
                    Some(hit) => {
                        suggested.push(hit.to_string());
                        format!("did you mean `{hit}`?")
                    }
                    None if known.is_empty() => {
                        format!("{name} takes no arguments; write just `{name}`")
                    }
                    None => format!("{name} takes {}", one_of(&known)),
                };
                self.push(
                    Diag::new(key_site, format!("{full}: {name} has no parameter `{key}`"))
                        .help(help),
                );
                ok = false;
            } else if given.insert(key.clone(), entry).is_some() {
                self.push(
                    Diag::new(key_site, format!("{full}: `{key}` is given twice"))
                        .help("remove one of them"),
                );
                ok = false;
            }
        }
        let mut env = Env {
            values: HashMap::new(),
            template: name.clone(),
            use_name: full.to_string(),
        };
        let mut missing = Vec::new();
        for (param, default) in &t.params {
            let key = param.to_string();
            let value = match (given.get(&key), default) {
                (Some(entry), _) => entry.value.clone(),
                (None, Some(default)) => self.resolve(default, &env),
                (None, None) => {
                    // A misspelt argument already said "did you mean".
                    if !suggested.contains(&key) {
                        missing.push(key);
                    }
                    ok = false;
                    continue;
                }
            };
            env.values.insert(param.to_string(), value);
        }
        if !missing.is_empty() {
            let shown: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
            let example: Vec<String> = missing.iter().map(|m| format!("{m}: ..")).collect();
            self.push(
                Diag::new(
                    site,
                    format!("{full}: {name} needs {}", shown.join(" and ")),
                )
                .help(format!("add them: `{name} {{ {} }}`", example.join(", "))),
            );
            ok = false;
        }
        ok.then_some(env)
    }

    /// `Stage { block: T { .. }, repeat: n, first: { .. } }`: n uses of `T`
    /// named `0`, `1`, ..; the first takes `first`'s arguments over the
    /// others' (or is `first` itself when that is a whole use).
    fn stage(
        &mut self,
        full: &str,
        view: &LayerView<'_>,
        site: crate::ir::Site,
    ) -> Option<LayerKind> {
        let mut block = None;
        let mut repeat = None;
        let mut first = None;
        let mut ok = true;
        for entry in view.entries {
            let key_site = self.site(entry.span());
            match entry.key.to_string().as_str() {
                "block" => block = Some((&entry.value, key_site)),
                "repeat" => repeat = Some((&entry.value, key_site)),
                "first" => first = Some((&entry.value, key_site)),
                other => {
                    let help = match closest(other, &["block", "repeat", "first"]) {
                        Some(hit) => format!("did you mean `{hit}`?"),
                        None => "a stage takes `block`, `repeat` and `first`".to_string(),
                    };
                    self.push(
                        Diag::new(key_site, format!("{full}: Stage has no key `{other}`"))
                            .help(help),
                    );
                    ok = false;
                }
            }
        }
        let Some((block, block_site)) = block else {
            self.push(
                Diag::new(site, format!("{full}: Stage needs `block`"))
                    .help("add `block: Template { .. }`, the block to repeat"),
            );
            return None;
        };
        let Some((repeat, repeat_site)) = repeat else {
            self.push(
                Diag::new(site, format!("{full}: Stage needs `repeat`"))
                    .help("add `repeat: n`, how many blocks the stage holds"),
            );
            return None;
        };
        let count = self.whole(&format!("{full}: repeat"), repeat, repeat_site)?;
        if count == 0 {
            self.push(
                Diag::new(
                    repeat_site,
                    format!("{full}: a stage of zero blocks (repeat: 0)"),
                )
                .help("repeat the block at least once, or remove the stage"),
            );
            return None;
        }
        let Some(base) =
            layer_view(block).filter(|v| self.lib.template(&v.kind.to_string()).is_some())
        else {
            let names: Vec<String> = self
                .lib
                .templates
                .iter()
                .map(|t| format!("`{}`", t.ident))
                .collect();
            let help = if names.is_empty() {
                "declare one with `block Name(params) = [ .. ]` in the same `network!`".to_string()
            } else {
                format!("the templates here are {}", names.join(", "))
            };
            self.push(
                Diag::new(
                    block_site,
                    format!(
                        "{full}: `block` takes a block template, got `{}`",
                        block.describe()
                    ),
                )
                .help(help),
            );
            return None;
        };
        if !ok {
            return None;
        }
        let mut layers = Vec::new();
        for i in 0..count {
            let (kind, entries): (String, Vec<Entry>) = match first {
                Some((Value::Map { entries, .. }, _)) if i == 0 => {
                    let mut merged: Vec<Entry> = base
                        .entries
                        .iter()
                        .filter(|e| !entries.iter().any(|o| o.key == e.key))
                        .cloned()
                        .collect();
                    merged.extend(entries.iter().cloned());
                    (base.kind.to_string(), merged)
                }
                Some((value, first_site)) if i == 0 => match layer_view(value) {
                    Some(v) if self.lib.template(&v.kind.to_string()).is_some() => {
                        (v.kind.to_string(), v.entries.to_vec())
                    }
                    _ => {
                        self.push(
                            Diag::new(first_site, format!("{full}: `first` takes `{{ key: value, .. }}` or a template use, got `{}`", value.describe()))
                                .help("for example `first: { stride: 2, project: true }`"),
                        );
                        return None;
                    }
                },
                _ => (base.kind.to_string(), base.entries.to_vec()),
            };
            let t = self.lib.template(&kind)?;
            let instance = format!("{full}.{i}");
            let kind = self.use_template(t, &instance, &entries, block_site, view.head);
            let mut layer = placeholder(instance, true, block_site, Vec::new());
            match kind {
                Some(kind) => {
                    layer.kind = kind;
                    layer.broken = false;
                }
                None => layer.broken = true,
            }
            layers.push(layer);
        }
        Some(LayerKind::Sequential {
            layers,
            label: format!("{count} x {}", base.kind),
            expect_input: None,
            expect_output: None,
        })
    }

    /// A network declared by another `network!` struct, used as a layer:
    /// its layers under the use's name, with the input it was declared for
    /// and the output the use states (if it does) to check.
    fn use_network(
        &mut self,
        net: &NetworkDef,
        full: &str,
        entries: &[Entry],
        site: crate::ir::Site,
        head: SpanRange,
    ) -> Option<LayerKind> {
        let name = net.header.ident.to_string();
        let mut expect_output = None;
        let mut stated_input = None;
        let mut ok = true;
        for entry in entries {
            let key_site = self.site(entry.span());
            match entry.key.to_string().as_str() {
                "output" => {
                    expect_output = self.input(&format!("{full}: output"), &entry.value, key_site)
                }
                "input" => {
                    stated_input = self
                        .input(&format!("{full}: input"), &entry.value, key_site)
                        .map(|s| (s, key_site))
                }
                other => {
                    self.push(
                        Diag::new(key_site, format!("{full}: a network used as a layer has no key `{other}`"))
                            .help(format!("`{name}` takes `input: [..]` and `output: [..]`, the shapes it must take and give")),
                    );
                    ok = false;
                }
            }
        }
        let field = |key: &str| net.fields.iter().find(|f| f.key == key);
        let declared = self.via(head, &name, |lw| {
            field("input").and_then(|f| {
                let s = lw.site(f.span());
                lw.input(&name, &f.value, s)
            })
        });
        if let (Some((stated, key_site)), Some(declared)) = (stated_input, declared) {
            if stated != declared {
                self.push(
                    Diag::new(key_site, format!("{full}: the use states the input {stated}, but {name} is declared for {declared}"))
                        .help(format!("write `input: [{}]`, or change {name}'s declaration", declared.as_list())),
                );
                ok = false;
            }
        }
        let items = match field("layers").map(|f| &f.value) {
            Some(Value::List { items, .. }) => items.clone(),
            _ => {
                self.push(
                    Diag::new(site, format!("{full}: {name} has no layers to use"))
                        .help("fix the declaration of the network"),
                );
                return None;
            }
        };
        let layers = self.via(head, &name, |lw| {
            let items = lw.resolve_list(&items, &Env::default());
            lw.block(&[items.as_slice()], &format!("{full}.")).remove(0)
        });
        ok.then_some(LayerKind::Sequential {
            layers,
            label: name,
            expect_input: declared,
            expect_output,
        })
    }

    /// A list with the parameters of `env` replaced and every expression
    /// worked out.
    pub(super) fn resolve_list(&mut self, items: &[Value], env: &Env) -> Vec<Value> {
        items.iter().map(|v| self.resolve(v, env)).collect()
    }

    /// One value with the parameters replaced and expressions worked out;
    /// a mistake is reported and the value becomes [`POISON`].
    pub(super) fn resolve(&mut self, value: &Value, env: &Env) -> Value {
        match self.try_resolve(value, env) {
            Ok(v) => v,
            Err(diag) => {
                // An empty message: a mistake already reported.
                if !diag.message.is_empty() {
                    self.push(diag);
                }
                poison(value.span())
            }
        }
    }

    fn try_resolve(&mut self, value: &Value, env: &Env) -> Result<Value, Diag> {
        Ok(match value {
            Value::Word(word) => match env.values.get(&word.to_string()) {
                Some(bound) => respan(bound.clone(), value.span()),
                None => value.clone(),
            },
            Value::List { items, span } => Value::List {
                items: items.iter().map(|v| self.resolve(v, env)).collect(),
                span: *span,
            },
            Value::Map { entries, span } => Value::Map {
                entries: self.resolve_entries(entries, env),
                span: *span,
            },
            Value::Spread { value: inner, span } => Value::Spread {
                value: Box::new(self.try_resolve(inner, env)?),
                span: *span,
            },
            Value::Layer(def) => {
                let mut def = def.clone();
                if let Some(args) = def.args.as_mut() {
                    args.entries = self.resolve_entries(&args.entries, env);
                }
                Value::Layer(def)
            }
            Value::Binary { op, lhs, rhs, span } => {
                let a = self.scalar(lhs, env)?;
                let b = self.scalar(rhs, env)?;
                let site = self.site(*span);
                let out = binary(*op, a, b).map_err(|why| {
                    Diag::new(site, format!("{}{why}", who(env))).help(
                        "template arithmetic takes whole numbers, numbers and `true` / `false`",
                    )
                })?;
                from_scalar(out, *span)
            }
            Value::Not { value: inner, span } => match self.scalar(inner, env)? {
                Scalar::Bool(b) => Value::Bool {
                    value: !b,
                    span: span.0,
                },
                other => {
                    let site = self.site(*span);
                    return Err(Diag::new(
                        site,
                        format!(
                            "{}`!` needs `true` or `false`, got {}",
                            who(env),
                            show(other)
                        ),
                    )
                    .help("write a comparison, e.g. `stride != 1`"));
                }
            },
            Value::If {
                cond,
                then,
                otherwise,
                span,
            } => match self.scalar(cond, env)? {
                Scalar::Bool(true) => self.try_resolve(then, env)?,
                Scalar::Bool(false) => self.try_resolve(otherwise, env)?,
                other => {
                    let site = self.site(*span);
                    return Err(Diag::new(
                        site,
                        format!(
                            "{}`if` needs `true` or `false`, got {}",
                            who(env),
                            show(other)
                        ),
                    )
                    .help("write a comparison, e.g. `if stride != 1 { .. } else { .. }`"));
                }
            },
            Value::Int { .. } | Value::Float { .. } | Value::Bool { .. } => value.clone(),
        })
    }

    fn resolve_entries(&mut self, entries: &[Entry], env: &Env) -> Vec<Entry> {
        entries
            .iter()
            .map(|e| Entry {
                key: e.key.clone(),
                value: self.resolve(&e.value, env),
            })
            .collect()
    }

    /// An operand of an expression: a number or `true` / `false`.
    fn scalar(&mut self, value: &Value, env: &Env) -> Result<Scalar, Diag> {
        let resolved = self.try_resolve(value, env)?;
        match &resolved {
            Value::Int {
                negative, digits, ..
            } => {
                let n: i128 = digits.parse().map_err(|_| {
                    let site = self.site(value.span());
                    Diag::new(
                        site,
                        format!("{}{digits} is too large for template arithmetic", who(env)),
                    )
                    .help("arithmetic overflow: use a smaller number")
                })?;
                Ok(Scalar::Int(if *negative { -n } else { n }))
            }
            Value::Float { value, .. } => Ok(Scalar::Real(*value)),
            Value::Bool { value, .. } => Ok(Scalar::Bool(*value)),
            Value::Word(word) if word == POISON => {
                Err(Diag::new(crate::ir::Site::CALL, String::new()))
            }
            Value::Word(word) => {
                let site = self.site(value.span());
                let help = if env.template.is_empty() {
                    "outside a block template, expressions take numbers only".to_string()
                } else {
                    let known: Vec<&str> = env.values.keys().map(String::as_str).collect();
                    match closest(&word.to_string(), &known) {
                        Some(hit) => format!("did you mean `{hit}`?"),
                        None => {
                            format!("the parameters of {} are {}", env.template, one_of(&known))
                        }
                    }
                };
                Err(Diag::new(site, format!("{}unknown parameter `{word}`", who(env))).help(help))
            }
            other => {
                let site = self.site(value.span());
                Err(Diag::new(
                    site,
                    format!(
                        "{}expected a number or `true` / `false` in an expression, got `{}`",
                        who(env),
                        other.describe()
                    ),
                )
                .help(
                    "arithmetic and comparisons take numbers; lists and layers cannot be combined",
                ))
            }
        }
    }
}

/// What a use stands for.
enum Use<'p> {
    Template(&'p Template),
    Stage,
    Network(&'p NetworkDef),
}

/// `layer3.1: in Bottleneck, ` for messages about a template's expressions.
fn who(env: &Env) -> String {
    if env.template.is_empty() {
        String::new()
    } else {
        format!("{}: in {}, ", env.use_name, env.template)
    }
}

fn show(s: Scalar) -> String {
    match s {
        Scalar::Int(n) => n.to_string(),
        Scalar::Real(x) => x.to_string(),
        Scalar::Bool(b) => format!("`{b}`"),
    }
}

/// The operator on two operands, or why it does not apply.
fn binary(op: BinOp, a: Scalar, b: Scalar) -> Result<Scalar, String> {
    use Scalar::{Bool, Int, Real};
    let sym = op.symbol();
    let real = |s: Scalar| match s {
        Int(n) => Some(n as f64),
        Real(x) => Some(x),
        Bool(_) => None,
    };
    Ok(match (op, a, b) {
        (BinOp::And, Bool(x), Bool(y)) => Bool(x && y),
        (BinOp::Or, Bool(x), Bool(y)) => Bool(x || y),
        (BinOp::Eq, Bool(x), Bool(y)) => Bool(x == y),
        (BinOp::Ne, Bool(x), Bool(y)) => Bool(x != y),
        (BinOp::And | BinOp::Or, _, _) => {
            return Err(format!(
                "`{sym}` needs `true` or `false` on both sides, got {} {sym} {}",
                show(a),
                show(b)
            ))
        }
        (_, Bool(_), _) | (_, _, Bool(_)) => {
            return Err(format!(
                "`{sym}` needs numbers, got {} {sym} {}",
                show(a),
                show(b)
            ))
        }
        (BinOp::Div | BinOp::Rem, _, Int(0)) => {
            return Err(format!("division by zero in {} {sym} 0", show(a)))
        }
        (op, Int(x), Int(y)) => {
            let overflow = || format!("{x} {sym} {y} overflows");
            match op {
                BinOp::Mul => Int(x.checked_mul(y).ok_or_else(overflow)?),
                BinOp::Div => Int(x.div_euclid(y)),
                BinOp::Rem => Int(x.rem_euclid(y)),
                BinOp::Add => Int(x.checked_add(y).ok_or_else(overflow)?),
                BinOp::Sub => Int(x.checked_sub(y).ok_or_else(overflow)?),
                BinOp::Eq => Bool(x == y),
                BinOp::Ne => Bool(x != y),
                BinOp::Lt => Bool(x < y),
                BinOp::Le => Bool(x <= y),
                BinOp::Gt => Bool(x > y),
                BinOp::Ge => Bool(x >= y),
                BinOp::And | BinOp::Or => unreachable!("handled above"),
            }
        }
        (op, a, b) => {
            let (x, y) = (real(a).unwrap_or(0.0), real(b).unwrap_or(0.0));
            match op {
                BinOp::Mul => Real(x * y),
                BinOp::Div => Real(x / y),
                BinOp::Rem => Real(x % y),
                BinOp::Add => Real(x + y),
                BinOp::Sub => Real(x - y),
                BinOp::Eq => Bool(x == y),
                BinOp::Ne => Bool(x != y),
                BinOp::Lt => Bool(x < y),
                BinOp::Le => Bool(x <= y),
                BinOp::Gt => Bool(x > y),
                BinOp::Ge => Bool(x >= y),
                BinOp::And | BinOp::Or => unreachable!("handled above"),
            }
        }
    })
}

fn from_scalar(s: Scalar, span: SpanRange) -> Value {
    match s {
        Scalar::Int(n) => Value::Int {
            negative: n < 0,
            digits: n.unsigned_abs().to_string(),
            span,
        },
        Scalar::Real(x) => Value::Float {
            value: x,
            text: x.to_string(),
            span,
        },
        Scalar::Bool(b) => Value::Bool {
            value: b,
            span: span.0,
        },
    }
}

/// A bound value placed where its parameter was written: messages about
/// it point at the template (and, through the use, at the call).
fn respan(value: Value, span: SpanRange) -> Value {
    match value {
        Value::Int {
            negative, digits, ..
        } => Value::Int {
            negative,
            digits,
            span,
        },
        Value::Float { value, text, .. } => Value::Float { value, text, span },
        Value::Bool { value, .. } => Value::Bool {
            value,
            span: span.0,
        },
        Value::Word(mut word) => {
            word.set_span(span.0);
            Value::Word(word)
        }
        other => other,
    }
}

/// The stand-in for a value whose mistake was reported.
fn poison(span: SpanRange) -> Value {
    Value::Word(syn::Ident::new(POISON, span.0))
}

/// Whether a value is the stand-in for one whose mistake was reported.
pub(super) fn is_poison(value: &Value) -> bool {
    matches!(value, Value::Word(w) if w == POISON)
}
