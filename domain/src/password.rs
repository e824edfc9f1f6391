//! Passwords: the plaintext as the user typed it, the stored hash, and the policy.
//!
//! This module owns NFKC normalisation, keeping the plaintext out of logs and out of
//! freed memory, and (in its submodules) the password policy and the shipped list of
//! common passwords. It must not hash or verify: Argon2 is an adapter behind the
//! application's `PasswordHasher` port, and this crate only carries its PHC string.

mod common;
mod policy;

use std::fmt;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};
use zeroize::{Zeroize, Zeroizing};

pub use common::is_common_password;
pub use policy::{PasswordPolicy, PasswordPolicyViolation, PasswordRule, PasswordViolation};

/// A password in clear, NFKC-normalised, wiped from memory when dropped.
///
/// # Security
///
/// There is no `Display` and `Debug` prints `PlaintextPassword(<redacted>)`, so the value
/// cannot reach a log by accident; [`expose`](Self::expose) is the one deliberate way out.
/// Each clone is wiped on its own drop.
#[derive(Clone)]
pub struct PlaintextPassword(Zeroizing<String>);

impl PlaintextPassword {
    /// Takes ownership of `raw`, keeps its NFKC form and wipes the original.
    ///
    /// NFKC makes visually identical inputs (full-width letters, ligatures, composed or
    /// decomposed accents) one password, so a user can still log in from a keyboard or
    /// operating system that produces the other form. Nothing is ever truncated.
    pub fn new(raw: String) -> Self {
        // Most passwords are already NFKC: keeping the allocation avoids making a second
        // copy of the secret at all.
        if is_nfkc_quick(raw.chars()) == IsNormalized::Yes {
            return Self(Zeroizing::new(raw));
        }
        let mut raw = raw;
        // Sizing the buffer exactly first means `push` never reallocates, so no partial
        // copy of the password is left behind in freed memory unwiped.
        let len: usize = raw.nfkc().map(char::len_utf8).sum();
        let mut normalised = Zeroizing::new(String::with_capacity(len));
        normalised.extend(raw.nfkc());
        raw.zeroize();
        Self(normalised)
    }

    /// The normalised password, for hashing and policy checks only.
    ///
    /// # Security
    ///
    /// Never log, store or echo what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in Unicode code points of the normalised form, as the policy counts it.
    pub fn char_count(&self) -> usize {
        self.0.chars().count()
    }
}

impl fmt::Debug for PlaintextPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlaintextPassword(<redacted>)")
    }
}

/// A stored password hash: an opaque PHC string (`$argon2id$v=19$m=…`).
///
/// The domain never looks inside it: parameters, salt and algorithm are the hasher
/// adapter's business. `PartialEq` is plain string equality, used to detect a concurrent
/// password change (the stored hash is still the one just verified), never to verify a
/// password.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by the hasher or read from storage.
    pub fn from_phc(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for storage and verification.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    /// Redacted: a hash is offline-crackable material and has no place in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pw(raw: &str) -> PlaintextPassword {
        PlaintextPassword::new(raw.to_owned())
    }

    #[test]
    fn table_of_inputs_and_their_nfkc_form() {
        let cases = [
            ("Password1", "Password1"),
            ("ｐａｓｓｗｏｒｄ", "password"),
            ("ﬁne", "fine"),
            ("e\u{301}", "é"),
            ("x²", "x2"),
            ("①", "1"),
            ("Å", "Å"),
            ("  spaces kept  ", "  spaces kept  "),
        ];
        for (raw, expected) in cases {
            assert_eq!(pw(raw).expose(), expected, "input {raw:?}");
        }
    }

    #[test]
    fn char_count_counts_code_points_of_the_normalised_form() {
        assert_eq!(pw("").char_count(), 0);
        assert_eq!(pw("abc").char_count(), 3);
        assert_eq!(pw("e\u{301}").char_count(), 1);
        assert_eq!(pw("ﬁ").char_count(), 2);
        assert_eq!(pw("🔒🔑").char_count(), 2);
        assert_eq!(pw("\u{fdfa}").char_count(), 18);
    }

    #[test]
    fn debug_of_a_plaintext_password_is_redacted() {
        let password = pw("hunter2-Secret");
        let printed = format!("{password:?} {:#?}", password.clone());
        assert_eq!(
            printed,
            "PlaintextPassword(<redacted>) PlaintextPassword(<redacted>)"
        );
        assert!(!printed.contains("hunter2"));
    }

    #[test]
    fn debug_of_a_password_hash_is_redacted() {
        let hash = PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
        assert_eq!(format!("{hash:?}"), "PasswordHash(<redacted>)");
        assert_eq!(
            hash.as_str(),
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
        );
    }

    #[test]
    fn password_hashes_compare_by_their_phc_string() {
        let a = PasswordHash::from_phc("$argon2id$a".into());
        assert_eq!(a, a.clone());
        assert_ne!(a, PasswordHash::from_phc("$argon2id$b".into()));
    }

    proptest! {
        #[test]
        fn normalising_twice_changes_nothing(raw in any::<String>()) {
            let once = PlaintextPassword::new(raw);
            let twice = PlaintextPassword::new(once.expose().to_owned());
            prop_assert_eq!(once.expose(), twice.expose());
        }

        #[test]
        fn the_stored_form_is_the_nfkc_form(raw in any::<String>()) {
            let expected: String = raw.nfkc().collect();
            let password = PlaintextPassword::new(raw);
            prop_assert_eq!(password.expose(), expected.as_str());
            prop_assert_eq!(password.char_count(), expected.chars().count());
        }
    }
}
