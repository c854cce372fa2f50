//! Parsing `#[rtm_event(type = "...", subtype = "...")]`, `#[slash_command("/...")]` and
//! `#[interaction(type = "...", action_id = "...")]` with `syn::meta::parser`, whose path
//! parser accepts the keyword `type`.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Meta, meta::ParseNestedMeta, parse::Parser as _};

use crate::validate::Errors;

const TYPE: &str = "type";
const SUBTYPE: &str = "subtype";
const ACTION_ID: &str = "action_id";
const CALLBACK_ID: &str = "callback_id";
/// Flag: the `type` is not in the event catalog, do not check its spelling.
const UNCHECKED: &str = "unchecked";
/// Flag: a `message` route that also gets the bot's own messages.
const OWN_MESSAGES: &str = "own_messages";

/// Which attribute a route comes from. The outermost one takes over the others stacked
/// under it, whatever their kind, so one function can answer several routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `#[rtm_event(type = "...")]`: an event type.
    Event,
    /// `#[slash_command("/...")]`: a Socket Mode slash command.
    SlashCommand,
    /// `#[interaction(type = "...")]`: a Socket Mode interaction.
    Interaction,
}

impl Source {
    /// The attribute's name, as found on stacked attributes (`rtm_event` or
    /// `rtm_core::rtm_event`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Source::Event => "rtm_event",
            Source::SlashCommand => "slash_command",
            Source::Interaction => "interaction",
        }
    }

    /// The attribute `attr` is, if it is one of ours.
    pub(crate) fn of(attr: &Attribute) -> Option<Source> {
        let last = &attr.path().segments.last()?.ident;
        [Source::Event, Source::SlashCommand, Source::Interaction]
            .into_iter()
            .find(|source| last == source.name())
    }
}

/// One attribute: the route it names.
pub(crate) struct RouteArgs {
    /// Which attribute it is.
    pub(crate) source: Source,
    /// The `type` literal (`rtm_event`, `interaction`), or the command (`slash_command`).
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
    /// `action_id` (`interaction`), key and literal.
    pub(crate) action_id: Option<(syn::Path, LitStr)>,
    /// `callback_id` (`interaction`), key and literal.
    pub(crate) callback_id: Option<(syn::Path, LitStr)>,
}

/// Parses the arguments of the attribute being expanded. `None` when there is no usable
/// `type` (or command).
pub(crate) fn parse_outer(source: Source, args: TokenStream, errors: &mut Errors) -> Option<RouteArgs> {
    let origin = args.clone();
    if source == Source::SlashCommand {
        return slash_command(args, origin, errors);
    }
    if let Some(error) = bare_literal(source, &args) {
        errors.push(error);
        return None;
    }
    let mut keys = Keys::new(source);
    match syn::meta::parser(|meta: ParseNestedMeta<'_>| keys.parse(meta, errors)).parse2(args) {
        Ok(()) => keys.finish(origin, errors),
        Err(error) => {
            errors.push(error);
            None
        }
    }
}

/// Parses a stacked attribute of ours found on the function. `None` when there is no usable
/// `type` (or command).
pub(crate) fn parse_stacked(source: Source, attr: &Attribute, errors: &mut Errors) -> Option<RouteArgs> {
    let origin = attr.to_token_stream();
    let list = match &attr.meta {
        Meta::List(list) => list,
        Meta::Path(_) => {
            errors.push(missing_type(source, &origin));
            return None;
        }
        Meta::NameValue(_) => {
            errors.push(syn::Error::new_spanned(
                attr,
                format_args!(
                    "expected arguments in parentheses: #[{}({})]",
                    source.name(),
                    example(source)
                ),
            ));
            return None;
        }
    };
    if source == Source::SlashCommand {
        return slash_command(list.tokens.clone(), origin, errors);
    }
    if let Some(error) = bare_literal(source, &list.tokens) {
        errors.push(error);
        return None;
    }
    let mut keys = Keys::new(source);
    match list.parse_nested_meta(|meta| keys.parse(meta, errors)) {
        Ok(()) => keys.finish(origin, errors),
        Err(error) => {
            errors.push(error);
            None
        }
    }
}

/// What the attribute looks like when written right.
fn example(source: Source) -> &'static str {
    match source {
        Source::Event => "type = \"team_join\"",
        Source::SlashCommand => "\"/deploy\"",
        Source::Interaction => "type = \"block_actions\", action_id = \"approve\"",
    }
}

/// `#[slash_command("/deploy")]`: one string literal, the command.
fn slash_command(args: TokenStream, origin: TokenStream, errors: &mut Errors) -> Option<RouteArgs> {
    if args.is_empty() {
        errors.push(missing_type(Source::SlashCommand, &origin));
        return None;
    }
    match syn::parse2::<LitStr>(args.clone()) {
        Ok(command) => Some(RouteArgs {
            source: Source::SlashCommand,
            kind: command,
            subtype: None,
            origin,
            partial: false,
            unchecked: false,
            own_messages: None,
            action_id: None,
            callback_id: None,
        }),
        Err(_) => {
            errors.push(syn::Error::new_spanned(
                args,
                "expected the command as one string literal: #[slash_command(\"/deploy\")]",
            ));
            None
        }
    }
}

