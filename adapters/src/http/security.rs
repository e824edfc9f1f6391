//! Bearer credentials (RFC 6750) at the edge: a request's `Authorization` headers read
//! into the token the `authenticate` use case judges. The HTTP syntax — how many
//! headers, how long, which scheme, which bytes — stops here; the core sees an
//! [`AccessToken`] or why there is none.

use application::{PresentedToken, UnreadableCredentials};
use domain::AccessToken;
use poem::http::{HeaderMap, HeaderValue, header};

/// The largest `Authorization` header accepted, in bytes; longer ones are refused
/// without being parsed.
pub const MAX_AUTHORIZATION_HEADER_BYTES: usize = 8 * 1024;

/// The bearer token a request's `Authorization` headers present; `None` when the request
/// has no such header at all (nothing for the core to judge or record).
///
/// More than one header is [`UnreadableCredentials`] without any of them being read:
/// which one a proxy in front acted on cannot be known.
pub fn presented_token(headers: &HeaderMap) -> Option<PresentedToken> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return Some(Err(UnreadableCredentials));
    }
    Some(bearer_token(first))
}

/// One `Authorization` header read as a bearer credential: the scheme is
/// case-insensitive and the spaces around the token are ignored; another scheme, or
/// `Bearer` with nothing after it, presents no token. A header over
/// [`MAX_AUTHORIZATION_HEADER_BYTES`] or not visible ASCII cannot be a bearer token.
fn bearer_token(value: &HeaderValue) -> PresentedToken {
    if value.len() > MAX_AUTHORIZATION_HEADER_BYTES {
        return Err(UnreadableCredentials);
    }
    let value = value.to_str().map_err(|_| UnreadableCredentials)?;
    let Some((scheme, rest)) = value.trim().split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim();
    Ok((!token.is_empty()).then(|| AccessToken::new(token.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "header.payload.signature";

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                header::AUTHORIZATION,
                HeaderValue::from_bytes(value).expect("a valid header value"),
            );
        }
        headers
    }

    fn token(values: &[&[u8]]) -> Option<PresentedToken> {
        presented_token(&headers(values))
    }

    fn bearer(token: &str) -> Option<PresentedToken> {
        Some(Ok(Some(AccessToken::new(token.to_owned()))))
    }

    #[test]
    fn a_request_without_an_authorization_header_presents_nothing_to_judge() {
        assert_eq!(token(&[]), None);
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_surrounding_spaces_are_ignored() {
        for header in [
            format!("Bearer {TOKEN}"),
            format!("bearer {TOKEN}"),
            format!("BEARER   {TOKEN}  "),
            format!("  Bearer {TOKEN}"),
        ] {
            assert_eq!(token(&[header.as_bytes()]), bearer(TOKEN), "{header:?}");
        }
    }

    #[test]
    fn the_token_is_everything_after_the_scheme_inner_spaces_included() {
        assert_eq!(
            token(&[b"Bearer   eyJ0eXAi.with-odd_chars~.and spaces "]),
            bearer("eyJ0eXAi.with-odd_chars~.and spaces")
        );
    }

    #[test]
    fn another_scheme_or_an_empty_bearer_presents_no_token() {
        for header in [
            "",
            "   ",
            "Basic amFuZTpzZWNyZXQ=",
            "Token abc",
            "Bearer",
            "Bearer    ",
            "BearerabcXYZ",
        ] {
            assert_eq!(token(&[header.as_bytes()]), Some(Ok(None)), "{header:?}");
        }
    }

    #[test]
    fn a_header_over_8_kib_is_unreadable_whatever_its_scheme() {
        for scheme in ["Bearer ", "Basic "] {
            let header = format!(
                "{scheme}{}",
                "a".repeat(MAX_AUTHORIZATION_HEADER_BYTES + 1 - scheme.len())
            );
            assert_eq!(header.len(), 8 * 1024 + 1);
            assert_eq!(
                token(&[header.as_bytes()]),
                Some(Err(UnreadableCredentials)),
                "{scheme:?}"
            );
        }
    }

    #[test]
    fn a_header_of_exactly_8_kib_is_not_refused_for_its_size() {
        let long = "a".repeat(MAX_AUTHORIZATION_HEADER_BYTES - "Bearer ".len());
        let header = format!("Bearer {long}");
        assert_eq!(header.len(), 8 * 1024);
        assert_eq!(token(&[header.as_bytes()]), bearer(&long));
    }

    #[test]
    fn a_header_that_is_not_visible_ascii_is_unreadable() {
        for header in [&b"Bearer \xc3\xa9t\xc3\xa9"[..], b"Basic \xff"] {
            assert_eq!(
                token(&[header]),
                Some(Err(UnreadableCredentials)),
                "{header:?}"
            );
        }
    }

    #[test]
    fn repeated_headers_are_unreadable_whichever_they_are() {
        let valid = format!("Bearer {TOKEN}");
        for second in ["Bearer junk", valid.as_str(), "Basic xyz"] {
            assert_eq!(
                token(&[valid.as_bytes(), second.as_bytes()]),
                Some(Err(UnreadableCredentials)),
                "{second:?}"
            );
        }
    }
}
