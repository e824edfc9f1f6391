//! `JwtTokenCodec::decode`: nothing the fuzzer writes is accepted (it cannot forge an
//! HMAC-SHA256 signature), any claims survive `encode` → `decode`, and an encoded token
//! still decodes after a mutation only if the mutation left it unchanged.

#![no_main]

use std::sync::LazyLock;

use adapters::token::JwtTokenCodec;
use application::ports::{TokenCodec, TokenDecodeError};
use arbitrary::Arbitrary;
use domain::{Claims, SessionId, UserId};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use uuid::Uuid;

static CODEC: LazyLock<JwtTokenCodec> = LazyLock::new(|| {
    JwtTokenCodec::new(
        &SecretString::from("fuzzing-secret-that-is-at-least-32-bytes-long"),
        &[],
    )
});

/// The header `encode` writes, so that forged tokens reach the signature check.
static HEADER: LazyLock<String> = LazyLock::new(|| {
    let claims = claims_of(ArbClaims::default());
    let token = CODEC.encode(&claims).expect("encode");
    token.split('.').next().expect("header").to_owned()
});

#[derive(Debug, Default, Arbitrary)]
struct ArbClaims {
    sub: u128,
    email: String,
    sid: u128,
    jti: u128,
    iat: i64,
    nbf: i64,
    exp: i64,
    iss: String,
    aud: String,
}

fn claims_of(a: ArbClaims) -> Claims {
    Claims {
        sub: UserId::from_uuid(Uuid::from_u128(a.sub)),
        email: a.email,
        sid: SessionId::from_uuid(Uuid::from_u128(a.sid)),
        jti: Uuid::from_u128(a.jti),
        iat: a.iat,
        nbf: a.nbf,
        exp: a.exp,
        iss: a.iss,
        aud: a.aud,
    }
}

#[derive(Debug, Arbitrary)]
enum Edit {
    Replace(u16, u8),
    Insert(u16, u8),
    Remove(u16),
    Truncate(u16),
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// Decoded as is.
    raw: String,
    /// Payload and signature behind the genuine header.
    payload: String,
    signature: String,
    claims: ArbClaims,
    edits: Vec<Edit>,
}

fn apply(token: &str, edits: &[Edit]) -> String {
    let mut bytes = token.as_bytes().to_vec();
    for edit in edits {
        let at = |i: u16, len: usize| usize::from(i) % (len + 1);
        match *edit {
            Edit::Replace(i, b) if !bytes.is_empty() => {
                let i = usize::from(i) % bytes.len();
                bytes[i] = b;
            }
            Edit::Replace(..) => {}
            Edit::Insert(i, b) => bytes.insert(at(i, bytes.len()), b),
            Edit::Remove(i) if !bytes.is_empty() => {
                let i = usize::from(i) % bytes.len();
                bytes.remove(i);
            }
            Edit::Remove(_) => {}
            Edit::Truncate(i) => bytes.truncate(at(i, bytes.len())),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fuzz_target!(|input: Input| {
    assert_eq!(CODEC.decode(&input.raw), Err(TokenDecodeError::Invalid));
    let forged = format!("{}.{}.{}", *HEADER, input.payload, input.signature);
    assert_eq!(CODEC.decode(&forged), Err(TokenDecodeError::Invalid));

    let claims = claims_of(input.claims);
    let token = CODEC.encode(&claims).expect("any claims encode");
    assert_eq!(CODEC.decode(&token), Ok(claims.clone()), "round trip");

    let mutated = apply(&token, &input.edits);
    if mutated == token {
        assert_eq!(CODEC.decode(&mutated), Ok(claims));
    } else {
        assert_eq!(
            CODEC.decode(&mutated),
            Err(TokenDecodeError::Invalid),
            "a changed token must not verify: {mutated:?}"
        );
    }
});
