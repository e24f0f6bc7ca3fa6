//! The URLs this client sends: parsed and joined by the `url` crate, with
//! the few rules of our own that make "the URL sent is the URL written".

use std::borrow::Cow;
use std::fmt;

use ::url::{Host, ParseError, Position};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::Error;

/// Every byte but the unreserved characters of RFC 3986 (`A-Z a-z 0-9 - . _ ~`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An absolute `http` or `https` URL, as this client sends it.
///
/// Parsing and joining are the [`url`](https://docs.rs/url) crate's (the
/// WHATWG URL standard): host names are lowercased, IP addresses written in
/// their usual form, default ports dropped, dot segments resolved, and
/// characters that may not appear in a path or query (spaces, non-ASCII…)
/// percent-encoded; existing `%XX` escapes are kept. On top of that this
/// client refuses what it would otherwise repair or send silently: schemes
/// other than `http` and `https`, user names and passwords, port 0, control
/// characters, host names that are not ASCII (write international names in
/// punycode) or are not made of letters, digits, `-` and `_`. A `%` that
/// starts no escape is sent as `%25`; a fragment is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url(::url::Url);

impl Url {
    /// Parses an absolute URL.
    pub fn parse(input: &str) -> Result<Url, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: input.to_owned(),
            reason: reason.to_owned(),
        };
        let text = precheck(input.trim()).map_err(invalid)?;
        let url = ::url::Url::parse(&text).map_err(|e| invalid(&reason(e)))?;
        Url::checked(url).map_err(invalid)
    }

    /// Resolves a redirect's `location` (absolute, scheme-relative,
    /// absolute-path or relative) against this URL.
    pub fn join(&self, location: &str) -> Result<Url, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: location.to_owned(),
            reason: reason.to_owned(),
        };
        let text = precheck(location.trim()).map_err(invalid)?;
        let url = self.0.join(&text).map_err(|e| invalid(&reason(e)))?;
        Url::checked(url).map_err(invalid)
    }

    /// The rules of ours that the `url` crate does not apply.
    fn checked(mut url: ::url::Url) -> Result<Url, &'static str> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err("only http and https URLs are supported");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("user names and passwords in URLs are not supported");
        }
        if url.port() == Some(0) {
            return Err(BAD_PORT);
        }
        match url.host() {
            None => return Err("it has no host"),
            Some(Host::Domain(name)) => {
                let valid_label = |label: &str| {
                    !label.is_empty()
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                };
                if !name.split('.').all(valid_label) {
                    return Err("the host name is malformed");
                }
            }
            Some(Host::Ipv4(_) | Host::Ipv6(_)) => {}
        }
        url.set_fragment(None);
        Ok(Url(url))
    }

    /// `"https"` or `"http"`.
    pub fn scheme(&self) -> &str {
        self.0.scheme()
    }

    /// Whether the scheme is `https`.
    pub(super) fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }

    /// The host: a lowercase name, an IPv4 address, or an IPv6 address in
    /// brackets.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// The port, or `None` when it is the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.0.port()
    }

    /// The port, with the scheme's default filled in.
    pub fn port_or_default(&self) -> u16 {
        self.0
            .port_or_known_default()
            .unwrap_or(if self.is_https() { 443 } else { 80 })
    }

    /// The percent-encoded path, starting with `/`.
    pub fn path(&self) -> &str {
        self.0.path()
    }

    /// The percent-encoded query, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.0.query()
    }

    /// `scheme://host[:port]`, the form `allowed_host` uses.
    pub fn origin(&self) -> String {
        self.0.origin().ascii_serialization()
    }

    /// The whole URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The underlying [`url::Url`](https://docs.rs/url), for everything else.
    pub fn as_url(&self) -> &::url::Url {
        &self.0
    }

    /// Appends `key=value` to the query, both percent-encoded with
    /// [`encode_component`] (a space is `%20`, never `+`).
    pub fn append_query(&mut self, key: &str, value: &str) {
        let pair = format!("{}={}", encode_component(key), encode_component(value));
        let query = match self.0.query() {
            Some(query) if !query.is_empty() => format!("{query}&{pair}"),
            _ => pair,
        };
        self.0.set_query(Some(&query));
    }

    /// `host[:port]`.
    pub(super) fn authority(&self) -> String {
        match self.port() {
            Some(port) => format!("{}:{port}", self.host()),
            None => self.host().to_owned(),
        }
    }

    /// `path[?query]`.
    pub(super) fn path_with_query(&self) -> &str {
        &self.0[Position::BeforePath..Position::AfterQuery]
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

const BAD_PORT: &str = "the port is not a number from 1 to 65535";

/// What the `url` crate would repair silently and we refuse (control
/// characters, which it strips; an empty or non-ASCII authority, which it
/// skips or converts to punycode), and a `%` that starts no escape, which
/// it would send as it is: here it becomes `%25`.
fn precheck(text: &str) -> Result<Cow<'_, str>, &'static str> {
    if text.chars().any(|c| c.is_ascii_control()) {
        return Err("it contains control characters");
    }
    let scheme = |s: &str| {
        let mut bytes = s.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    };
    // Only an absolute URL's own authority: `://` in a relative location's
    // query (`/go?to=https://…`) is not one.
    if let Some((_, rest)) = text.split_once("://").filter(|(s, _)| scheme(s)) {
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if authority.is_empty() {
            return Err("it has no host");
        }
        if !authority.is_ascii() {
            return Err("international host names must be written in punycode (xn--…)");
        }
    }
    let bytes = text.as_bytes();
    let stray = |i: usize| {
        bytes[i] == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    };
    if !(0..bytes.len()).any(stray) {
        return Ok(Cow::Borrowed(text));
    }
    let mut escaped = String::with_capacity(text.len() + 2);
    for (i, c) in text.char_indices() {
        if stray(i) {
            escaped.push_str("%25");
        } else {
            escaped.push(c);
        }
    }
    Ok(Cow::Owned(escaped))
}

/// Our wording of the `url` crate's parse errors.
fn reason(e: ParseError) -> Cow<'static, str> {
    Cow::Borrowed(match e {
        ParseError::RelativeUrlWithoutBase | ParseError::RelativeUrlWithCannotBeABaseBase => {
            "it is not an absolute http:// or https:// URL"
        }
        ParseError::EmptyHost => "it has no host",
        ParseError::InvalidPort => BAD_PORT,
        ParseError::InvalidIpv4Address => "the IPv4 address is malformed",
        ParseError::InvalidIpv6Address => {
            "the IPv6 address is malformed: write it in brackets, `[…]`, with nothing \
             after the `]` but a port"
        }
        ParseError::IdnaError | ParseError::InvalidDomainCharacter => "the host name is malformed",
        e => return Cow::Owned(e.to_string()),
    })
}

