//! [`TokenCodec`] with jsonwebtoken: HS256 JWS, pinned algorithm, `typ` and `kid`
//! required, previous keys accepted for verification during rotation.
//!
//! # Security
//! - The algorithm is pinned to HS256 before anything else is looked at: `none`, the
//!   other HMACs and asymmetric algorithms are refused, so a public value can never be
//!   used as an HMAC key.
//! - The key is chosen by `kid` among keys we configured, never taken from the token:
//!   `jku`, `jwk`, `x5u` and `x5c` are ignored.
//! - A `crit` header is refused whatever it lists (RFC 7515 §4.1.11: a recipient must
//!   reject a token naming an extension it does not understand, and gatehouse
//!   understands none). jsonwebtoken 11 reads `crit` but never enforces it, and it is
//!   not used to decode here anyway.
//! - The `kid` is a fingerprint of the key (a truncated SHA-256), never the key.
//! - Keys are parsed once at start-up, not per request.
//! - Time claims are only read here; `iss`, `aud`, `nbf` and `exp` are judged by the
//!   domain's `TokenPolicy` so that the order of checks is the contract's.

use std::borrow::Cow;
use std::collections::HashMap;

use application::ports::{TokenCodec, TokenDecodeError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{Claims, SessionId, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

mod verified;

pub use verified::VerifiedTokens;

/// The `typ` header gatehouse writes (RFC 9068).
pub const TOKEN_TYPE: &str = "at+jwt";

/// HS256 JWTs signed with `JWT_SECRET`, verified with it or any `JWT_PREVIOUS_SECRETS`.
pub struct JwtTokenCodec {
    kid: String,
    encoding_key: EncodingKey,
    decoding_keys: HashMap<String, DecodingKey>,
}

/// The `kid` of a secret: the first 16 characters of its SHA-256 in URL-safe base64.
pub fn key_id(secret: &SecretString) -> String {
    let digest = Sha256::digest(secret.expose_secret().as_bytes());
    let mut kid = URL_SAFE_NO_PAD.encode(digest);
    kid.truncate(16);
    kid
}

impl JwtTokenCodec {
    /// Builds the codec; `current` signs, every key verifies.
    pub fn new(current: &SecretString, previous: &[SecretString]) -> Self {
        let kid = key_id(current);
        let mut decoding_keys = HashMap::new();
        for secret in std::iter::once(current).chain(previous) {
            decoding_keys.insert(
                key_id(secret),
                DecodingKey::from_secret(secret.expose_secret().as_bytes()),
            );
        }
        Self {
            kid,
            encoding_key: EncodingKey::from_secret(current.expose_secret().as_bytes()),
            decoding_keys,
        }
    }

    /// The `kid` new tokens carry.
    pub fn current_key_id(&self) -> &str {
        &self.kid
    }
}

impl TokenCodec for JwtTokenCodec {
    fn encode(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid = Some(self.kid.clone());
        let body = json!({
            "sub": claims.sub.to_string(),
            "user_id": claims.sub.to_string(),
            "email": claims.email,
            "sid": claims.sid.to_string(),
            "jti": claims.jti.to_string(),
            "iat": claims.iat,
            "nbf": claims.nbf,
            "exp": claims.exp,
            "iss": claims.iss,
            "aud": claims.aud,
        });
        Ok(jsonwebtoken::encode(&header, &body, &self.encoding_key)?)
    }

    fn decode(&self, token: &str) -> Result<Claims, TokenDecodeError> {
        // Parsed by hand rather than with `jsonwebtoken::decode`: its header type rejects
        // unknown shapes of `jwk`/`x5c`, which the contract says must simply be ignored,
        // and the order of checks here is the contract's: header, signature, claims.
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenDecodeError::Invalid);
        };
        let header = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| TokenDecodeError::Invalid)?;
        let header: JoseHeader<'_> =
            serde_json::from_slice(&header).map_err(|_| TokenDecodeError::Invalid)?;
        if header.alg.as_deref() != Some("HS256") || header.crit {
            return Err(TokenDecodeError::Invalid);
        }
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(TOKEN_TYPE) || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(TokenDecodeError::Invalid);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.decoding_keys.get(kid))
            .ok_or(TokenDecodeError::Invalid)?;
        let message_len = token.len() - signature.len() - 1;
        let message = token.get(..message_len).ok_or(TokenDecodeError::Invalid)?;
        let verified =
            jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, Algorithm::HS256)
                .unwrap_or(false);
        if !verified {
            return Err(TokenDecodeError::Invalid);
        }
        // From here on the token is ours: problems are the claims', not the signature's.
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenDecodeError::InvalidClaims { user_id: None })?;
        // The claims as gatehouse writes them parse straight into their types; anything
        // else goes through the generic reading, which finds the subject for the log.
        if let Ok(claims) = serde_json::from_slice::<WrittenClaims<'_>>(&payload)
            && let Some(claims) = claims.into_claims()
        {
            return Ok(claims);
        }
        let claims: Value = serde_json::from_slice(&payload)
            .map_err(|_| TokenDecodeError::InvalidClaims { user_id: None })?;
        let Value::Object(map) = claims else {
            return Err(TokenDecodeError::InvalidClaims { user_id: None });
        };
        read_claims(&map)
    }
}

