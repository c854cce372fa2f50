//! Parsing `#[rtm_event(type = "...", subtype = "...")]` with `syn::meta::parser`, whose path
//! parser accepts the keyword `type`.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Meta, meta::ParseNestedMeta, parse::Parser as _};

use crate::validate::Errors;

/// The attribute's name, as found on stacked attributes (`rtm_event` or `rtm_core::rtm_event`).
pub(crate) const ATTRIBUTE: &str = "rtm_event";
const TYPE: &str = "type";
const SUBTYPE: &str = "subtype";
/// Flag: the `type` is not in the event catalog, do not check its spelling.
const UNCHECKED: &str = "unchecked";
/// Flag: a `message` route that also gets the bot's own messages.
const OWN_MESSAGES: &str = "own_messages";

/// One `#[rtm_event(...)]`: the route it names.
pub(crate) struct RouteArgs {
    /// The `type` literal.
    pub(crate) kind: LitStr,
    /// The `subtype` key and literal, if given.
    pub(crate) subtype: Option<(syn::Path, LitStr)>,
    /// The whole attribute (or its arguments), for errors about the route as a whole.
    pub(crate) origin: TokenStream,
    /// Another key of this attribute was rejected: `kind` is still checked, but the route is
    /// incomplete, so it takes no part in the duplicate check.
    pub(crate) partial: bool,
    /// `unchecked` was given: the type need not be in the catalog.
    pub(crate) unchecked: bool,
    /// `own_messages` was given (its key, for errors).
    pub(crate) own_messages: Option<syn::Path>,
}

/// Whether `attr` is a stacked `#[rtm_event]`.
pub(crate) fn is_rtm_event(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == ATTRIBUTE)
}

/// Parses the arguments of the attribute being expanded. `None` when there is no usable
/// `type`.
pub(crate) fn parse_outer(args: TokenStream, errors: &mut Errors) -> Option<RouteArgs> {
    let origin = args.clone();
    if let Some(error) = bare_literal(&args) {
        errors.push(error);
        return None;
    }
    let mut keys = Keys::default();
    match syn::meta::parser(|meta: ParseNestedMeta<'_>| keys.parse(meta, errors)).parse2(args) {
        Ok(()) => keys.finish(origin, errors),
        Err(error) => {
            errors.push(error);
            None
        }
    }
}

/// Parses a stacked `#[rtm_event(...)]` found on the function. `None` when there is no
/// usable `type`.
pub(crate) fn parse_stacked(attr: &Attribute, errors: &mut Errors) -> Option<RouteArgs> {
    let origin = attr.to_token_stream();
    let list = match &attr.meta {
        Meta::List(list) => list,
        Meta::Path(_) => {
            errors.push(missing_type(&origin));
            return None;
        }
        Meta::NameValue(_) => {
            errors.push(syn::Error::new_spanned(
                attr,
                "expected arguments in parentheses: #[rtm_event(type = \"team_join\")]",
            ));
            return None;
        }
    };
    if let Some(error) = bare_literal(&list.tokens) {
        errors.push(error);
        return None;
    }
    let mut keys = Keys::default();
    match list.parse_nested_meta(|meta| keys.parse(meta, errors)) {
        Ok(()) => keys.finish(origin, errors),
        Err(error) => {
            errors.push(error);
            None
        }
    }
}

/// `#[rtm_event("message")]`: a string where `type = "..."` belongs.
fn bare_literal(args: &TokenStream) -> Option<syn::Error> {
    let literal = syn::parse2::<LitStr>(args.clone()).ok().or_else(|| {
        let mut tokens = args.clone().into_iter();
        let first = tokens.next()?;
        syn::parse2::<LitStr>(first.into()).ok()
    })?;
    Some(syn::Error::new_spanned(
        &literal,
        format_args!(
            "expected `type = \"{0}\"`, not a bare string: write #[rtm_event(type = \"{0}\")]",
            literal.value()
        ),
    ))
}

