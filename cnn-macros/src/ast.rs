//! The surface syntax as written, every node with its span. Values are kept
//! generic (a number, a word, a list, a layer): what a key means is decided
//! by `lower.rs`, so a misspelt key is reported with a suggestion instead
//! of a syntax error. `Header` is what passes through to the generated
//! struct.

use proc_macro2::Span;

/// What passes through to the generated struct untouched.
#[derive(Clone)]
pub struct Header {
    /// Doc comments and attributes, in order.
    pub attrs: Vec<syn::Attribute>,
    pub vis: syn::Visibility,
    pub ident: syn::Ident,
}

/// Everything one `network!` call holds: block templates and networks, in
/// any order, plus what other calls lent it (`@cnn_import { .. }`: the
/// templates and networks of the call that declared a block or network this
/// one uses by name; see `splice.rs`).
pub struct Program {
    pub templates: Vec<Template>,
    pub nets: Vec<NetworkDef>,
    /// The programs of other calls, for their templates and networks.
    pub imports: Vec<Program>,
}

/// `block Name(param, param: default, ..) = [ layers ]`: a block declared
/// once and used by name with arguments wherever a layer can stand.
pub struct Template {
    /// Doc comments and attributes (kept for the docs of the call).
    #[allow(dead_code)] // documentation only
    pub attrs: Vec<syn::Attribute>,
    /// `pub block ..` is lent to other crates too (`splice.rs`).
    pub vis: syn::Visibility,
    pub ident: syn::Ident,
    /// The parameters in order, each with its default when it has one.
    pub params: Vec<(syn::Ident, Option<Value>)>,
    /// The layers of one use.
    pub body: Vec<Value>,
}

/// `#[attrs] VIS struct Name { input: [..], layers: [..] }`.
#[derive(Clone)]
pub struct NetworkDef {
    pub header: Header,
    /// The fields between the braces, in order (`input`, `layers`).
    pub fields: Vec<Entry>,
    /// `taps: [conv4_2, layer3.1]`: layers whose outputs a held pass
    /// exposes, as written (dotted paths joined), each with its span; and
    /// the field's key, once per time it is given.
    pub taps: Vec<(syn::Ident, Vec<(String, SpanRange)>)>,
}

/// `key: value`, as a field of the struct or a key of a layer.
#[derive(Clone)]
pub struct Entry {
    pub key: syn::Ident,
    pub value: Value,
}

impl Entry {
    /// From the key to the end of the value: what the user edits.
    pub fn span(&self) -> SpanRange {
        SpanRange(self.key.span(), self.value.span().1)
    }
}

/// The first and last token of a piece of source. A message spanning them
/// underlines everything in between (the trick `syn::Error::new_spanned`
/// uses, which works on stable Rust).
#[derive(Clone, Copy, Debug)]
pub struct SpanRange(pub Span, pub Span);

impl SpanRange {
    pub fn single(span: Span) -> SpanRange {
        SpanRange(span, span)
    }
}

/// A value as written.
#[derive(Clone)]
pub enum Value {
    /// A whole number, possibly with a minus sign (an error for every key,
    /// reported by `lower.rs` with the key's meaning). The digits are kept
    /// as text so numbers beyond `u128` still lower to a clear message.
    Int {
        negative: bool,
        digits: String,
        span: SpanRange,
    },
    /// A number with a fraction or exponent, e.g. `0.3`, `1e-3`.
    Float {
        value: f64,
        text: String,
        span: SpanRange,
    },
    /// `true` / `false`.
    Bool { value: bool, span: Span },
    /// A bare word: `same`, `valid`, or a layer without keys (`Relu`).
    Word(syn::Ident),
    /// `[ item, ... ]`: numbers (`[3, 3]`), layers, or lists of layers.
    List { items: Vec<Value>, span: SpanRange },
    /// `Kind { key: value, ... }` or `name: Kind` / `name: Kind { ... }`.
    Layer(Box<LayerDef>),
    /// `{ key: value, ... }`: a stage's arguments for its first block.
    Map {
        entries: Vec<Entry>,
        span: SpanRange,
    },
    /// `a * b`, `a + b`, `a == b`, `a && b`, ...: arithmetic and tests on
    /// a template's parameters, worked out when the template is used.
    Binary {
        op: BinOp,
        lhs: Box<Value>,
        rhs: Box<Value>,
        span: SpanRange,
    },
    /// `!a`.
    Not { value: Box<Value>, span: SpanRange },
    /// `..Template { .. }` in a layer list: the template's layers in place,
    /// named as if written there.
    Spread { value: Box<Value>, span: SpanRange },
    /// `if cond { a } else { b }`.
    If {
        cond: Box<Value>,
        then: Box<Value>,
        otherwise: Box<Value>,
        span: SpanRange,
    },
}