/// The header fields gatehouse reads; every other one (`jku`, `jwk`, `x5u`, `x5c`, of any
/// shape) is skipped unread. A field of the wrong type or given twice fails the parse,
/// and with it the token.
#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow, default)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    /// Whether the header has a `crit` member at all: its value is not read, since no
    /// value of it (a list, an empty list, `null`, anything) names an extension
    /// gatehouse understands.
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

/// `true` for a member that is there, whatever its value.
fn present<'de, D: serde::Deserializer<'de>>(value: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(value).map(|_| true)
}

/// The claims as [`JwtTokenCodec::encode`] writes them, read without building a generic
/// JSON tree. `None` from [`WrittenClaims::into_claims`] (or a failed parse) sends the
/// payload to [`read_claims`], which decides the error.
#[derive(Deserialize)]
struct WrittenClaims<'a> {
    #[serde(borrow)]
    sub: Cow<'a, str>,
    #[serde(borrow)]
    user_id: Cow<'a, str>,
    email: String,
    #[serde(borrow)]
    sid: Cow<'a, str>,
    #[serde(borrow)]
    jti: Cow<'a, str>,
    iat: i64,
    nbf: i64,
    exp: i64,
    iss: String,
    aud: String,
}

impl WrittenClaims<'_> {
    fn into_claims(self) -> Option<Claims> {
        let sub = Uuid::parse_str(&self.sub).ok()?;
        if Uuid::parse_str(&self.user_id).ok()? != sub {
            return None;
        }
        Some(Claims {
            sub: UserId::from_uuid(sub),
            email: self.email,
            sid: SessionId::from_uuid(Uuid::parse_str(&self.sid).ok()?),
            jti: Uuid::parse_str(&self.jti).ok()?,
            iat: self.iat,
            nbf: self.nbf,
            exp: self.exp,
            iss: self.iss,
            aud: self.aud,
        })
    }
}

fn read_claims(map: &Map<String, Value>) -> Result<Claims, TokenDecodeError> {
    let sub = uuid_claim(map, "sub").map(UserId::from_uuid);
    let invalid = || TokenDecodeError::InvalidClaims { user_id: sub };
    let sub = sub.ok_or_else(invalid)?;
    let user_id = uuid_claim(map, "user_id").ok_or_else(invalid)?;
    if user_id != sub.as_uuid() {
        return Err(invalid());
    }
    Ok(Claims {
        sub,
        email: string_claim(map, "email").ok_or_else(invalid)?,
        sid: uuid_claim(map, "sid")
            .map(SessionId::from_uuid)
            .ok_or_else(invalid)?,
        jti: uuid_claim(map, "jti").ok_or_else(invalid)?,
        iat: int_claim(map, "iat").ok_or_else(invalid)?,
        nbf: int_claim(map, "nbf").ok_or_else(invalid)?,
        exp: int_claim(map, "exp").ok_or_else(invalid)?,
        iss: string_claim(map, "iss").ok_or_else(invalid)?,
        aud: string_claim(map, "aud").ok_or_else(invalid)?,
    })
}

