//! Key material for `EdDSA` (Ed25519) and `ES256` (P-256).
//!
//! # Security
//! - Private keys are generated from the operating system's random source and held as
//!   PKCS #8 DER in zeroizing buffers; they leave this module only sealed
//!   ([`super::KeyEncryptionKey`]) or as a jsonwebtoken `EncodingKey`.
//! - The public JWK has exactly the members RFC 7517/8037 define for a public key
//!   (`kty`, `crv`, `x`, and `y` for P-256): it cannot carry a private member (JK-1).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::KeyAlgorithm;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use jsonwebtoken::{DecodingKey, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use rand::TryRngCore as _;
use rand::rngs::OsRng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Why key material could not be made or read back.
#[derive(Debug, thiserror::Error)]
pub enum KeyMaterialError {
    /// The operating system's random source failed.
    #[error("the random source failed: {0}")]
    Random(String),
    /// A stored private key is not valid PKCS #8 for its algorithm.
    #[error("the stored private key is not a valid {0} key")]
    Malformed(&'static str),
}

/// A public key as JWK members (base64url without padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicJwk {
    /// Ed25519: `kty: OKP`, `crv: Ed25519`.
    Okp {
        /// The 32-byte public key.
        x: String,
    },
    /// P-256: `kty: EC`, `crv: P-256`.
    Ec {
        /// The affine x coordinate.
        x: String,
        /// The affine y coordinate.
        y: String,
    },
}

