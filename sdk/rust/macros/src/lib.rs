//! The `#[tool]` attribute behind `warden-sdk`. Use it through `warden_sdk::tool`.

mod names;

use names::{check_name, qualified_name_problem};
use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{
    Attribute, Error, Expr, ExprArray, FnArg, ImplItem, ImplItemFn, ItemImpl, Lit, LitStr, Path,
    Result, Type, meta::ParseNestedMeta,
};

/// Turns an `impl` block into a Warden tool.
///
/// Tool-level arguments (all optional but `name`):
///
/// - `name = "my_tool"`: the tool's name, `^[a-z][a-z0-9_]{0,63}$`;
/// - `version = "1.2.0"`: defaults to the crate's version;
/// - `description = "…"`: defaults to the `impl` block's doc comment;
/// - `config = MyConfig`: a `Deserialize + JsonSchema` type for the tool's
///   configuration, defaults to `warden_sdk::NoConfig`;
/// - `secret(name = "api_key", description = "…", required)`: a secret the tool
///   reads with `Context::secret`, repeatable;
/// - `allowed_host = "https://api.example.com"`: a host the tool may call,
///   repeatable;
/// - `credential(secret = "token", header = "authorization", format = "Bearer {}",
///   hosts = ["https://api.example.com"])`: a secret the host injects into
///   outbound requests, repeatable;
/// - `oauth2(authorize_url = "…", token_url = "…", scopes = ["…"])`: the
///   host refreshes the OAuth2 access token. Requires a
///   `credential(secret = "access_token", …)` and declares the secrets the
///   refresh uses, unless the tool declares them itself: `access_token`,
///   `refresh_token`, `client_id`, `client_secret` (required) and
///   `access_token_expires_at` (optional).
///
/// Every associated function of the block becomes an LLM-callable function,
/// except `test` (the tool's self-check) and those marked `#[warden(skip)]`.
/// A function takes `&Context<Config>` and optionally one argument struct
/// (`Deserialize + JsonSchema`), and returns `Result<impl Serialize, ToolError>`.
/// Its doc comment is its description; `#[warden(name = "…")]` renames it.
/// Effect hints (what MCP clients see as annotations): `#[warden(read_only)]`
/// marks it as changing nothing; `idempotent`, that repeating it with the same
/// arguments has no further effect; `destructive`, that it may delete or
/// overwrite rather than only add; `closed_world`, that it reaches no outside
/// service or person (functions are open-world by default). Several go in
/// one attribute: `#[warden(idempotent, destructive)]`.
#[proc_macro_attribute]
pub fn tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    match expand(attr.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[derive(Default)]
struct ToolArgs {
    name: Option<LitStr>,
    version: Option<LitStr>,
    description: Option<LitStr>,
    config: Option<Path>,
    secrets: Vec<SecretArg>,
    allowed_hosts: Vec<LitStr>,
    credentials: Vec<CredentialArg>,
    oauth2: Option<OAuth2Arg>,
}

struct SecretArg {
    name: LitStr,
    description: Option<LitStr>,
    required: bool,
}

struct CredentialArg {
    secret: LitStr,
    header: LitStr,
    format: LitStr,
    hosts: Vec<LitStr>,
}

struct OAuth2Arg {
    span: proc_macro2::Span,
    authorize_url: LitStr,
    token_url: LitStr,
    scopes: Vec<LitStr>,
}

fn string_list(meta: &ParseNestedMeta<'_>) -> Result<Vec<LitStr>> {
    let array: ExprArray = meta.value()?.parse()?;
    array
        .elems
        .iter()
        .map(|e| match e {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok(s.clone()),
            other => Err(Error::new(other.span(), "expected a string literal")),
        })
        .collect()
}

fn required<T>(value: Option<T>, span: proc_macro2::Span, what: &str) -> Result<T> {
    value.ok_or_else(|| Error::new(span, format!("missing `{what} = ...`")))
}

fn parse_tool_args(attr: TokenStream2) -> Result<ToolArgs> {
    let mut args = ToolArgs::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            args.name = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("version") {
            args.version = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("description") {
            args.description = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("config") {
            args.config = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("allowed_host") {
            args.allowed_hosts.push(meta.value()?.parse()?);
        } else if meta.path.is_ident("secret") {
            let (mut name, mut description, mut required_flag) = (None, None, false);
            meta.parse_nested_meta(|m| {
                if m.path.is_ident("name") {
                    name = Some(m.value()?.parse()?);
                } else if m.path.is_ident("description") {
                    description = Some(m.value()?.parse()?);
                } else if m.path.is_ident("required") {
                    required_flag = if m.input.peek(syn::Token![=]) {
                        m.value()?.parse::<syn::LitBool>()?.value
                    } else {
                        true
                    };
                } else {
                    return Err(m.error("expected `name`, `description` or `required`"));
                }
                Ok(())
            })?;
            let name: LitStr = required(name, meta.path.span(), "name")?;
            check_name("secret", &name.value(), name.span())?;
            args.secrets.push(SecretArg {
                name,
                description,
                required: required_flag,
            });
        } else if meta.path.is_ident("credential") {
            let (mut secret, mut header, mut format, mut hosts) = (None, None, None, Vec::new());
            meta.parse_nested_meta(|m| {
                if m.path.is_ident("secret") {
                    secret = Some(m.value()?.parse()?);
                } else if m.path.is_ident("header") {
                    header = Some(m.value()?.parse()?);
                } else if m.path.is_ident("format") {
                    format = Some(m.value()?.parse()?);
                } else if m.path.is_ident("hosts") {
                    hosts = string_list(&m)?;
                } else {
                    return Err(m.error("expected `secret`, `header`, `format` or `hosts`"));
                }
                Ok(())
            })?;
            let span = meta.path.span();
            args.credentials.push(CredentialArg {
                secret: required(secret, span, "secret")?,
                header: required(header, span, "header")?,
                format: format.unwrap_or_else(|| LitStr::new("{}", span)),
                hosts,
            });
        } else if meta.path.is_ident("oauth2") {
            let (mut authorize_url, mut token_url, mut scopes) = (None, None, Vec::new());
            meta.parse_nested_meta(|m| {
                if m.path.is_ident("authorize_url") {
                    authorize_url = Some(m.value()?.parse()?);
                } else if m.path.is_ident("token_url") {
                    token_url = Some(m.value()?.parse()?);
                } else if m.path.is_ident("scopes") {
                    scopes = string_list(&m)?;
                } else {
                    return Err(m.error("expected `authorize_url`, `token_url` or `scopes`"));
                }
                Ok(())
            })?;
            let span = meta.path.span();
            args.oauth2 = Some(OAuth2Arg {
                span,
                authorize_url: required(authorize_url, span, "authorize_url")?,
                token_url: required(token_url, span, "token_url")?,
                scopes,
            });
        } else {
            return Err(meta.error(
                "expected one of `name`, `version`, `description`, `config`, `secret`, \
                 `allowed_host`, `credential`, `oauth2`",
            ));
        }
        Ok(())
    });
    parser.parse2(attr)?;
    if let Some(span) = args.oauth2.as_ref().map(|o| o.span) {
        add_oauth2_secrets(&mut args, span)?;
    }
    Ok(args)
}

/// The secrets the host's OAuth2 refresh reads: (name, description, required).
/// The host adds the access token to requests and never lets the tool read
/// any of them.
const OAUTH2_SECRETS: [(&str, &str, bool); 5] = [
    (
        "access_token",
        "OAuth2 access token. The host adds it to the tool's requests and \
         refreshes it when it expires or is refused; the tool never reads it.",
        true,
    ),
    (
        "refresh_token",
        "OAuth2 refresh token from the operator's grant (with offline access), \
         used by the host to obtain new access tokens.",
        true,
    ),
    (
        "client_id",
        "OAuth2 client ID of the app the grant was made for.",
        true,
    ),
    (
        "client_secret",
        "OAuth2 client secret of the app the grant was made for.",
        true,
    ),
    (
        "access_token_expires_at",
        "When the access token expires, as RFC 3339 (e.g. 2026-05-01T12:00:00Z) \
         or Unix seconds. Optional: without it the host refreshes when an \
         upstream refuses the token.",
        false,
    ),
];

/// With `oauth2(...)`: requires the access-token credential and declares the
/// OAuth2 secrets the tool did not declare itself.
fn add_oauth2_secrets(args: &mut ToolArgs, span: proc_macro2::Span) -> Result<()> {
    if !args
        .credentials
        .iter()
        .any(|c| c.secret.value() == "access_token")
    {
        return Err(Error::new(
            span,
            "a tool with `oauth2(...)` must say where the host puts the access token: add \
             `credential(secret = \"access_token\", header = \"authorization\", \
             format = \"Bearer {}\", hosts = [\"https://api.example.com\"])`",
        ));
    }
    for (name, description, required) in OAUTH2_SECRETS {
        if !args.secrets.iter().any(|s| s.name.value() == name) {
            args.secrets.push(SecretArg {
                name: LitStr::new(name, span),
                description: Some(LitStr::new(description, span)),
                required,
            });
        }
    }
    Ok(())
}

/// The text of `///` doc comments, with the conventional leading space removed.
fn doc_text(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| {
            line.strip_prefix(' ')
                .unwrap_or(&line)
                .trim_end()
                .to_owned()
        })
        .collect();
    lines.join("\n").trim().to_owned()
}

#[derive(Default)]
struct FunctionArgs {
    read_only: bool,
    idempotent: bool,
    destructive: bool,
    closed_world: bool,
    skip: bool,
    name: Option<LitStr>,
}

/// Reads and removes `#[warden(...)]` attributes from a function.
fn take_function_args(f: &mut ImplItemFn) -> Result<FunctionArgs> {
    let mut args = FunctionArgs::default();
    let mut keep = Vec::new();
    for attr in f.attrs.drain(..) {
        if !attr.path().is_ident("warden") {
            keep.push(attr);
            continue;
        }
        attr.parse_nested_meta(|m| {
            if m.path.is_ident("read_only") {
                args.read_only = true;
            } else if m.path.is_ident("idempotent") {
                args.idempotent = true;
            } else if m.path.is_ident("destructive") {
                args.destructive = true;
            } else if m.path.is_ident("closed_world") {
                args.closed_world = true;
            } else if m.path.is_ident("skip") {
                args.skip = true;
            } else if m.path.is_ident("name") {
                args.name = Some(m.value()?.parse()?);
            } else {
                return Err(m.error(
                    "expected `read_only`, `idempotent`, `destructive`, `closed_world`, `skip` \
                     or `name = \"...\"`",
                ));
            }
            Ok(())
        })?;
    }
    f.attrs = keep;
    Ok(args)
}

struct Function {
    ident: syn::Ident,
    name: String,
    description: String,
    read_only: bool,
    idempotent: bool,
    destructive: bool,
    open_world: bool,
    args: Option<Type>,
}

fn expand(attr: TokenStream2, item: TokenStream2) -> Result<TokenStream2> {
    let args = parse_tool_args(attr)?;
    let mut block: ItemImpl = syn::parse2(item)?;
    if block.trait_.is_some() || !block.generics.params.is_empty() {
        return Err(Error::new(
            block.span(),
            "#[tool] goes on a plain, non-generic `impl MyTool { ... }` block",
        ));
    }
    let self_ty = block.self_ty.clone();
    let name = required(args.name.clone(), proc_macro2::Span::call_site(), "name")?;
    check_name("tool", &name.value(), name.span())?;

    let mut functions = Vec::new();
    let mut has_test = false;
    for item in &mut block.items {
        let ImplItem::Fn(f) = item else { continue };
        let fargs = take_function_args(f)?;
        if fargs.skip {
            continue;
        }
        if f.sig.receiver().is_some() {
            return Err(Error::new(
                f.sig.span(),
                "tool functions take `ctx: &Context<Config>` and an argument struct, not `self` \
                 (mark helpers with #[warden(skip)])",
            ));
        }
        if f.sig.ident == "test" {
            if f.sig.inputs.len() != 1 {
                return Err(Error::new(
                    f.sig.span(),
                    "`test` takes exactly one parameter, `ctx: &Context<Config>`",
                ));
            }
            has_test = true;
            continue;
        }
        let arg_ty = match f.sig.inputs.len() {
            1 => None,
            2 => match &f.sig.inputs[1] {
                FnArg::Typed(t) => Some((*t.ty).clone()),
                FnArg::Receiver(r) => return Err(Error::new(r.span(), "unexpected `self`")),
            },
            _ => {
                return Err(Error::new(
                    f.sig.inputs.span(),
                    "a tool function takes `ctx: &Context<Config>` and at most one argument struct",
                ));
            }
        };
        let description = doc_text(&f.attrs);
        if description.is_empty() {
            return Err(Error::new(
                f.sig.ident.span(),
                "document this function with a `///` comment: it is the description the LLM \
                 reads to decide when and how to call it",
            ));
        }
        let (fname, fspan) = match &fargs.name {
            Some(n) => (n.value(), n.span()),
            None => (f.sig.ident.to_string(), f.sig.ident.span()),
        };
        check_name("function", &fname, fspan)?;
        if let Some(problem) = qualified_name_problem(&name.value(), &fname) {
            return Err(Error::new(fspan, problem));
        }
        functions.push(Function {
            ident: f.sig.ident.clone(),
            name: fname,
            description,
            read_only: fargs.read_only,
            idempotent: fargs.idempotent,
            destructive: fargs.destructive,
            open_world: !fargs.closed_world,
            args: arg_ty,
        });
    }

    let config: TokenStream2 = match &args.config {
        Some(path) => quote!(#path),
        None => quote!(::warden_sdk::NoConfig),
    };
    let version = match &args.version {
        Some(v) => quote!(#v),
        None => quote!(env!("CARGO_PKG_VERSION")),
    };
    let description = match &args.description {
        Some(d) => d.value(),
        None => doc_text(&block.attrs),
    };
    if description.is_empty() {
        return Err(Error::new(
            block.self_ty.span(),
            "describe the tool with a `///` comment on this impl block (or `description = \"...\"`)",
        ));
    }
    if functions.is_empty() {
        return Err(Error::new(
            block.self_ty.span(),
            "a tool needs at least one function in this impl block",
        ));
    }

    let secrets = args.secrets.iter().map(|s| {
        let n = &s.name;
        let d = s
            .description
            .as_ref()
            .map(LitStr::value)
            .unwrap_or_default();
        let r = s.required;
        quote!(__w::SecretSpec { name: #n.into(), description: #d.into(), required: #r })
    });
    let required_secrets = args.secrets.iter().filter(|s| s.required).map(|s| &s.name);
    let hosts = &args.allowed_hosts;
    let credentials = args.credentials.iter().map(|c| {
        let (s, h, f, hosts) = (&c.secret, &c.header, &c.format, &c.hosts);
        quote!(__w::Credential {
            secret: #s.into(), header: #h.into(), format: #f.into(),
            hosts: ::std::vec![#(#hosts.into()),*],
        })
    });
    let oauth = match &args.oauth2 {
        Some(o) => {
            let (a, t, scopes) = (&o.authorize_url, &o.token_url, &o.scopes);
            quote!(Some(__w::Oauth2 {
                authorize_url: #a.into(), token_url: #t.into(),
                scopes: ::std::vec![#(#scopes.into()),*],
            }))
        }
        None => quote!(None),
    };

    let specs = functions.iter().map(|f| {
        let (n, d, ro) = (&f.name, &f.description, f.read_only);
        let (idem, destr, open) = (f.idempotent, f.destructive, f.open_world);
        let schema = match &f.args {
            Some(ty) => quote!(__w::schema_json::<#ty>()),
            None => quote!(__w::schema_json::<::warden_sdk::NoArgs>()),
        };
        quote!(__w::FunctionSpec {
            name: #n.into(), description: #d.into(), parameters: #schema, read_only: #ro,
            idempotent: #idem, destructive: #destr, open_world: #open, output_schema: None,
        })
    });
    let arms = functions.iter().map(|f| {
        let (n, ident) = (&f.name, &f.ident);
        match &f.args {
            Some(_) => quote!(#n => __w::call(&ctx, &arguments, <#self_ty>::#ident)),
            None => quote!(#n => __w::call(&ctx, &arguments, |ctx, _: ::warden_sdk::NoArgs| <#self_ty>::#ident(ctx))),
        }
    });
    let test_body = if has_test {
        quote!(__w::finish(<#self_ty>::test(&ctx)))
    } else {
        quote!(__w::finish(__w::default_test(&ctx, &[#(#required_secrets),*])))
    };

    Ok(quote! {
        #block

        const _: () = {
            use ::warden_sdk::__private as __w;

            impl __w::Guest for #self_ty {
                fn metadata() -> __w::ToolMetadata {
                    __w::ToolMetadata {
                        name: #name.into(),
                        version: #version.into(),
                        description: #description.into(),
                        config_schema: __w::schema_json::<#config>(),
                        secrets: ::std::vec![#(#secrets),*],
                        allowed_hosts: ::std::vec![#(#hosts.into()),*],
                        credentials: ::std::vec![#(#credentials),*],
                        functions: ::std::vec![#(#specs),*],
                        oauth: #oauth,
                    }
                }

                fn invoke(
                    ctx: __w::CallContext,
                    function: ::std::string::String,
                    arguments: ::std::string::String,
                ) -> ::std::result::Result<__w::ToolResult, __w::WitToolError> {
                    let ctx = __w::context::<#config>(ctx)?;
                    match function.as_str() {
                        #(#arms,)*
                        other => Err(__w::WitToolError::InvalidArguments(
                            ::std::format!("unknown function `{other}`"),
                        )),
                    }
                }

                fn test(
                    ctx: __w::CallContext,
                ) -> ::std::result::Result<::std::string::String, __w::WitToolError> {
                    let ctx = __w::context::<#config>(ctx)?;
                    #test_body
                }
            }
        };

        ::warden_sdk::__private::bindings::__export_tool!(#self_ty with_types_in ::warden_sdk::__private::bindings);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_refuses_a_bad_function_name() {
        let err = expand(
            quote!(name = "echo"),
            quote! {
                /// Echo.
                impl Echo {
                    /// Says hi.
                    #[warden(name = "Say-Hi")]
                    fn hi(ctx: &Context) -> Result<Value, ToolError> { Ok(Value::Null) }
                }
            },
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`Say-Hi` is not a valid function name"),
            "{err}"
        );
        let err = expand(quote!(name = "Echo"), quote!(impl Echo {})).unwrap_err();
        assert!(
            err.to_string().contains("`Echo` is not a valid tool name"),
            "{err}"
        );
    }
}