/// Percent-encodes everything but the unreserved characters `A-Z a-z 0-9
/// - . _ ~`, so that `s` can stand as one path segment or one query value:
/// a space becomes `%20`, `/` becomes `%2F`, `@` becomes `%40` and `%`
/// itself becomes `%25`.
///
/// ```
/// use warden_sdk::http::encode_component;
///
/// let calendar = "team@group.calendar.google.com";
/// let url = format!("https://www.googleapis.com/calendar/v3/calendars/{}/events",
///     encode_component(calendar));
/// assert!(url.ends_with("/calendars/team%40group.calendar.google.com/events"));
/// ```
///
/// [`Request::query`](super::Request::query) encodes its key and value this
/// way already.
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn invalid(s: &str) -> String {
        match Url::parse(s) {
            Err(Error::InvalidUrl { reason, .. }) => reason,
            other => panic!("{s} parsed: {other:?}"),
        }
    }

    #[test]
    fn parses_urls() {
        let u = url("https://API.Example.com/v1/things?q=x#frag");
        assert_eq!(
            (u.scheme(), u.host(), u.port(), u.path(), u.query()),
            ("https", "api.example.com", None, "/v1/things", Some("q=x"))
        );
        assert_eq!(u.origin(), "https://api.example.com");
        assert_eq!(u.to_string(), "https://api.example.com/v1/things?q=x");

        let u = url("http://127.0.0.1:8080");
        assert_eq!(
            (u.host(), u.port(), u.path()),
            ("127.0.0.1", Some(8080), "/")
        );
        assert_eq!(u.origin(), "http://127.0.0.1:8080");

        let u = url("http://[::1]:9000/a?b");
        assert_eq!((u.host(), u.port_or_default()), ("[::1]", 9000));
        assert_eq!(u.to_string(), "http://[::1]:9000/a?b");
        assert_eq!(url("https://[2001:DB8::1]/").host(), "[2001:db8::1]");

        // Default ports are dropped, an empty port means the default.
        assert_eq!(url("https://a.example:443/").port(), None);
        assert_eq!(url("http://a.example:/").port(), None);
        assert_eq!(url("http://a.example:443/").port(), Some(443));
        assert_eq!(url("https://a.example?x=1").path(), "/");
    }

    #[test]
    fn encodes_what_must_be_encoded() {
        let u = url("https://a.example/a b/ü?x=a b&y=%2F&z=100%");
        assert_eq!(u.path(), "/a%20b/%C3%BC");
        assert_eq!(u.query(), Some("x=a%20b&y=%2F&z=100%25"));

        let mut u = url("https://a.example/p");
        u.append_query("q", "blue shoes & socks");
        u.append_query("email", "a+b@example.com");
        assert_eq!(
            u.query(),
            Some("q=blue%20shoes%20%26%20socks&email=a%2Bb%40example.com")
        );
        let mut u = url("https://a.example/p?");
        u.append_query("k", "é");
        assert_eq!(u.query(), Some("k=%C3%A9"));
    }

    #[test]
    fn refuses_bad_urls() {
        assert!(invalid("ftp://a.example/").contains("http and https"));
        assert!(invalid("a.example/x").contains("absolute"));
        assert!(invalid("https://user:pw@a.example/").contains("passwords"));
        assert!(invalid("https:///x").contains("no host"));
        assert!(invalid("https://a.example:99999/").contains("port"));
        assert!(invalid("https://a.example:0/").contains("port"));
        assert!(invalid("https://a.example:8x/").contains("port"));
        assert!(invalid("https://bücher.example/").contains("punycode"));
        assert!(invalid("https://a..example/").contains("malformed"));
        assert!(invalid("https://[::1/").contains("]"));
        assert!(invalid("https://[zz::1]/").contains("IPv6"));
        assert!(invalid("https://[::1]x/").contains("after"));
        assert!(invalid("https://a.example/a\nb").contains("control"));
    }

    #[test]
    fn joins_redirect_locations() {
        let base = url("https://a.example:8443/dir/page?x=1");
        let join = |l: &str| base.join(l).unwrap().to_string();
        assert_eq!(join("http://b.example/z"), "http://b.example/z");
        assert_eq!(join("//c.example/y"), "https://c.example/y");
        assert_eq!(join("/root?q=2"), "https://a.example:8443/root?q=2");
        assert_eq!(join("other"), "https://a.example:8443/dir/other");
        assert_eq!(join("../up/./x"), "https://a.example:8443/up/x");
        assert_eq!(
            join("?only=query"),
            "https://a.example:8443/dir/page?only=query"
        );
        assert_eq!(join(""), "https://a.example:8443/dir/page?x=1");
        assert_eq!(join("sub/"), "https://a.example:8443/dir/sub/");
        assert!(base.join("ftp://x.example/").is_err());
        assert_eq!(
            join("/go?to=https://bücher.example/"),
            "https://a.example:8443/go?to=https://b%C3%BCcher.example/"
        );
    }
}
