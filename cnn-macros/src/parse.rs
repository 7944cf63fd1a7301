//! Tokens -> `ast`: syntax errors only. What a key means, and whether a
//! value fits it, is `lower.rs`'s business; here every value is parsed by
//! one generic rule so that misspelt keys and kinds still parse.
//!
//! ```text
//! program  := ("@" "cnn_import" "{" program "}")* item*
//! item     := network | template
//! network  := attr* vis "struct" IDENT "{" entries "}"
//! template := attr* vis "block" IDENT "(" (param ("," param)* ","?)? ")" "=" list ";"?
//! param    := IDENT (":" value)?                     a default after the colon
//! entries  := (entry ("," entry)* ","?)?
//! entry    := IDENT ":" value
//! value    := unary (BINOP unary)*                   *, /, %, +, -, ==, !=, <, <=, >, >=, &&, ||
//! unary    := "!" unary | primary
//! primary  := "-"? INT | "-"? FLOAT | "true" | "false" | list | "{" entries "}"
//!           | "(" value ")" | "if" value "{" value "}" "else" "{" value "}"
//!           | kind ("{" entries "}")?
//! kind     := "::"? IDENT ("::" IDENT)*                a path names another module's or crate's block
//! list     := "[" (item ("," item)* ","?)? "]"
//! item     := (IDENT | STRING) ":" kind ("{" entries "}")?   a named layer
//!           | ".." value                             a template's layers in place
//!           | value
//! ```
//!
//! `@cnn_import` is not written by users: it is how the macro of another
//! call hands its templates and networks to this one (`splice.rs`).

use proc_macro2::TokenStream;
use syn::parse::{ParseStream, Parser};
use syn::{braced, bracketed, Token};

use crate::ast::{
    Args, BinOp, Entry, Header, LayerDef, LayerName, NetworkDef, Program, SpanRange, Template,
    Value,
};

/// Parses a macro input that declares exactly one network (the unit
/// tests' entry point).
#[cfg(test)]
pub fn parse(tokens: TokenStream) -> syn::Result<NetworkDef> {
    let mut program = parse_program(tokens)?;
    match program.nets.len() {
        1 => Ok(program.nets.remove(0)),
        n => Err(syn::Error::new(
            proc_macro2::Span::call_site(),
            format!("expected one network, found {n}"),
        )),
    }
}

/// Parses the whole macro input: templates and networks, after what other
/// calls lent it.
pub fn parse_program(tokens: TokenStream) -> syn::Result<Program> {
    Parser::parse2(program, tokens)
}

fn program(input: ParseStream) -> syn::Result<Program> {
    let mut out = Program {
        templates: Vec::new(),
        nets: Vec::new(),
        imports: Vec::new(),
    };
    while input.peek(Token![@]) {
        input.parse::<Token![@]>()?;
        let word: syn::Ident = input.parse()?;
        if word != "cnn_import" {
            return Err(syn::Error::new(
                word.span(),
                "expected `cnn_import` after `@`",
            ));
        }
        let content;
        braced!(content in input);
        out.imports.push(program(&content)?);
    }
    if input.is_empty() {
        return Err(input.error("expected a network: `struct Name { input: [..], layers: [..] }`"));
    }
    while !input.is_empty() {
        let attrs = input.call(syn::Attribute::parse_outer)?;
        let vis: syn::Visibility = input.parse()?;
        if input.peek(syn::Ident) && !input.peek(Token![struct]) && input.peek2(syn::Ident) {
            let word: syn::Ident = input.fork().parse()?;
            if word == "block" {
                input.parse::<syn::Ident>()?;
                out.templates.push(parse_template(input, attrs, vis)?);
                continue;
            }
        }
        input.parse::<Token![struct]>()?;
        let ident: syn::Ident = input.parse()?;
        let header = Header { attrs, vis, ident };
        out.nets.push(parse_network_body(input, header)?);
    }
    Ok(out)
}

