//! The rules: well-formed event types, no route given twice, and a signature the dispatcher
//! can call. Every broken rule becomes a spanned error; all of them are reported together.

use quote::ToTokens;
use syn::{FnArg, LitStr, Pat, Signature, Type};

use crate::{
    args::{RouteArgs, Source},
    catalog,
};

/// Collects errors so that one compile shows every mistake (serde's `Ctxt`).
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// The errors combined into one, if there were any.
    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.combined.map_or(Ok(()), Err)
    }
}

/// The catch-all event type.
pub(crate) const ANY: &str = "*";

/// Checks each route's strings, `subtype` with `"*"`, and routes given twice.
pub(crate) fn routes(routes: &[RouteArgs], errors: &mut Errors) {
    for (index, route) in routes.iter().enumerate() {
        match route.source {
            Source::Event => event_route(route, errors),
            Source::SlashCommand => command(&route.kind, errors),
            Source::Interaction => interaction(route, errors),
        }
        if !route.partial
            && routes[..index]
                .iter()
                .filter(|other| !other.partial)
                .any(|other| same(other, route))
        {
            errors.push(syn::Error::new_spanned(
                &route.origin,
                format_args!("duplicate route `{}`: this function is already registered for it; remove one of the attributes", shown(route)),
            ));
        }
    }
}

fn value(key: Option<&(syn::Path, LitStr)>) -> Option<String> {
    key.map(|(_, literal)| literal.value())
}

/// Whether two attributes name the same route.
fn same(a: &RouteArgs, b: &RouteArgs) -> bool {
    a.source == b.source
        && a.kind.value() == b.kind.value()
        && value(a.subtype.as_ref()) == value(b.subtype.as_ref())
        && value(a.action_id.as_ref()) == value(b.action_id.as_ref())
        && value(a.callback_id.as_ref()) == value(b.callback_id.as_ref())
}

/// A route as the user wrote it, for the duplicate error.
fn shown(route: &RouteArgs) -> String {
    let kind = route.kind.value();
    if route.source == Source::SlashCommand {
        return format!("#[slash_command(\"{kind}\")]");
    }
    let mut shown = format!("type = \"{kind}\"");
    for (key, literal) in [
        ("subtype", &route.subtype),
        ("action_id", &route.action_id),
        ("callback_id", &route.callback_id),
    ] {
        if let Some((_, literal)) = literal {
            shown.push_str(&format!(", {key} = \"{}\"", literal.value()));
        }
    }
    shown
}

/// Slack's rules for a command name: a `/`, then one lowercase word of at most 32 characters.
fn command(literal: &LitStr, errors: &mut Errors) {
    let value = literal.value();
    let name = value.strip_prefix('/');
    let message = match name {
        _ if value.is_empty() => {
            "empty command: write the command with its slash, e.g. #[slash_command(\"/deploy\")]".to_owned()
        }
        None => format!("slash commands start with `/`: write #[slash_command(\"/{value}\")]"),
        Some("") => {
            "a slash command needs a name after the `/`, e.g. #[slash_command(\"/deploy\")]".to_owned()
        }
        Some(name)
            if name
                .chars()
                .any(|c| c.is_whitespace() || c.is_uppercase() || c == '/') =>
        {
            format!(
                "invalid slash command `{value}`: Slack command names are one lowercase word without spaces or further `/`, e.g. `/deploy` or `/deploy-status`"
            )
        }
        Some(name) if name.chars().count() > 32 => {
            format!("slash command `{value}` is too long: Slack allows at most 32 characters after the `/`")
        }
        Some(_) => return,
    };
    errors.push(syn::Error::new_spanned(literal, message));
}

/// A known interaction type, and `action_id`/`callback_id` only where the payload has them.
fn interaction(route: &RouteArgs, errors: &mut Errors) {
    let kind = route.kind.value();
    if !catalog::INTERACTION_TYPES.contains(&kind.as_str()) {
        let hint = match catalog::closest(&kind, catalog::INTERACTION_TYPES) {
            Some(close) => format!("did you mean `type = \"{close}\"`? "),
            None => String::new(),
        };
        errors.push(syn::Error::new_spanned(
            &route.kind,
            format_args!(
                "unknown interaction type `{kind}`: {hint}The types are `block_actions`, `block_suggestion`, `view_submission`, `view_closed`, `shortcut` and `message_action`"
            ),
        ));
        return;
    }
    if let Some((key, literal)) = &route.action_id {
        if !catalog::WITH_ACTION_ID.contains(&kind.as_str()) {
            errors.push(syn::Error::new_spanned(
                key,
                format_args!("`action_id` only applies to `type = \"block_actions\"` and `type = \"block_suggestion\"`: narrow a `{kind}` route with `callback_id` instead"),
            ));
        } else if literal.value().is_empty() {
            errors.push(syn::Error::new_spanned(
                literal,
                "empty `action_id`: write the element's action id, e.g. `action_id = \"approve\"`",
            ));
        }
    }
    if let Some((key, literal)) = &route.callback_id {
        if !catalog::WITH_CALLBACK_ID.contains(&kind.as_str()) {
            errors.push(syn::Error::new_spanned(
                key,
                format_args!("`callback_id` only applies to `view_submission`, `view_closed`, `shortcut` and `message_action`: narrow a `{kind}` route with `action_id` instead"),
            ));
        } else if literal.value().is_empty() {
            errors.push(syn::Error::new_spanned(
                literal,
                "empty `callback_id`: write the view's or shortcut's callback id, e.g. `callback_id = \"new_ticket\"`",
            ));
        }
    }
}

