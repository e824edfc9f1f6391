//! Private keys (and, later, TOTP secrets) sealed under `KEY_ENCRYPTION_SECRET`.
//!
//! XChaCha20-Poly1305 (the `chacha20poly1305` crate, RustCrypto) under a key derived with
//! HKDF-SHA256 from the secret; a random 192-bit nonce per seal, so no nonce bookkeeping;
//! the caller's associated data (the key's `kid`) binds a sealed blob to its row, so
//! swapping two rows' ciphertexts fails to open. A second HKDF output is the secret's
//! fingerprint, stored beside the keys so that a start with another secret is refused
//! by name instead of failing at the first signature.
//!
//! Layout: `version (1) ‖ nonce (24) ‖ ciphertext ‖ tag (16)`.

use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::TryRngCore as _;
use rand::rngs::OsRng;
use sha2::Sha256;
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const SALT: &[u8] = b"gatehouse key encryption";

/// Why a seal or an open failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The operating system's random source failed.
    #[error("the random source failed")]
    Random,
    /// The blob is not ours, was altered, belongs to another row, or was sealed under
    /// another secret.
    #[error("the sealed value cannot be opened with this KEY_ENCRYPTION_SECRET")]
    Unopenable,
}

/// The key that seals private keys, derived from `KEY_ENCRYPTION_SECRET`.
pub struct KeyEncryptionKey {
    cipher: XChaCha20Poly1305,
    fingerprint: String,
}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEncryptionKey")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl KeyEncryptionKey {
    /// Derives the sealing key and the fingerprint from the secret's bytes.
    pub fn derive(secret: &[u8]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(SALT), secret);
        let mut key = Zeroizing::new([0u8; 32]);
        let mut fingerprint = [0u8; 16];
        // 32 and 16 bytes are far below HKDF-SHA256's 8160-byte limit: cannot fail.
        let ok = hkdf.expand(b"xchacha20poly1305 v1", key.as_mut()).is_ok()
            && hkdf.expand(b"fingerprint v1", &mut fingerprint).is_ok();
        debug_assert!(ok);
        Self {
            cipher: XChaCha20Poly1305::new(key.as_ref().into()),
            fingerprint: fingerprint.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// A fingerprint of the secret (not the secret, nor the sealing key), stored in the
    /// database to tell whether the configured secret is the one that sealed its keys.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Seals `plaintext`, bound to `associated` (e.g. the key's `kid`).
    ///
    /// # Errors
    /// The random source failed.
    pub fn seal(&self, associated: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let ciphertext = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: associated,
                },
            )
            .map_err(|_| SealError::Random)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens what [`Self::seal`] sealed with the same `associated` data.
    ///
    /// # Errors
    /// [`SealError::Unopenable`] for anything else.
    pub fn open(&self, associated: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let Some((&VERSION, rest)) = sealed.split_first() else {
            return Err(SealError::Unopenable);
        };
        if rest.len() < NONCE_LEN {
            return Err(SealError::Unopenable);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Unopenable)?;
        self.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::Unopenable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test";

    #[test]
    fn what_is_sealed_opens_with_the_same_secret_and_row_only() {
        let kek = KeyEncryptionKey::derive(SECRET);
        let sealed = kek.seal(b"kid-1", b"private key").expect("seal");
        assert_eq!(
            kek.open(b"kid-1", &sealed).expect("open").as_slice(),
            b"private key"
        );
        assert_eq!(kek.open(b"kid-2", &sealed), Err(SealError::Unopenable));
        let other = KeyEncryptionKey::derive(b"another secret of enough length, 32+");
        assert_eq!(other.open(b"kid-1", &sealed), Err(SealError::Unopenable));
    }

    #[test]
    fn a_sealed_value_hides_its_plaintext_and_never_repeats() {
        let kek = KeyEncryptionKey::derive(SECRET);
        let a = kek.seal(b"kid", b"private key material").expect("seal");
        let b = kek.seal(b"kid", b"private key material").expect("seal");
        assert_ne!(a, b, "a fresh nonce per seal");
        assert!(
            !a.windows(b"private".len()).any(|w| w == b"private"),
            "plaintext visible in the blob"
        );
    }

    #[test]
    fn every_altered_byte_and_every_truncation_is_refused() {
        let kek = KeyEncryptionKey::derive(SECRET);
        let sealed = kek.seal(b"kid", b"key").expect("seal");
        for i in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[i] ^= 0x01;
            assert_eq!(
                kek.open(b"kid", &altered),
                Err(SealError::Unopenable),
                "byte {i}"
            );
        }
        for len in 0..sealed.len() {
            assert_eq!(
                kek.open(b"kid", &sealed[..len]),
                Err(SealError::Unopenable),
                "length {len}"
            );
        }
    }

    #[test]
    fn the_fingerprint_tells_secrets_apart_and_is_not_the_secret() {
        let a = KeyEncryptionKey::derive(SECRET);
        let b = KeyEncryptionKey::derive(SECRET);
        let c = KeyEncryptionKey::derive(b"0123456789abcdef0123456789abcdef-tesT");
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.fingerprint().len(), 32);
        assert!(!format!("{a:?}").contains("0123456789abcdef"));
    }
}