/// `Name(params) = [ layers ];` after the word `block`.
fn parse_template(
    input: ParseStream,
    attrs: Vec<syn::Attribute>,
    vis: syn::Visibility,
) -> syn::Result<Template> {
    let ident = parse_ident(input, "expected the block's name after `block`")?;
    if !input.peek(syn::token::Paren) {
        return Err(input.error(format!(
            "expected `(` after `block {ident}`: its parameters, e.g. `block {ident}(filters, stride: 1) = [ .. ]`"
        )));
    }
    let content;
    syn::parenthesized!(content in input);
    let mut params = Vec::new();
    while !content.is_empty() {
        let name = parse_ident(&content, "expected a parameter name")?;
        let default = if content.peek(Token![:]) {
            content.parse::<Token![:]>()?;
            Some(parse_value(&content)?)
        } else {
            None
        };
        params.push((name, default));
        if content.is_empty() {
            break;
        }
        if !content.peek(Token![,]) {
            return Err(content.error("expected `,` between parameters"));
        }
        content.parse::<Token![,]>()?;
    }
    if !input.peek(Token![=]) {
        return Err(input.error(format!(
            "expected `=` and the layers of `{ident}`: `= [ .. ]`"
        )));
    }
    input.parse::<Token![=]>()?;
    if !input.peek(syn::token::Bracket) {
        return Err(input.error("expected the block's layers in brackets: `[ .. ]`"));
    }
    let Value::List { items, .. } = parse_list(input)? else {
        unreachable!("parse_list returns a list")
    };
    if input.peek(Token![;]) {
        input.parse::<Token![;]>()?;
    }
    Ok(Template {
        attrs,
        vis,
        ident,
        params,
        body: items,
    })
}

/// The headers (`#[attrs] VIS struct Name`) of the networks a call
/// declares, found token by token without parsing the rest: on a syntax
/// error the structs are still emitted, so that the user sees the syntax
/// error rather than "cannot find type".
pub fn parse_headers_only(tokens: TokenStream) -> Vec<Header> {
    let trees: Vec<proc_macro2::TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::new();
    for (i, pair) in trees.windows(2).enumerate() {
        let (proc_macro2::TokenTree::Ident(kw), proc_macro2::TokenTree::Ident(ident)) =
            (&pair[0], &pair[1])
        else {
            continue;
        };
        if kw != "struct" {
            continue;
        }
        // The visibility and attributes right before `struct`.
        let mut start = i;
        while start > 0 {
            match &trees[start - 1] {
                proc_macro2::TokenTree::Ident(w) if w == "pub" || w == "crate" => start -= 1,
                proc_macro2::TokenTree::Group(g)
                    if g.delimiter() == proc_macro2::Delimiter::Parenthesis
                        && start >= 2
                        && matches!(&trees[start - 2], proc_macro2::TokenTree::Ident(w) if w == "pub") =>
                {
                    start -= 1
                }
                proc_macro2::TokenTree::Group(g)
                    if g.delimiter() == proc_macro2::Delimiter::Bracket
                        && start >= 2
                        && matches!(&trees[start - 2], proc_macro2::TokenTree::Punct(p) if p.as_char() == '#') =>
                {
                    start -= 2
                }
                _ => break,
            }
        }
        let head: TokenStream = trees[start..=i + 1].iter().cloned().collect();
        if let Ok(header) = Parser::parse2(parse_header, head) {
            out.push(header);
        } else {
            out.push(Header {
                attrs: Vec::new(),
                vis: syn::Visibility::Inherited,
                ident: ident.clone(),
            });
        }
    }
    out
}

fn parse_header(input: ParseStream) -> syn::Result<Header> {
    let attrs = input.call(syn::Attribute::parse_outer)?;
    let vis: syn::Visibility = input.parse()?;
    input.parse::<Token![struct]>()?;
    let ident: syn::Ident = input.parse()?;
    Ok(Header { attrs, vis, ident })
}