/// The checks of an `#[rtm_event]` route (duplicates are checked for every kind).
fn event_route(route: &RouteArgs, errors: &mut Errors) {
    let kind = route.kind.value();
    {
        if kind != ANY && name(&route.kind, "type", "team_join", errors) && !route.unchecked {
            known(&route.kind, errors);
        }
        if let Some((key, subtype)) = &route.subtype {
            if kind == ANY {
                errors.push(syn::Error::new_spanned(
                    key,
                    "`subtype` cannot be combined with `type = \"*\"`: name the event type it belongs to, e.g. `type = \"message\", subtype = \"bot_message\"`",
                ));
            } else {
                let _ = name(subtype, "subtype", "bot_message", errors);
            }
        }
        if let Some(key) = &route.own_messages
            && kind != "message"
        {
            errors.push(syn::Error::new_spanned(
                key,
                "`own_messages` only applies to `type = \"message\"`: other routes already get every event, the bot's own included",
            ));
        }
    }
}

/// A type the catalog knows, unless the route says `unchecked`.
fn known(literal: &LitStr, errors: &mut Errors) {
    let value = literal.value();
    if catalog::is_known(&value) {
        return;
    }
    let hint = match catalog::suggestion(&value) {
        Some(close) => format!("did you mean `type = \"{close}\"`? "),
        None => String::new(),
    };
    errors.push(syn::Error::new_spanned(
        literal,
        format_args!(
            "unknown event type `{value}`: {hint}If Slack sends `{value}` and the catalog lacks it, say so with `unchecked`: #[rtm_event(type = \"{value}\", unchecked)]"
        ),
    ));
}

/// A Slack event type or subtype: lowercase snake_case such as `team_join`. Whether it is.
fn name(literal: &LitStr, key: &str, example: &str, errors: &mut Errors) -> bool {
    let value = literal.value();
    let well_formed = value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if value.is_empty() {
        errors.push(syn::Error::new_spanned(
            literal,
            format_args!("empty event {key}: write the Slack event {key}, e.g. `{key} = \"{example}\"`"),
        ));
    } else if !well_formed {
        let hint = if key == "type" {
            ", or `\"*\"` for every event"
        } else {
            ""
        };
        errors.push(syn::Error::new_spanned(
            literal,
            format_args!(
                "invalid event {key} `{value}`: Slack event {key}s are lowercase snake_case, e.g. `{key} = \"{example}\"`{hint}"
            ),
        ));
    }
    !value.is_empty() && well_formed
}

/// The most arguments a handler takes: up to five `Context`/`State` arguments, then the event.
pub(crate) const MAX_ARGUMENTS: usize = 6;

/// What the dispatcher can call: a non-generic `async fn` without `self`, taking the event
/// last, after up to five `Context`/`State` arguments, each bound to a plain identifier (or
/// a tuple-struct pattern such as `State(db)`).
pub(crate) fn signature(sig: &Signature, errors: &mut Errors) {
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            "handlers must be `async fn`s: write `async fn` here",
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "handlers cannot be generic: remove the generic parameters and use concrete types, e.g. `join: TeamJoin`",
        ));
    }
    let mut arguments = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                receiver,
                "handlers cannot take `self`: make the handler a free `async fn` outside the `impl` block",
            )),
            FnArg::Typed(argument) => arguments.push(argument),
        }
    }
    for argument in &arguments {
        match &*argument.pat {
            Pat::Ident(ident) if ident.subpat.is_none() => {}
            Pat::Wild(_) => {}
            Pat::TupleStruct(_) if is_named(&argument.ty, "State") => {}
            pattern => errors.push(syn::Error::new_spanned(
                pattern,
                "expected an identifier: name the argument, e.g. `join: TeamJoin`, and destructure it in the body",
            )),
        }
        if let Type::ImplTrait(impl_trait) = &*argument.ty {
            errors.push(syn::Error::new_spanned(
                impl_trait,
                "handlers cannot be generic: use a concrete type instead of `impl Trait`, e.g. `join: TeamJoin`",
            ));
        }
    }
    let has_receiver = arguments.len() < sig.inputs.len();
    match arguments.len() {
        0 if !has_receiver => errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            "a handler takes the event as an argument: `async fn greet(join: TeamJoin)` or `async fn greet(ctx: Context, join: TeamJoin)`",
        )),
        0..=MAX_ARGUMENTS => {}
        _ => {
            let extra: proc_macro2::TokenStream = arguments[MAX_ARGUMENTS..]
                .iter()
                .map(|argument| argument.to_token_stream())
                .collect();
            errors.push(syn::Error::new_spanned(
                extra,
                "too many arguments: a handler takes up to five `Context`/`State` arguments, then the event: `async fn greet(ctx: Context, State(db): State<Db>, join: TeamJoin)`",
            ));
        }
    }
    if let Some(last) = arguments.last()
        && (is_named(&last.ty, "Context") || is_named(&last.ty, "State"))
    {
        errors.push(syn::Error::new_spanned(
            &last.ty,
            "the last argument must be the event, not `Context` or `State`: write `async fn greet(ctx: Context, join: TeamJoin)`, or take the raw `event: Event`",
        ));
    }
}

/// Whether `ty` is a path whose last segment is `name` (`Context`, `rtm_core::Context`, `State<Db>`).
fn is_named(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == name),
        _ => false,
    }
}