impl PublicJwk {
    /// The RFC 7638 thumbprint: SHA-256 over the required members in lexicographic
    /// order, no whitespace, base64url. Used as the `kid`.
    pub fn thumbprint(&self) -> String {
        let canonical = match self {
            Self::Okp { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
            Self::Ec { x, y } => {
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// The JWKS entry: the public members plus `kid`, `alg` and `use: "sig"`.
    pub fn to_jwk(&self, algorithm: KeyAlgorithm) -> Value {
        let kid = self.thumbprint();
        let alg = algorithm.jose_name();
        match self {
            Self::Okp { x } => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": alg, "use": "sig"})
            }
            Self::Ec { x, y } => {
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": alg, "use": "sig"})
            }
        }
    }

    /// The verifying key for jsonwebtoken.
    ///
    /// # Errors
    /// A coordinate that is not base64url (only for material not made here).
    pub fn decoding_key(&self) -> Result<DecodingKey, KeyMaterialError> {
        match self {
            Self::Okp { x } => DecodingKey::from_ed_components(x)
                .map_err(|_| KeyMaterialError::Malformed("Ed25519")),
            Self::Ec { x, y } => DecodingKey::from_ec_components(x, y)
                .map_err(|_| KeyMaterialError::Malformed("P-256")),
        }
    }
}

/// A private signing key with its public half.
pub struct KeyMaterial {
    algorithm: KeyAlgorithm,
    private_pkcs8: Zeroizing<Vec<u8>>,
    public: PublicJwk,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("algorithm", &self.algorithm)
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

fn random_32() -> Result<Zeroizing<[u8; 32]>, KeyMaterialError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRng
        .try_fill_bytes(bytes.as_mut())
        .map_err(|e| KeyMaterialError::Random(e.to_string()))?;
    Ok(bytes)
}

impl KeyMaterial {
    /// A new key for `algorithm`, from the operating system's random source.
    ///
    /// # Errors
    /// The random source failed.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyMaterialError> {
        match algorithm {
            KeyAlgorithm::EdDsa => {
                let seed = random_32()?;
                let key = ed25519_dalek::SigningKey::from_bytes(&seed);
                let der = key
                    .to_pkcs8_der()
                    .map_err(|_| KeyMaterialError::Malformed("Ed25519"))?;
                Self::from_pkcs8(algorithm, der.as_bytes())
            }
            KeyAlgorithm::Es256 => {
                // A uniformly random scalar: a 32-byte string is out of range (zero or
                // ≥ n) with probability about 2^-32; draw again then.
                let secret = loop {
                    let bytes = random_32()?;
                    if let Ok(secret) = p256::SecretKey::from_slice(bytes.as_ref()) {
                        break secret;
                    }
                };
                let der = secret
                    .to_pkcs8_der()
                    .map_err(|_| KeyMaterialError::Malformed("P-256"))?;
                Self::from_pkcs8(algorithm, der.as_bytes())
            }
        }
    }

    /// Reads back a private key stored as PKCS #8 DER.
    ///
    /// # Errors
    /// The bytes are not a valid private key of `algorithm`.
    pub fn from_pkcs8(algorithm: KeyAlgorithm, der: &[u8]) -> Result<Self, KeyMaterialError> {
        let public = match algorithm {
            KeyAlgorithm::EdDsa => {
                let key = ed25519_dalek::SigningKey::from_pkcs8_der(der)
                    .map_err(|_| KeyMaterialError::Malformed("Ed25519"))?;
                PublicJwk::Okp {
                    x: URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
                }
            }
            KeyAlgorithm::Es256 => {
                let key = p256::SecretKey::from_pkcs8_der(der)
                    .map_err(|_| KeyMaterialError::Malformed("P-256"))?;
                let point = key.public_key().to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err(KeyMaterialError::Malformed("P-256"));
                };
                PublicJwk::Ec {
                    x: URL_SAFE_NO_PAD.encode(x),
                    y: URL_SAFE_NO_PAD.encode(y),
                }
            }
        };
        Ok(Self {
            algorithm,
            private_pkcs8: Zeroizing::new(der.to_vec()),
            public,
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The public half.
    pub fn public(&self) -> &PublicJwk {
        &self.public
    }

    /// The `kid`: the public key's RFC 7638 thumbprint.
    pub fn kid(&self) -> String {
        self.public.thumbprint()
    }

    /// The private key as PKCS #8 DER, to be sealed before it is stored.
    pub fn private_pkcs8(&self) -> &[u8] {
        &self.private_pkcs8
    }

    /// The signing key for jsonwebtoken.
    pub fn encoding_key(&self) -> EncodingKey {
        match self.algorithm {
            KeyAlgorithm::EdDsa => EncodingKey::from_ed_der(&self.private_pkcs8),
            KeyAlgorithm::Es256 => EncodingKey::from_ec_der(&self.private_pkcs8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, Header, Validation};

    fn jwt_alg(alg: KeyAlgorithm) -> Algorithm {
        match alg {
            KeyAlgorithm::EdDsa => Algorithm::EdDSA,
            KeyAlgorithm::Es256 => Algorithm::ES256,
        }
    }

    #[test]
    fn thumbprint_matches_the_rfc_8037_example() {
        // RFC 8037, appendix A.3.
        let jwk = PublicJwk::Okp {
            x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into(),
        };
        assert_eq!(
            jwk.thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn generated_keys_sign_what_their_public_half_verifies_and_survive_a_round_trip() {
        for alg in [KeyAlgorithm::EdDsa, KeyAlgorithm::Es256] {
            let key = KeyMaterial::generate(alg).expect("generate");
            let again = KeyMaterial::from_pkcs8(alg, key.private_pkcs8()).expect("read back");
            assert_eq!(again.public(), key.public(), "{alg:?}");
            assert_eq!(again.kid(), key.kid());

            let header = Header::new(jwt_alg(alg));
            let token = jsonwebtoken::encode(
                &header,
                &serde_json::json!({"sub": "x", "exp": 4_000_000_000u64}),
                &key.encoding_key(),
            )
            .expect("sign");
            let decoded = jsonwebtoken::decode::<Value>(
                &token,
                &key.public().decoding_key().expect("decoding key"),
                &Validation::new(jwt_alg(alg)),
            )
            .expect("verify");
            assert_eq!(decoded.claims["sub"], "x");

            let other = KeyMaterial::generate(alg).expect("generate");
            assert_ne!(other.kid(), key.kid(), "two keys, two kids");
            assert!(
                jsonwebtoken::decode::<Value>(
                    &token,
                    &other.public().decoding_key().expect("decoding key"),
                    &Validation::new(jwt_alg(alg)),
                )
                .is_err(),
                "another key's public half must not verify"
            );
        }
    }

    #[test]
    fn the_jwk_carries_public_members_only() {
        for alg in [KeyAlgorithm::EdDsa, KeyAlgorithm::Es256] {
            let key = KeyMaterial::generate(alg).expect("generate");
            let jwk = key.public().to_jwk(alg);
            let Value::Object(members) = &jwk else {
                panic!("not an object: {jwk}")
            };
            let mut names: Vec<&str> = members.keys().map(String::as_str).collect();
            names.sort_unstable();
            let expected: &[&str] = match alg {
                KeyAlgorithm::EdDsa => &["alg", "crv", "kid", "kty", "use", "x"],
                KeyAlgorithm::Es256 => &["alg", "crv", "kid", "kty", "use", "x", "y"],
            };
            assert_eq!(names, expected);
            assert_eq!(jwk["kid"], key.kid());
            assert_eq!(jwk["alg"], alg.jose_name());
        }
    }

    #[test]
    fn garbage_is_not_a_private_key() {
        for alg in [KeyAlgorithm::EdDsa, KeyAlgorithm::Es256] {
            assert!(KeyMaterial::from_pkcs8(alg, b"not a key").is_err());
        }
        let ed = KeyMaterial::generate(KeyAlgorithm::EdDsa).expect("generate");
        assert!(
            KeyMaterial::from_pkcs8(KeyAlgorithm::Es256, ed.private_pkcs8()).is_err(),
            "an Ed25519 key is not a P-256 key"
        );
    }
}