/// The operators of template expressions, loosest last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Mul,
    Div,
    Rem,
    Add,
    Sub,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    /// How tightly the operator binds (higher first), as in Rust.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Mul | BinOp::Div | BinOp::Rem => 5,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 3,
            BinOp::And => 2,
            BinOp::Or => 1,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }
}

impl Value {
    /// From the first token of the value to its last.
    pub fn span(&self) -> SpanRange {
        match self {
            Value::Int { span, .. }
            | Value::Float { span, .. }
            | Value::List { span, .. }
            | Value::Map { span, .. }
            | Value::Binary { span, .. }
            | Value::Not { span, .. }
            | Value::Spread { span, .. }
            | Value::If { span, .. } => *span,
            Value::Bool { span, .. } => SpanRange::single(*span),
            Value::Word(ident) => SpanRange::single(ident.span()),
            Value::Layer(layer) => layer.span(),
        }
    }

    /// How the value reads in a message: `same`, `3`, `[..]`, `Conv2d { .. }`.
    pub fn describe(&self) -> String {
        match self {
            Value::Int {
                negative, digits, ..
            } => format!("{}{digits}", if *negative { "-" } else { "" }),
            Value::Float { text, .. } => text.clone(),
            Value::Bool { value, .. } => value.to_string(),
            Value::Word(ident) => ident.to_string(),
            Value::List { items, .. } => {
                let shown: Vec<String> = items.iter().map(Value::describe).collect();
                let joined = shown.join(", ");
                if joined.len() > 40 {
                    "[..]".to_string()
                } else {
                    format!("[{joined}]")
                }
            }
            Value::Layer(layer) => match &layer.args {
                Some(_) => format!("{} {{ .. }}", layer.kind),
                None => layer.kind.to_string(),
            },
            Value::Map { .. } => "{ .. }".to_string(),
            Value::Binary { op, lhs, rhs, .. } => {
                format!("{} {} {}", lhs.describe(), op.symbol(), rhs.describe())
            }
            Value::Not { value, .. } => format!("!{}", value.describe()),
            Value::Spread { value, .. } => format!("..{}", value.describe()),
            Value::If { .. } => "if .. { .. } else { .. }".to_string(),
        }
    }
}

/// A layer's name as written: a word (`conv1`), or a string for names
/// that are not Rust identifiers (torchvision's `"block1-0"`).
#[derive(Clone)]
pub struct LayerName {
    pub text: String,
    pub span: Span,
}

impl LayerName {
    pub fn span(&self) -> Span {
        self.span
    }
}

impl std::fmt::Display for LayerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<syn::Ident> for LayerName {
    fn from(ident: syn::Ident) -> LayerName {
        LayerName {
            text: ident.to_string(),
            span: ident.span(),
        }
    }
}

/// One layer as written.
#[derive(Clone)]
pub struct LayerDef {
    /// The user's name in `name: Kind` (or `"name": Kind`).
    pub name: Option<LayerName>,
    pub kind: syn::Ident,
    /// The path in front of the kind (`cnn::models::` in
    /// `cnn::models::ResNet { .. }`): where a block or network declared in
    /// another module or crate is fetched from (`splice.rs`). The kind
    /// itself is the last segment.
    pub path: Option<proc_macro2::TokenStream>,
    /// The keys between braces; `None` when there are no braces.
    pub args: Option<Args>,
}

impl LayerDef {
    /// `name: Kind`, or just `Kind`: where messages about the whole layer
    /// point (the keys are left out so the underline stays short).
    pub fn head_span(&self) -> SpanRange {
        let path_start = self
            .path
            .as_ref()
            .and_then(|p| p.clone().into_iter().next())
            .map(|t| t.span());
        let start = self
            .name
            .as_ref()
            .map(LayerName::span)
            .or(path_start)
            .unwrap_or(self.kind.span());
        SpanRange(start, self.kind.span())
    }

    /// From the name (or kind) to the closing brace.
    pub fn span(&self) -> SpanRange {
        match &self.args {
            Some(args) => SpanRange(self.head_span().0, args.close),
            None => self.head_span(),
        }
    }
}

/// `{ key: value, ... }` after a layer kind.
#[derive(Clone)]
pub struct Args {
    pub entries: Vec<Entry>,
    /// The closing brace, so a layer's full span can be formed.
    pub close: Span,
}