fn parse_network_body(input: ParseStream, header: Header) -> syn::Result<NetworkDef> {
    if input.peek(Token![<]) {
        return Err(input.error("a network struct takes no generic parameters"));
    }
    let content;
    braced!(content in input);
    let (fields, taps) = parse_network_fields(&content)?;
    if input.peek(Token![;]) {
        return Err(input.error("unexpected `;` after the network's closing brace"));
    }
    if !input.is_empty()
        && !input.peek(Token![#])
        && !input.peek(Token![pub])
        && !input.peek(Token![struct])
        && !input.peek(syn::Ident)
    {
        return Err(
            input.error("expected another network or `block` after the network's closing brace")
        );
    }
    Ok(NetworkDef {
        header,
        fields,
        taps,
    })
}

/// A network's fields: `key: value, ...` as [`parse_entries`] reads them,
/// except `taps: [..]`, whose items are layer paths (`conv4_2`,
/// `layer3.1`, `"trunk.conv1"`) rather than values.
fn parse_network_fields(input: ParseStream) -> syn::Result<(Vec<Entry>, Vec<TapsField>)> {
    let (mut entries, mut taps) = (Vec::new(), Vec::new());
    while !input.is_empty() {
        let key = parse_ident(input, "expected a key, like `input`")?;
        if !input.peek(Token![:]) {
            return Err(input.error(format!("expected `:` after `{key}`")));
        }
        input.parse::<Token![:]>()?;
        if key == "taps" {
            taps.push((key, parse_taps(input)?));
        } else {
            let value = parse_value(input)?;
            entries.push(Entry { key, value });
        }
        if input.is_empty() {
            break;
        }
        if !input.peek(Token![,]) {
            return Err(input.error("expected `,` between entries"));
        }
        input.parse::<Token![,]>()?;
    }
    Ok((entries, taps))
}

type TapsField = (syn::Ident, Vec<(String, SpanRange)>);

/// `[path, ...]`: each path is segments joined by `.` (a word or a
/// number: `layer3.1.conv2`), or a string literal.
fn parse_taps(input: ParseStream) -> syn::Result<Vec<(String, SpanRange)>> {
    if !input.peek(syn::token::Bracket) {
        return Err(
            input.error("expected the tapped layers in brackets: `taps: [conv1, layer3.1]`")
        );
    }
    let content;
    syn::bracketed!(content in input);
    let mut out = Vec::new();
    while !content.is_empty() {
        out.push(parse_tap_path(&content)?);
        if content.is_empty() {
            break;
        }
        if !content.peek(Token![,]) {
            return Err(content.error("expected `,` between tapped layers"));
        }
        content.parse::<Token![,]>()?;
    }
    Ok(out)
}

fn parse_tap_path(input: ParseStream) -> syn::Result<(String, SpanRange)> {
    if input.peek(syn::LitStr) {
        let lit: syn::LitStr = input.parse()?;
        return Ok((lit.value(), SpanRange::single(lit.span())));
    }
    let mut text = String::new();
    let mut first = None;
    let mut last;
    loop {
        // A segment: a word, or digits (`1`, and `1.2` lexed as one float).
        let (segment, span) = if input.peek(syn::Ident) {
            let id: syn::Ident = input.parse()?;
            (id.to_string(), id.span())
        } else if input.peek(syn::LitInt) {
            let lit: syn::LitInt = input.parse()?;
            (lit.base10_digits().to_string(), lit.span())
        } else if input.peek(syn::LitFloat) {
            let lit: syn::LitFloat = input.parse()?;
            (lit.base10_digits().to_string(), lit.span())
        } else {
            return Err(input.error("expected a layer's name, like `conv4_2` or `layer3.1`"));
        };
        text.push_str(&segment);
        first.get_or_insert(span);
        last = span;
        if !input.peek(Token![.]) {
            break;
        }
        input.parse::<Token![.]>()?;
        text.push('.');
    }
    let first = first.expect("a path has a segment");
    Ok((text, SpanRange(first, last)))
}

/// `key: value, ...` up to the end of the group, trailing comma optional.
fn parse_entries(input: ParseStream) -> syn::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    while !input.is_empty() {
        let key = parse_ident(input, "expected a key, like `filters`")?;
        if !input.peek(Token![:]) {
            return Err(input.error(format!("expected `:` after `{key}`")));
        }
        input.parse::<Token![:]>()?;
        let value = parse_value(input)?;
        entries.push(Entry { key, value });
        if input.is_empty() {
            break;
        }
        if !input.peek(Token![,]) {
            return Err(input.error("expected `,` between entries"));
        }
        input.parse::<Token![,]>()?;
    }
    Ok(entries)
}

fn parse_ident(input: ParseStream, expected: &str) -> syn::Result<syn::Ident> {
    if input.peek(syn::Ident) {
        input.parse()
    } else {
        Err(input.error(expected))
    }
}

fn parse_value(input: ParseStream) -> syn::Result<Value> {
    parse_expr(input, 0, false)
}

/// A value with binary operators, by precedence climbing: operators that
/// bind tighter than `min` are folded into the right-hand side. `bare`
/// forbids `Kind { .. }` (an `if` condition is followed by a brace).
fn parse_expr(input: ParseStream, min: u8, bare: bool) -> syn::Result<Value> {
    let mut lhs = parse_unary(input, bare)?;
    while let Some(op) = peek_op(input) {
        if op.precedence() <= min {
            break;
        }
        eat_op(input, op)?;
        let rhs = parse_expr(input, op.precedence(), bare)?;
        let span = SpanRange(lhs.span().0, rhs.span().1);
        lhs = Value::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            span,
        };
    }
    Ok(lhs)
}