/// The keys seen so far in one attribute.
#[derive(Default)]
struct Keys {
    kind: Option<LitStr>,
    subtype: Option<(syn::Path, LitStr)>,
    unchecked: bool,
    own_messages: Option<syn::Path>,
    /// A key was rejected; the attribute yields no route.
    failed: bool,
}

impl Keys {
    fn parse(&mut self, meta: ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<()> {
        if meta.path.is_ident(UNCHECKED) || meta.path.is_ident(OWN_MESSAGES) {
            return self.flag(meta, errors);
        }
        let slot_is_taken = if meta.path.is_ident(TYPE) {
            self.kind.is_some()
        } else if meta.path.is_ident(SUBTYPE) {
            self.subtype.is_some()
        } else {
            let key = meta.path.to_token_stream().to_string().replace(' ', "");
            errors.push(meta.error(format_args!(
                "unknown key `{key}`; valid keys are `type` (e.g. `type = \"team_join\"`), `subtype` (e.g. `subtype = \"bot_message\"`), and the flags `unchecked` and `own_messages`"
            )));
            self.failed = true;
            // Skip the value, if any, so the keys after it are still checked.
            if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<Expr>()?;
            }
            return Ok(());
        };
        let name = if meta.path.is_ident(TYPE) { TYPE } else { SUBTYPE };
        if slot_is_taken {
            errors.push(syn::Error::new_spanned(
                &meta.path,
                format_args!("`{name}` specified more than once; give each key once"),
            ));
            self.failed = true;
            meta.value()?.parse::<Expr>()?;
            return Ok(());
        }
        let value: Expr = meta.value()?.parse()?;
        let Expr::Lit(ExprLit {
            lit: Lit::Str(literal),
            ..
        }) = value
        else {
            let example = if name == TYPE {
                "type = \"team_join\""
            } else {
                "subtype = \"bot_message\""
            };
            errors.push(syn::Error::new_spanned(
                value,
                format_args!("expected a string literal: `{example}`"),
            ));
            self.failed = true;
            return Ok(());
        };
        if name == TYPE {
            self.kind = Some(literal);
        } else {
            self.subtype = Some((meta.path, literal));
        }
        Ok(())
    }

    /// A flag: `unchecked` or `own_messages`, without a value.
    fn flag(&mut self, meta: ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<()> {
        let unchecked = meta.path.is_ident(UNCHECKED);
        let name = if unchecked { UNCHECKED } else { OWN_MESSAGES };
        if meta.input.peek(syn::Token![=]) || !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
            errors.push(meta.error(format_args!(
                "`{name}` is a flag and takes no value: write `{name}`"
            )));
            self.failed = true;
            if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<Expr>()?;
            }
            return Ok(());
        }
        let taken = if unchecked {
            self.unchecked
        } else {
            self.own_messages.is_some()
        };
        if taken {
            errors.push(syn::Error::new_spanned(
                &meta.path,
                format_args!("`{name}` specified more than once; give each key once"),
            ));
            self.failed = true;
        } else if unchecked {
            self.unchecked = true;
        } else {
            self.own_messages = Some(meta.path);
        }
        Ok(())
    }

    fn finish(self, origin: TokenStream, errors: &mut Errors) -> Option<RouteArgs> {
        let Some(kind) = self.kind else {
            if !self.failed {
                errors.push(missing_type(&origin));
            }
            return None;
        };
        Some(RouteArgs {
            kind,
            subtype: self.subtype,
            origin,
            partial: self.failed,
            unchecked: self.unchecked,
            own_messages: self.own_messages,
        })
    }
}

/// Spanned on the attribute's arguments, or on the attribute itself when it has none.
fn missing_type(origin: &TokenStream) -> syn::Error {
    let message =
        "missing event type: write #[rtm_event(type = \"team_join\")], or `type = \"*\"` for every event";
    if origin.is_empty() {
        syn::Error::new(Span::call_site(), message)
    } else {
        syn::Error::new_spanned(origin, message)
    }
}
