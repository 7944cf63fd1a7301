//! Tokens -> `ast`: syntax errors only. What a key means, and whether a
//! value fits it, is `lower.rs`'s business; here every value is parsed by
//! one generic rule so that misspelt keys and kinds still parse.
//!
//! ```text
//! network := attr* vis "struct" IDENT "{" entries "}"
//! entries := (entry ("," entry)* ","?)?
//! entry   := IDENT ":" value
//! value   := "-"? INT | "-"? FLOAT | "true" | "false" | list | IDENT ("{" entries "}")?
//! list    := "[" (item ("," item)* ","?)? "]"
//! item    := IDENT ":" IDENT ("{" entries "}")?      a named layer
//!          | value
//! ```

use proc_macro2::TokenStream;
use syn::parse::{ParseStream, Parser};
use syn::{braced, bracketed, Token};

use crate::ast::{Args, Entry, Header, LayerDef, NetworkDef, SpanRange, Value};

/// Parses the whole macro input.
pub fn parse(tokens: TokenStream) -> syn::Result<NetworkDef> {
    Parser::parse2(parse_network, tokens)
}

/// Parses only the header (`#[attrs] VIS struct Name`), ignoring the rest:
/// on a syntax error the struct is still emitted, so that the user sees the
/// syntax error rather than "cannot find type".
pub fn parse_header_only(tokens: TokenStream) -> Option<Header> {
    let parser = |input: ParseStream| {
        let header = parse_header(input)?;
        input.parse::<TokenStream>()?;
        Ok(header)
    };
    Parser::parse2(parser, tokens).ok()
}

fn parse_header(input: ParseStream) -> syn::Result<Header> {
    let attrs = input.call(syn::Attribute::parse_outer)?;
    let vis: syn::Visibility = input.parse()?;
    input.parse::<Token![struct]>()?;
    let ident: syn::Ident = input.parse()?;
    Ok(Header { attrs, vis, ident })
}

fn parse_network(input: ParseStream) -> syn::Result<NetworkDef> {
    let header = parse_header(input)?;
    if input.peek(Token![<]) {
        return Err(input.error("a network struct takes no generic parameters"));
    }
    let content;
    braced!(content in input);
    let fields = parse_entries(&content)?;
    if input.peek(Token![;]) {
        return Err(input.error("unexpected `;` after the network's closing brace"));
    }
    Ok(NetworkDef { header, fields })
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
    if input.peek(syn::Ident) {
        let kind: syn::Ident = input.parse()?;
        if input.peek(syn::token::Brace) {
            return parse_layer_args(input, None, kind);
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

/// A list item: a named layer `name: Kind { .. }`, or any value.
fn parse_item(input: ParseStream) -> syn::Result<Value> {
    if input.peek(syn::Ident) && input.peek2(Token![:]) && !input.peek2(Token![::]) {
        let name: syn::Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let kind = parse_ident(
            input,
            "expected a layer kind after the layer's name, like `Conv2d`",
        )?;
        if input.peek(syn::token::Brace) {
            return parse_layer_args(input, Some(name), kind);
        }
        return Ok(Value::Layer(Box::new(LayerDef {
            name: Some(name),
            kind,
            args: None,
        })));
    }
    parse_value(input)
}

fn parse_layer_args(
    input: ParseStream,
    name: Option<syn::Ident>,
    kind: syn::Ident,
) -> syn::Result<Value> {
    let content;
    let brace = braced!(content in input);
    let entries = parse_entries(&content)?;
    Ok(Value::Layer(Box::new(LayerDef {
        name,
        kind,
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
        let header = parse_header_only("pub struct Net { input: [1,, ] }".parse().unwrap());
        assert_eq!(header.unwrap().ident, "Net");
    }
}