fn peek_op(input: ParseStream) -> Option<BinOp> {
    Some(if input.peek(Token![==]) {
        BinOp::Eq
    } else if input.peek(Token![!=]) {
        BinOp::Ne
    } else if input.peek(Token![<=]) {
        BinOp::Le
    } else if input.peek(Token![>=]) {
        BinOp::Ge
    } else if input.peek(Token![&&]) {
        BinOp::And
    } else if input.peek(Token![||]) {
        BinOp::Or
    } else if input.peek(Token![<]) {
        BinOp::Lt
    } else if input.peek(Token![>]) {
        BinOp::Gt
    } else if input.peek(Token![*]) {
        BinOp::Mul
    } else if input.peek(Token![/]) {
        BinOp::Div
    } else if input.peek(Token![%]) {
        BinOp::Rem
    } else if input.peek(Token![+]) {
        BinOp::Add
    } else if input.peek(Token![-]) {
        BinOp::Sub
    } else {
        return None;
    })
}

fn eat_op(input: ParseStream, op: BinOp) -> syn::Result<()> {
    match op {
        BinOp::Eq => input.parse::<Token![==]>().map(drop),
        BinOp::Ne => input.parse::<Token![!=]>().map(drop),
        BinOp::Le => input.parse::<Token![<=]>().map(drop),
        BinOp::Ge => input.parse::<Token![>=]>().map(drop),
        BinOp::And => input.parse::<Token![&&]>().map(drop),
        BinOp::Or => input.parse::<Token![||]>().map(drop),
        BinOp::Lt => input.parse::<Token![<]>().map(drop),
        BinOp::Gt => input.parse::<Token![>]>().map(drop),
        BinOp::Mul => input.parse::<Token![*]>().map(drop),
        BinOp::Div => input.parse::<Token![/]>().map(drop),
        BinOp::Rem => input.parse::<Token![%]>().map(drop),
        BinOp::Add => input.parse::<Token![+]>().map(drop),
        BinOp::Sub => input.parse::<Token![-]>().map(drop),
    }
}