fn string_claim(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.get(name)?.as_str().map(str::to_owned)
}

fn uuid_claim(map: &Map<String, Value>, name: &str) -> Option<Uuid> {
    Uuid::parse_str(map.get(name)?.as_str()?).ok()
}

fn int_claim(map: &Map<String, Value>, name: &str) -> Option<i64> {
    map.get(name)?.as_i64()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use domain::{EmailAddress, TokenPolicy};
    use proptest::prelude::*;

    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.repeat(32 / s.len() + 1))
    }

    /// Claims of a fixed instant (also used by the tests of `verified`).
    pub(super) fn claims() -> Claims {
        let policy =
            TokenPolicy::new(3600, "gatehouse".into(), "gatehouse".into(), 30).expect("policy");
        Claims::issue(
            &policy,
            UserId::from_uuid(Uuid::now_v7()),
            &EmailAddress::parse("ada@example.com").expect("email"),
            SessionId::from_uuid(Uuid::now_v7()),
            Uuid::now_v7(),
            Utc.with_ymd_and_hms(2026, 1, 14, 10, 0, 0)
                .single()
                .expect("date"),
        )
    }

    fn forge(header: Value, body: Value, key: &[u8]) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let b = URL_SAFE_NO_PAD.encode(body.to_string());
        let message = format!("{h}.{b}");
        use hmac_sign::sign;
        format!("{message}.{}", sign(key, message.as_bytes()))
    }

    /// HMAC-SHA256 through jsonwebtoken's own signer, for hand-made headers.
    mod hmac_sign {
        use super::*;
        pub fn sign(key: &[u8], message: &[u8]) -> String {
            jsonwebtoken::crypto::sign(message, &EncodingKey::from_secret(key), Algorithm::HS256)
                .expect("sign")
        }
    }

    fn body(c: &Claims) -> Value {
        json!({
            "sub": c.sub.to_string(), "user_id": c.sub.to_string(), "email": c.email,
            "sid": c.sid.to_string(), "jti": c.jti.to_string(), "iat": c.iat, "nbf": c.nbf,
            "exp": c.exp, "iss": c.iss, "aud": c.aud,
        })
    }

    #[test]
    fn a_token_round_trips_with_typ_and_kid_in_its_header() {
        let current = secret("current");
        let codec = JwtTokenCodec::new(&current, &[]);
        let c = claims();
        let token = codec.encode(&c).expect("encode");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(key_id(&current).as_str()));
        assert!(!header.kid.unwrap_or_default().contains("current"));
        assert_eq!(codec.decode(&token), Ok(c));
    }

    #[test]
    fn a_token_signed_with_a_listed_previous_secret_verifies() {
        let old = secret("old");
        let c = claims();
        let token = JwtTokenCodec::new(&old, &[]).encode(&c).expect("encode");
        assert_eq!(
            JwtTokenCodec::new(&secret("new"), &[old]).decode(&token),
            Ok(c)
        );
        assert_eq!(
            JwtTokenCodec::new(&secret("new"), &[]).decode(&token),
            Err(TokenDecodeError::Invalid)
        );
    }

    #[test]
    fn other_algorithms_wrong_typ_and_unknown_kid_are_invalid() {
        let key = secret("current");
        let codec = JwtTokenCodec::new(&key, &[]);
        let kid = key_id(&key);
        let b = body(&claims());
        for header in [
            json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
            json!({"alg": "HS384", "typ": "at+jwt", "kid": kid}),
            json!({"alg": "HS256", "typ": "JWT", "kid": kid}),
            json!({"alg": "HS256", "kid": kid}),
            json!({"alg": "HS256", "typ": "at+jwt"}),
            json!({"alg": "HS256", "typ": "at+jwt", "kid": "../../etc/passwd"}),
        ] {
            let token = forge(header.clone(), b.clone(), key.expose_secret().as_bytes());
            assert_eq!(
                codec.decode(&token),
                Err(TokenDecodeError::Invalid),
                "{header}"
            );
        }
    }

    #[test]
    fn jku_jwk_x5u_and_x5c_headers_are_ignored_even_when_malformed() {
        let key = secret("current");
        let codec = JwtTokenCodec::new(&key, &[]);
        let c = claims();
        let header = json!({
            "alg": "HS256", "typ": "at+jwt", "kid": key_id(&key),
            "jku": "https://attacker.example/keys", "jwk": {"kty": "oct", "k": "AAAA", "junk": [1]},
            "x5u": "https://attacker.example/cert", "x5c": ["not-a-cert"]
        });
        let token = forge(header, body(&c), key.expose_secret().as_bytes());
        assert_eq!(codec.decode(&token), Ok(c));
    }

    #[test]
    fn a_header_field_given_twice_is_invalid() {
        let key = secret("current");
        let codec = JwtTokenCodec::new(&key, &[]);
        let kid = key_id(&key);
        // JSON with a repeated name cannot be built with `json!`: written by hand.
        let header = format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{kid}","alg":"HS256"}}"#);
        let h = URL_SAFE_NO_PAD.encode(header);
        let b = URL_SAFE_NO_PAD.encode(body(&claims()).to_string());
        let message = format!("{h}.{b}");
        let token = format!(
            "{message}.{}",
            hmac_sign::sign(key.expose_secret().as_bytes(), message.as_bytes())
        );
        assert_eq!(codec.decode(&token), Err(TokenDecodeError::Invalid));
    }

    #[test]
    fn a_token_with_a_crit_header_is_invalid_whatever_crit_lists() {
        let key = secret("current");
        let codec = JwtTokenCodec::new(&key, &[]);
        let c = claims();
        let kid = key_id(&key);
        for crit in [
            json!(["exp"]),
            json!(["b64"]),
            json!(["http://example.com/unknown-extension"]),
            json!([]),
            json!(null),
            json!("exp"),
            json!({"exp": true}),
        ] {
            let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid, "crit": crit});
            let token = forge(header, body(&c), key.expose_secret().as_bytes());
            assert_eq!(
                codec.decode(&token),
                Err(TokenDecodeError::Invalid),
                "crit {crit}"
            );
        }
        // The same token without `crit` is accepted: `crit` alone made the difference.
        let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid});
        let token = forge(header, body(&c), key.expose_secret().as_bytes());
        assert_eq!(codec.decode(&token), Ok(c));
    }

    #[test]
    fn escaped_strings_extra_claims_and_any_order_read_as_the_same_claims() {
        let key = secret("current");
        let codec = JwtTokenCodec::new(&key, &[]);
        let c = claims();
        let header = json!({"kid": key_id(&key), "typ": "at+jwt", "alg": "HS256"});
        let mut written = body(&c);
        written["scope"] = json!(["everything"]);
        // `\u0040` is `@`: a JSON escape the fast path cannot borrow.
        let raw = written
            .to_string()
            .replace(&c.email, &c.email.replace('@', "\\u0040"));
        assert!(raw.contains("\\u0040"), "{raw}");
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let message = format!("{h}.{}", URL_SAFE_NO_PAD.encode(raw));
        let token = format!(
            "{message}.{}",
            hmac_sign::sign(key.expose_secret().as_bytes(), message.as_bytes())
        );
        assert_eq!(codec.decode(&token), Ok(c));
    }

    #[test]
    fn rs256_with_the_secret_as_key_is_refused() {
        let key = secret("current");
        let codec = JwtTokenCodec::new(&key, &[]);
        let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": key_id(&key)});
        // Signed with HMAC over the secret, as an algorithm-confusion attack would.
        let token = forge(header, body(&claims()), key.expose_secret().as_bytes());
        assert_eq!(codec.decode(&token), Err(TokenDecodeError::Invalid));
    }

    #[test]
    fn a_payload_that_is_not_a_json_object_is_invalid_claims_once_signed() {
        let key = secret("current");
        let codec = JwtTokenCodec::new(&key, &[]);
        let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": key_id(&key)});
        let token = forge(header, json!([1, 2, 3]), key.expose_secret().as_bytes());
        assert_eq!(
            codec.decode(&token),
            Err(TokenDecodeError::InvalidClaims { user_id: None })
        );
    }

    #[test]
    fn application_at_jwt_typ_is_accepted_case_insensitively() {
        let key = secret("current");
        let codec = JwtTokenCodec::new(&key, &[]);
        let c = claims();
        let header = json!({"alg": "HS256", "typ": "Application/AT+JWT", "kid": key_id(&key)});
        let token = forge(header, body(&c), key.expose_secret().as_bytes());
        assert_eq!(codec.decode(&token), Ok(c));
    }

    #[test]
    fn a_missing_or_ill_typed_claim_is_invalid_claims_once_the_signature_verified() {
        let key = secret("current");
        let codec = JwtTokenCodec::new(&key, &[]);
        let c = claims();
        let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": key_id(&key)});
        for name in [
            "sub", "user_id", "email", "sid", "jti", "iat", "nbf", "exp", "iss", "aud",
        ] {
            let mut missing = body(&c);
            missing.as_object_mut().expect("object").remove(name);
            let token = forge(header.clone(), missing, key.expose_secret().as_bytes());
            let expected_user = (name != "sub").then_some(c.sub);
            assert_eq!(
                codec.decode(&token),
                Err(TokenDecodeError::InvalidClaims {
                    user_id: expected_user
                }),
                "missing {name}"
            );
        }
        let mut wrong_type = body(&c);
        wrong_type["exp"] = json!("tomorrow");
        let token = forge(header, wrong_type, key.expose_secret().as_bytes());
        assert_eq!(
            codec.decode(&token),
            Err(TokenDecodeError::InvalidClaims {
                user_id: Some(c.sub)
            })
        );
    }

    #[test]
    fn a_bad_signature_or_malformed_token_is_invalid() {
        let codec = JwtTokenCodec::new(&secret("current"), &[]);
        let token = JwtTokenCodec::new(&secret("other"), &[])
            .encode(&claims())
            .expect("encode");
        assert_eq!(codec.decode(&token), Err(TokenDecodeError::Invalid));
        for junk in ["", "abc", "a.b", "a.b.c", "a.b.c.d", "!!!.@@@.###"] {
            assert_eq!(
                codec.decode(junk),
                Err(TokenDecodeError::Invalid),
                "{junk:?}"
            );
        }
    }

    /// The base64url alphabet a token is written in.
    const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn codec() -> JwtTokenCodec {
        JwtTokenCodec::new(&secret("current"), &[])
    }

    /// The three segments of a token.
    fn split(token: &str) -> (&str, &str, &str) {
        let (header, rest) = token.split_once('.').expect("a header segment");
        let (payload, signature) = rest.split_once('.').expect("payload and signature");
        (header, payload, signature)
    }

    /// The header segment `encode` writes, so that made-up tokens reach the signature.
    fn genuine_header() -> String {
        let token = codec().encode(&claims()).expect("encode");
        split(&token).0.to_owned()
    }

    #[test]
    fn every_other_last_character_of_the_signature_is_refused() {
        // The last of 43 base64 characters carries 2 bits of the MAC and 4 padding bits:
        // a decoder that ignored the padding bits would accept 3 other spellings.
        let codec = codec();
        let c = claims();
        let token = codec.encode(&c).expect("encode");
        let (stem, last) = token.split_at(token.len() - 1);
        for other in B64URL.chars().filter(|&ch| ch.to_string() != last) {
            assert_eq!(
                codec.decode(&format!("{stem}{other}")),
                Err(TokenDecodeError::Invalid),
                "last character {other:?} instead of {last:?}"
            );
        }
        assert_eq!(codec.decode(&token), Ok(c));
    }

    /// A segment without dots: mostly base64url, sometimes anything.
    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![3 => "[A-Za-z0-9_-]{0,64}", 1 => "[^.]{0,32}"]
    }

    /// Emails as `Claims::issue` would write them: strings that parse, normalised.
    fn any_email() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ \t]{0,2}[A-Za-z0-9._%+-]{1,20}@[A-Za-z0-9-]{1,15}(\\.[A-Za-z]{2,6}){1,2}",
            "[A-Za-z0-9À-ÿΣσß]{1,10}@[a-zà-ÿ0-9]{1,10}\\.[a-z]{2,4}",
            "\\PC{1,10}@[a-z]{1,8}\\.[a-z]{2,4}",
        ]
        .prop_filter_map("an email that parses", |raw| {
            EmailAddress::parse(&raw)
                .ok()
                .map(|email| email.as_str().to_owned())
        })
    }

    fn any_claims() -> impl Strategy<Value = Claims> {
        (
            any_email(),
            any::<[u128; 3]>(),
            any::<[i64; 3]>(),
            any::<String>(),
            any::<String>(),
        )
            .prop_map(
                |(email, [sub, sid, jti], [iat, nbf, exp], iss, aud)| Claims {
                    sub: UserId::from_uuid(Uuid::from_u128(sub)),
                    email,
                    sid: SessionId::from_uuid(Uuid::from_u128(sid)),
                    jti: Uuid::from_u128(jti),
                    iat,
                    nbf,
                    exp,
                    iss,
                    aud,
                },
            )
    }

    proptest! {
        #[test]
        fn decoding_any_string_never_panics_and_is_invalid(raw in any::<String>()) {
            prop_assert_eq!(codec().decode(&raw), Err(TokenDecodeError::Invalid));
        }

        #[test]
        fn decoding_any_three_segment_string_never_panics_and_is_invalid(
            header in prop_oneof![segment(), Just(genuine_header())],
            payload in segment(),
            signature in segment(),
        ) {
            let token = format!("{header}.{payload}.{signature}");
            prop_assert_eq!(codec().decode(&token), Err(TokenDecodeError::Invalid));
        }

        #[test]
        fn any_claims_survive_an_encode_decode_round_trip(c in any_claims()) {
            let codec = codec();
            let token = codec.encode(&c).expect("encode");
            prop_assert_eq!(codec.decode(&token), Ok(c));
        }

        #[test]
        fn changing_one_character_of_the_payload_or_signature_makes_a_token_invalid(
            c in any_claims(),
            in_signature in any::<bool>(),
            at in any::<prop::sample::Index>(),
            replacement in prop_oneof![
                4 => prop::sample::select(B64URL.chars().collect::<Vec<_>>()),
                1 => any::<char>(),
            ],
        ) {
            let codec = codec();
            let token = codec.encode(&c).expect("encode");
            let (header, payload, signature) = split(&token);
            let mut chars: Vec<char> =
                if in_signature { signature } else { payload }.chars().collect();
            let i = at.index(chars.len());
            chars[i] = if replacement != chars[i] {
                replacement
            } else if chars[i] == 'A' {
                'B'
            } else {
                'A'
            };
            let changed: String = chars.into_iter().collect();
            let mutated = if in_signature {
                format!("{header}.{payload}.{changed}")
            } else {
                format!("{header}.{changed}.{signature}")
            };
            prop_assert_ne!(&mutated, &token);
            prop_assert_eq!(codec.decode(&mutated), Err(TokenDecodeError::Invalid));
        }
    }
}