/// `#[rtm_event("message")]`: a string where `type = "..."` belongs.
fn bare_literal(source: Source, args: &TokenStream) -> Option<syn::Error> {
    let literal = syn::parse2::<LitStr>(args.clone()).ok().or_else(|| {
        let mut tokens = args.clone().into_iter();
        let first = tokens.next()?;
        syn::parse2::<LitStr>(first.into()).ok()
    })?;
    Some(syn::Error::new_spanned(
        &literal,
        format_args!(
            "expected `type = \"{0}\"`, not a bare string: write #[{1}(type = \"{0}\")]",
            literal.value(),
            source.name()
        ),
    ))
}

/// The keys seen so far in one attribute.
struct Keys {
    source: Source,
    kind: Option<LitStr>,
    subtype: Option<(syn::Path, LitStr)>,
    unchecked: bool,
    own_messages: Option<syn::Path>,
    action_id: Option<(syn::Path, LitStr)>,
    callback_id: Option<(syn::Path, LitStr)>,
    /// A key was rejected; the attribute yields no route.
    failed: bool,
}

impl Keys {
    fn new(source: Source) -> Keys {
        Keys {
            source,
            kind: None,
            subtype: None,
            unchecked: false,
            own_messages: None,
            action_id: None,
            callback_id: None,
            failed: false,
        }
    }

    /// The key `meta` names, if this attribute has it.
    fn key(&self, meta: &ParseNestedMeta<'_>) -> Option<&'static str> {
        let keys: &[&'static str] = match self.source {
            Source::Event => &[TYPE, SUBTYPE],
            Source::Interaction => &[TYPE, ACTION_ID, CALLBACK_ID],
            Source::SlashCommand => &[],
        };
        keys.iter().copied().find(|key| meta.path.is_ident(key))
    }

    fn parse(&mut self, meta: ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<()> {
        if self.source == Source::Event && (meta.path.is_ident(UNCHECKED) || meta.path.is_ident(OWN_MESSAGES))
        {
            return self.flag(meta, errors);
        }
        let Some(name) = self.key(&meta) else {
            let key = meta.path.to_token_stream().to_string().replace(' ', "");
            let valid = match self.source {
                Source::Interaction => {
                    "valid keys are `type` (e.g. `type = \"block_actions\"`), `action_id` (e.g. `action_id = \"approve\"`) and `callback_id` (e.g. `callback_id = \"new_ticket\"`)"
                }
                Source::Event | Source::SlashCommand => {
                    "valid keys are `type` (e.g. `type = \"team_join\"`), `subtype` (e.g. `subtype = \"bot_message\"`), and the flags `unchecked` and `own_messages`"
                }
            };
            errors.push(meta.error(format_args!("unknown key `{key}`; {valid}")));
            self.failed = true;
            // Skip the value, if any, so the keys after it are still checked.
            if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<Expr>()?;
            }
            return Ok(());
        };
        let slot_is_taken = match name {
            TYPE => self.kind.is_some(),
            SUBTYPE => self.subtype.is_some(),
            ACTION_ID => self.action_id.is_some(),
            _ => self.callback_id.is_some(),
        };
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
            let example = match (name, self.source) {
                (TYPE, Source::Interaction) => "type = \"block_actions\"",
                (TYPE, _) => "type = \"team_join\"",
                (SUBTYPE, _) => "subtype = \"bot_message\"",
                (ACTION_ID, _) => "action_id = \"approve\"",
                _ => "callback_id = \"new_ticket\"",
            };
            errors.push(syn::Error::new_spanned(
                value,
                format_args!("expected a string literal: `{example}`"),
            ));
            self.failed = true;
            return Ok(());
        };
        match name {
            TYPE => self.kind = Some(literal),
            SUBTYPE => self.subtype = Some((meta.path, literal)),
            ACTION_ID => self.action_id = Some((meta.path, literal)),
            _ => self.callback_id = Some((meta.path, literal)),
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
                errors.push(missing_type(self.source, &origin));
            }
            return None;
        };
        Some(RouteArgs {
            source: self.source,
            action_id: self.action_id,
            callback_id: self.callback_id,
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
fn missing_type(source: Source, origin: &TokenStream) -> syn::Error {
    let message = match source {
        Source::Event => {
            "missing event type: write #[rtm_event(type = \"team_join\")], or `type = \"*\"` for every event"
        }
        Source::SlashCommand => "missing command: write #[slash_command(\"/deploy\")]",
        Source::Interaction => {
            "missing interaction type: write #[interaction(type = \"block_actions\")]; the types are `block_actions`, `block_suggestion`, `view_submission`, `view_closed`, `shortcut` and `message_action`"
        }
    };
    if origin.is_empty() {
        syn::Error::new(Span::call_site(), message)
    } else {
        syn::Error::new_spanned(origin, message)
    }
}