fn parse_unary(input: ParseStream, bare: bool) -> syn::Result<Value> {
    if input.peek(Token![!]) && !input.peek(Token![!=]) {
        let bang: Token![!] = input.parse()?;
        let value = parse_unary(input, bare)?;
        let span = SpanRange(bang.span, value.span().1);
        return Ok(Value::Not {
            value: Box::new(value),
            span,
        });
    }
    if input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in input);
        let value = parse_expr(&content, 0, false)?;
        if !content.is_empty() {
            return Err(content.error("expected `)`"));
        }
        return Ok(value);
    }
    if input.peek(Token![if]) {
        return parse_if(input);
    }
    if input.peek(syn::token::Brace) {
        let content;
        let brace = braced!(content in input);
        let entries = parse_entries(&content)?;
        return Ok(Value::Map {
            entries,
            span: SpanRange(brace.span.open(), brace.span.close()),
        });
    }
    if bare && input.peek(syn::Ident) {
        return Ok(Value::Word(input.parse()?));
    }
    parse_primary(input)
}

/// `if cond { a } else { b }` (`else if` chains too).
fn parse_if(input: ParseStream) -> syn::Result<Value> {
    let kw: Token![if] = input.parse()?;
    let cond = parse_expr(input, 0, true)?;
    let then = parse_braced_value(input, "expected `{ value }` after the condition")?;
    if !input.peek(Token![else]) {
        return Err(input.error("expected `else { .. }`: a template's `if` needs both branches"));
    }
    input.parse::<Token![else]>()?;
    let otherwise = if input.peek(Token![if]) {
        parse_if(input)?
    } else {
        parse_braced_value(input, "expected `{ value }` after `else`")?
    };
    let span = SpanRange(kw.span, otherwise.span().1);
    Ok(Value::If {
        cond: Box::new(cond),
        then: Box::new(then),
        otherwise: Box::new(otherwise),
        span,
    })
}

fn parse_braced_value(input: ParseStream, expected: &str) -> syn::Result<Value> {
    if !input.peek(syn::token::Brace) {
        return Err(input.error(expected));
    }
    let content;
    braced!(content in input);
    let value = parse_value(&content)?;
    if !content.is_empty() {
        return Err(content.error("expected `}` after the value"));
    }
    Ok(value)
}

fn parse_primary(input: ParseStream) -> syn::Result<Value> {
    if input.peek(syn::token::Bracket) {
        return parse_list(input);
    }
    if input.peek(syn::LitBool) {
        let lit: syn::LitBool = input.parse()?;
        return Ok(Value::Bool {
            value: lit.value,
            span: lit.span,
        });
    }
    if input.peek(Token![-]) || input.peek(syn::LitInt) || input.peek(syn::LitFloat) {
        return parse_number(input);
    }
    if input.peek(Token![::]) || (input.peek(syn::Ident) && input.peek2(Token![::])) {
        let (path, kind) = parse_kind_path(input)?;
        if input.peek(syn::token::Brace) {
            return parse_layer_args(input, None, path, kind);
        }
        return Ok(Value::Layer(Box::new(LayerDef {
            name: None,
            kind,
            path,
            args: None,
        })));
    }
    if input.peek(syn::Ident) {
        let kind: syn::Ident = input.parse()?;
        if input.peek(syn::token::Brace) {
            return parse_layer_args(input, None, None, kind);
        }
        return Ok(Value::Word(kind));
    }
    Err(input
        .error("expected a value: a number, `[a, b]`, `same`, `valid`, `true`, `false` or a layer"))
}

