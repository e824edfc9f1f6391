//! [`VerifiedTokens`]: a bounded memo of the tokens a [`TokenCodec`] verified, so that a
//! client repeating its bearer token (as every client does, on every request) is not
//! base64-decoded, HMAC-verified and JSON-parsed again each time — about a tenth of the
//! CPU of an authenticated `GET` (`perf` of `GET /api/auth/me`, BENCHMARKS.md).
//!
//! # Security
//! - Decoding is a function of the token's text and of the keys, and the keys are fixed
//!   for the life of the process: an answer from memory is the answer verifying again
//!   would give. Only tokens the codec accepted are kept — a refused token is verified
//!   (and refused) every time — so nothing is accepted here that the codec did not.
//! - What the codec does not judge is judged on every request, remembered or not: `iss`,
//!   `aud`, `nbf` and `exp` by the token policy, the session and the user by the
//!   `authenticate` use case. Logout and revocation do not need to reach this memo.
//! - An entry is found only with the token's whole text: the map hashes it with a
//!   per-process random key and compares it in full.
//! - A token the codec refuses for its header (another `alg`, a `crit`, an unknown
//!   `kid`) differs in its text from every token it accepted, so it can never be found
//!   here: the header is part of the signed text the memo is keyed on.
//! - Bounded: at most `capacity` tokens; the cache evicts the least useful first. Forged
//!   tokens cannot fill it, since they are never stored.

use application::ports::{TokenCodec, TokenDecodeError};
use domain::Claims;
use quick_cache::sync::Cache;

/// A [`TokenCodec`] that remembers the claims of the tokens `inner` verified.
pub struct VerifiedTokens<C> {
    inner: C,
    verified: Cache<Box<str>, Claims>,
}

impl<C: TokenCodec> VerifiedTokens<C> {
    /// Remembers at most `capacity` (at least one) verified tokens of `inner`.
    pub fn new(inner: C, capacity: usize) -> Self {
        Self {
            inner,
            verified: Cache::new(capacity.max(1)),
        }
    }
}

impl<C: TokenCodec> TokenCodec for VerifiedTokens<C> {
    fn encode(&self, claims: &Claims) -> anyhow::Result<String> {
        self.inner.encode(claims)
    }

    fn decode(&self, token: &str) -> Result<Claims, TokenDecodeError> {
        if let Some(claims) = self.verified.get(token) {
            return Ok(claims);
        }
        let claims = self.inner.decode(token)?;
        self.verified.insert(token.into(), claims.clone());
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use application::ports::MockTokenCodec;

    use super::*;
    use crate::token::tests::claims;

    #[test]
    fn a_repeated_token_is_verified_once_and_answered_with_the_same_claims() {
        let expected = claims();
        let mut inner = MockTokenCodec::new();
        let returned = expected.clone();
        inner
            .expect_decode()
            .withf(|token| token == "a.b.c")
            .times(1)
            .returning(move |_| Ok(returned.clone()));
        let tokens = VerifiedTokens::new(inner, 16);
        for _ in 0..3 {
            assert_eq!(tokens.decode("a.b.c"), Ok(expected.clone()));
        }
    }

    #[test]
    fn a_refused_token_is_verified_again_every_time_and_refused_with_the_same_error() {
        let mut inner = MockTokenCodec::new();
        inner
            .expect_decode()
            .withf(|token| token == "forged")
            .times(3)
            .returning(|_| Err(TokenDecodeError::Invalid));
        let tokens = VerifiedTokens::new(inner, 16);
        for _ in 0..3 {
            assert_eq!(tokens.decode("forged"), Err(TokenDecodeError::Invalid));
        }
    }

    #[test]
    fn a_token_differing_by_one_character_is_verified_on_its_own() {
        let mut inner = MockTokenCodec::new();
        let first = claims();
        let returned = first.clone();
        inner
            .expect_decode()
            .withf(|token| token == "a.b.c")
            .times(1)
            .returning(move |_| Ok(returned.clone()));
        inner
            .expect_decode()
            .withf(|token| token == "a.b.C")
            .times(1)
            .returning(|_| Err(TokenDecodeError::Invalid));
        let tokens = VerifiedTokens::new(inner, 16);
        assert_eq!(tokens.decode("a.b.c"), Ok(first));
        assert_eq!(tokens.decode("a.b.C"), Err(TokenDecodeError::Invalid));
    }

    #[test]
    fn a_token_with_a_crit_header_is_refused_every_time_even_once_its_claims_were_accepted() {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use secrecy::{ExposeSecret as _, SecretString};

        let secret = SecretString::from("a-secret-that-is-long-enough-for-hs256".to_owned());
        let codec = crate::token::JwtTokenCodec::new(&secret, &[]);
        let kid = codec.current_key_id().to_owned();
        let tokens = VerifiedTokens::new(codec, 16);
        let c = claims();
        let genuine = tokens.encode(&c).expect("encode");
        assert_eq!(tokens.decode(&genuine), Ok(c.clone()));
        // The genuine payload under a header that adds `crit`, correctly signed.
        let payload = genuine.split('.').nth(1).expect("payload");
        let header =
            serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": kid, "crit": ["exp"]});
        let message = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(header.to_string()));
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(secret.expose_secret().as_bytes()),
            jsonwebtoken::Algorithm::HS256,
        )
        .expect("sign");
        let with_crit = format!("{message}.{signature}");
        for _ in 0..2 {
            assert_eq!(tokens.decode(&with_crit), Err(TokenDecodeError::Invalid));
        }
        assert_eq!(tokens.decode(&genuine), Ok(c));
    }

    #[test]
    fn the_memo_stays_within_its_capacity() {
        let mut inner = MockTokenCodec::new();
        inner.expect_decode().returning(|_| Ok(claims()));
        let tokens = VerifiedTokens::new(inner, 8);
        for n in 0..1_000 {
            tokens.decode(&format!("token-{n}")).expect("decodes");
        }
        assert!(tokens.verified.len() <= 8, "{}", tokens.verified.len());
    }

    #[test]
    fn encoding_is_the_inner_codecs() {
        let mut inner = MockTokenCodec::new();
        inner
            .expect_encode()
            .times(1)
            .returning(|_| Ok("signed".into()));
        let tokens = VerifiedTokens::new(inner, 16);
        assert_eq!(tokens.encode(&claims()).expect("encode"), "signed");
    }
}
