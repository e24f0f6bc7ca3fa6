//! What a redirect hop carries on: the method, the body and which of the
//! tool's headers. See [`Request::follow_redirects`](super::Request::follow_redirects)
//! for the rules as the tool's author reads them.

use ::http::header::{
    ACCEPT, ACCEPT_ENCODING, ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LANGUAGE,
    CONTENT_LENGTH, CONTENT_TYPE, RANGE, USER_AGENT,
};
use ::http::{HeaderName, HeaderValue, Method, StatusCode};

use super::Url;

/// The statuses [`Request::send`](super::Request::send) follows (with a
/// `location`).
pub(super) const FOLLOWED: [StatusCode; 5] = [
    StatusCode::MOVED_PERMANENTLY,
    StatusCode::FOUND,
    StatusCode::SEE_OTHER,
    StatusCode::TEMPORARY_REDIRECT,
    StatusCode::PERMANENT_REDIRECT,
];

/// The only headers the tool set that a redirect carries to another origin
/// (scheme, host or port): they describe what the tool wants back, never
/// who it is. Anything else (`authorization`, `cookie`, and custom
/// credentials such as `x-api-key` or `private-token` alike) stays with the
/// origin the tool addressed it to.
const CROSS_ORIGIN_SAFE: [HeaderName; 6] = [
    ACCEPT,
    ACCEPT_ENCODING,
    ACCEPT_LANGUAGE,
    CACHE_CONTROL,
    RANGE,
    USER_AGENT,
];

/// Headers that describe the request body: carried to another origin only
/// when the hop repeats the body (a 307 or 308, or a 301 or 302 answering
/// anything but a `POST`).
const BODY_HEADERS: [HeaderName; 4] = [
    CONTENT_TYPE,
    CONTENT_LENGTH,
    CONTENT_ENCODING,
    CONTENT_LANGUAGE,
];

/// The headers removed when a hop turns the request into a body-less `GET`.
const DROPPED_WITH_BODY: [HeaderName; 3] = [CONTENT_TYPE, CONTENT_LENGTH, CONTENT_ENCODING];

/// How a redirect with `status` from `from` to `to` changes a request made
/// with `method`: returns the next hop's method and whether the body is
/// repeated, and removes from `headers` what must not go on.
pub(super) fn redirect_hop(
    status: StatusCode,
    method: &Method,
    from: &Url,
    to: &Url,
    headers: &mut Vec<(HeaderName, HeaderValue)>,
) -> (Method, bool) {
    let (method, keep_body) = if (status == StatusCode::SEE_OTHER && method != Method::HEAD)
        || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
            && method == Method::POST)
    {
        headers.retain(|(name, _)| !DROPPED_WITH_BODY.contains(name));
        (Method::GET, false)
    } else {
        (method.clone(), true)
    };
    if to.origin() != from.origin() {
        headers.retain(|(name, _)| {
            CROSS_ORIGIN_SAFE.contains(name) || (keep_body && BODY_HEADERS.contains(name))
        });
    }
    (method, keep_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// The hop as the tests write it: a status number and a method by value.
    fn redirect_hop(
        status: u16,
        method: Method,
        from: &Url,
        to: &Url,
        headers: &mut Vec<(HeaderName, HeaderValue)>,
    ) -> (Method, bool) {
        let status = StatusCode::from_u16(status).expect("a valid status");
        super::redirect_hop(status, &method, from, to, headers)
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> Vec<(HeaderName, HeaderValue)> {
        pairs
            .iter()
            .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
            .collect()
    }

    fn names(headers: &[(HeaderName, HeaderValue)]) -> Vec<&str> {
        headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Everything a tool might set, credentials of its own naming included.
    const SET: [(&str, &str); 12] = [
        ("accept", "application/json"),
        ("accept-language", "en"),
        ("user-agent", "tool/1"),
        ("authorization", "Bearer t"),
        ("proxy-authorization", "Basic p"),
        ("cookie", "session=s"),
        ("x-api-key", "sk-1"),
        ("x-auth-token", "tok"),
        ("private-token", "glpat"),
        ("referer", "https://a.example/?token=x"),
        ("content-type", "application/json"),
        ("content-length", "2"),
    ];

    #[test]
    fn same_origin_redirects_keep_every_header() {
        let from = url("https://a.example/v1/old");
        for (status, to) in [
            (302, "/v1/new"),
            (307, "https://A.example:443/v2"),
            (308, "?page=2"),
        ] {
            let to = from.join(to).unwrap();
            let mut h = headers(&SET);
            assert_eq!(
                redirect_hop(status, Method::GET, &from, &to, &mut h),
                (Method::GET, true)
            );
            assert_eq!(h, headers(&SET), "{status} {to}");
        }
    }

    #[test]
    fn cross_origin_redirects_keep_only_safe_headers() {
        let from = url("https://a.example/v1");
        // Another host, another scheme, another port: each is another origin.
        for to in [
            "https://b.example/v1",
            "http://a.example/v1",
            "https://a.example:8443/v1",
            "https://sub.a.example/v1",
        ] {
            let to = url(to);
            // The method and body go on: so do the headers describing the body.
            for status in [307, 308] {
                let mut h = headers(&SET);
                assert_eq!(
                    redirect_hop(status, Method::PUT, &from, &to, &mut h),
                    (Method::PUT, true)
                );
                assert_eq!(
                    names(&h),
                    [
                        "accept",
                        "accept-language",
                        "user-agent",
                        "content-type",
                        "content-length"
                    ],
                    "{status} {to}"
                );
            }
            // A POST turned into a GET loses its body and what describes it.
            for status in [301, 302, 303] {
                let mut h = headers(&SET);
                assert_eq!(
                    redirect_hop(status, Method::POST, &from, &to, &mut h),
                    (Method::GET, false)
                );
                assert_eq!(
                    names(&h),
                    ["accept", "accept-language", "user-agent"],
                    "{status} {to}"
                );
            }
        }
    }

    #[test]
    fn redirect_methods_and_bodies() {
        let from = url("https://a.example/");
        let to = url("https://a.example/next");
        let hop = |status, method| {
            let mut h = headers(&[("content-type", "text/plain"), ("x-api-key", "k")]);
            let next = redirect_hop(status, method, &from, &to, &mut h);
            (next, names(&h).join(","))
        };
        let body_dropped = "x-api-key".to_owned();
        let body_kept = "content-type,x-api-key".to_owned();
        assert_eq!(
            hop(303, Method::PUT),
            ((Method::GET, false), body_dropped.clone())
        );
        assert_eq!(
            hop(303, Method::HEAD),
            ((Method::HEAD, true), body_kept.clone())
        );
        assert_eq!(
            hop(301, Method::POST),
            ((Method::GET, false), body_dropped.clone())
        );
        assert_eq!(hop(302, Method::POST), ((Method::GET, false), body_dropped));
        assert_eq!(
            hop(302, Method::PUT),
            ((Method::PUT, true), body_kept.clone())
        );
        assert_eq!(
            hop(307, Method::POST),
            ((Method::POST, true), body_kept.clone())
        );
        assert_eq!(hop(308, Method::PATCH), ((Method::PATCH, true), body_kept));
    }
}