fn parse_number(input: ParseStream) -> syn::Result<Value> {
    let minus: Option<Token![-]> = input.parse()?;
    let start = minus.map(|m| m.span);
    if input.peek(syn::LitInt) {
        let lit: syn::LitInt = input.parse()?;
        no_suffix(lit.suffix(), lit.span())?;
        return Ok(Value::Int {
            negative: minus.is_some(),
            digits: lit.base10_digits().to_string(),
            span: SpanRange(start.unwrap_or(lit.span()), lit.span()),
        });
    }
    if input.peek(syn::LitFloat) {
        let lit: syn::LitFloat = input.parse()?;
        no_suffix(lit.suffix(), lit.span())?;
        let magnitude: f64 = lit.base10_parse()?;
        let sign = if minus.is_some() { "-" } else { "" };
        return Ok(Value::Float {
            value: if minus.is_some() {
                -magnitude
            } else {
                magnitude
            },
            text: format!("{sign}{}", lit.base10_digits()),
            span: SpanRange(start.unwrap_or(lit.span()), lit.span()),
        });
    }
    Err(input.error("expected a number after `-`"))
}

fn no_suffix(suffix: &str, span: proc_macro2::Span) -> syn::Result<()> {
    if suffix.is_empty() {
        Ok(())
    } else {
        Err(syn::Error::new(
            span,
            format!("write the number without the `{suffix}` suffix"),
        ))
    }
}

fn parse_list(input: ParseStream) -> syn::Result<Value> {
    let content;
    let bracket = bracketed!(content in input);
    let mut items = Vec::new();
    while !content.is_empty() {
        items.push(parse_item(&content)?);
        if content.is_empty() {
            break;
        }
        if !content.peek(Token![,]) {
            return Err(content.error("expected `,` between list items"));
        }
        content.parse::<Token![,]>()?;
    }
    Ok(Value::List {
        items,
        span: SpanRange(bracket.span.open(), bracket.span.close()),
    })
}

/// A list item: a named layer `name: Kind { .. }`, a spread template use
/// `..Template { .. }`, or any value.
fn parse_item(input: ParseStream) -> syn::Result<Value> {
    if input.peek(Token![..]) {
        let dots: Token![..] = input.parse()?;
        let value = parse_value(input)?;
        let span = SpanRange(dots.spans[0], value.span().1);
        return Ok(Value::Spread {
            value: Box::new(value),
            span,
        });
    }
    let named = (input.peek(syn::Ident) || input.peek(syn::LitStr))
        && input.peek2(Token![:])
        && !input.peek2(Token![::]);
    if named {
        let name = parse_layer_name(input)?;
        input.parse::<Token![:]>()?;
        if !input.peek(syn::Ident) && !input.peek(Token![::]) {
            return Err(input.error("expected a layer kind after the layer's name, like `Conv2d`"));
        }
        let (path, kind) = parse_kind_path(input)?;
        if input.peek(syn::token::Brace) {
            return parse_layer_args(input, Some(name), path, kind);
        }
        return Ok(Value::Layer(Box::new(LayerDef {
            name: Some(name),
            kind,
            path,
            args: None,
        })));
    }
    parse_value(input)
}

/// A kind, bare (`Conv2d`) or with the path of the module or crate that
/// declares it (`cnn::models::ResNet`, `::other::Trunk`): the path's
/// tokens up to the last `::`, and the last segment.
fn parse_kind_path(
    input: ParseStream,
) -> syn::Result<(Option<proc_macro2::TokenStream>, syn::Ident)> {
    let mut path = proc_macro2::TokenStream::new();
    if input.peek(Token![::]) {
        let colons: Token![::] = input.parse()?;
        path.extend(quote::ToTokens::to_token_stream(&colons));
    }
    let mut kind = parse_ident(input, "expected a layer kind after `::`")?;
    while input.peek(Token![::]) {
        let colons: Token![::] = input.parse()?;
        let next = parse_ident(input, "expected a name after `::`")?;
        path.extend(quote::ToTokens::to_token_stream(&kind));
        path.extend(quote::ToTokens::to_token_stream(&colons));
        kind = next;
    }
    Ok(((!path.is_empty()).then_some(path), kind))
}

/// A layer's name: a word, or a string (`"block1-0"`) for a name that is
/// not a Rust identifier; a string may not hold `.` (which separates the
/// levels of full names) and may not be empty.
fn parse_layer_name(input: ParseStream) -> syn::Result<LayerName> {
    if input.peek(syn::LitStr) {
        let lit: syn::LitStr = input.parse()?;
        let text = lit.value();
        if text.is_empty() || text.contains('.') || text.chars().any(char::is_whitespace) {
            return Err(syn::Error::new(
                lit.span(),
                format!(
                    "a layer's name cannot be empty or hold `.` or spaces, got {text:?}: \
                     `.` joins the names of nested layers (`layer1.0.conv1`)"
                ),
            ));
        }
        return Ok(LayerName {
            text,
            span: lit.span(),
        });
    }
    Ok(input.parse::<syn::Ident>()?.into())
}

fn parse_layer_args(
    input: ParseStream,
    name: Option<LayerName>,
    path: Option<proc_macro2::TokenStream>,
    kind: syn::Ident,
) -> syn::Result<Value> {
    let content;
    let brace = braced!(content in input);
    let entries = parse_entries(&content)?;
    Ok(Value::Layer(Box::new(LayerDef {
        name,
        kind,
        path,
        args: Some(Args {
            entries,
            close: brace.span.close(),
        }),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(src: &str) -> syn::Result<NetworkDef> {
        parse(src.parse().expect("lexes"))
    }

    #[test]
    fn parses_the_grammar_with_and_without_trailing_commas() {
        let def = parse_str(
            "/// docs\n #[derive(Debug)] pub(crate) struct N { input: [32, 32, 1], layers: [
                c1: Conv2d { filters: 6, kernel: [5, 5], padding: same, bias: false },
                Relu, d: Dropout { rate: 0.5 }, LeakyRelu { alpha: -1e-2 },
                r: Residual { body: [Conv2d { filters: 1, kernel: 1 }], shortcut: [] },
                Concat { branches: [[Relu], [Tanh,]] }
            ] }",
        )
        .unwrap();
        assert_eq!(def.header.attrs.len(), 2);
        assert_eq!(def.header.ident, "N");
        assert_eq!(def.fields.len(), 2);
        let Value::List { items, .. } = &def.fields[1].value else {
            panic!("layers is a list")
        };
        assert_eq!(items.len(), 6);
        let Value::Layer(layer) = &items[3] else {
            panic!("a layer")
        };
        let Value::Float { value, .. } = layer.args.as_ref().unwrap().entries[0].value else {
            panic!("a float")
        };
        assert_eq!(value, -0.01);
    }

    #[test]
    fn syntax_errors_say_what_was_expected() {
        let cases = [
            ("struct N { input [1] }", "expected `:` after `input`"),
            (
                "struct N { input: [1] layers: [] }",
                "expected `,` between entries",
            ),
            (
                "struct N { layers: [Relu Relu] }",
                "expected `,` between list items",
            ),
            ("struct N { layers: [\"relu\"] }", "expected a value"),
            ("struct N { input: [1u8] }", "without the `u8` suffix"),
            ("struct N<T> { }", "no generic parameters"),
            ("N { }", "expected `struct`"),
            ("struct N { layers: [x: 3] }", "expected a layer kind"),
        ];
        for (src, want) in cases {
            let err = parse_str(src)
                .err()
                .unwrap_or_else(|| panic!("{src} parses"));
            assert!(err.to_string().contains(want), "{src}: {err}");
        }
    }

    #[test]
    fn header_survives_a_broken_body() {
        let headers = parse_headers_only(
            "/// doc\n pub(crate) struct Net { input: [1,, ] } struct Two { }"
                .parse()
                .unwrap(),
        );
        assert_eq!(headers.len(), 2);
        assert_eq!(headers[0].ident, "Net");
        assert_eq!(headers[0].attrs.len(), 1);
        assert_eq!(headers[1].ident, "Two");
    }
}
