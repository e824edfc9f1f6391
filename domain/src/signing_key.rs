//! Asymmetric signing keys and their schedule (`contract-v2.md` §2): which key signs,
//! which keys verify, which are published, at any instant.
//!
//! A key's state is never stored: it is derived from two timestamps every instance
//! reads from the same table, so instances agree without a scheduler and without a
//! state change to race on.
//!
//! - `activates_at`: from then on the key may sign. A rotated key gets
//!   `now + JWT_KEY_PUBLISH_SECONDS`, so it is `next` (published, verifying, not yet
//!   signing) until every verifier's cached JWKS has had the time to fetch it.
//! - `retired_at`: set only by `keys retire KID --now` (compromise): gone at once.
//!
//! The signing (`current`) key is the newest activated key of the configured algorithm.
//! Every older activated key is `retiring` from the moment a newer one activated until
//! the longest access-token lifetime (plus leeway) has passed — the tokens it signed
//! can still be presented — and `retired` after that.
//!
//! This module must not read the clock: `now` is an argument.

use chrono::{DateTime, TimeDelta, Utc};

/// An asymmetric JWS algorithm gatehouse signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// Ed25519 (`EdDSA`).
    EdDsa,
    /// ECDSA on P-256 with SHA-256 (`ES256`).
    Es256,
}

impl KeyAlgorithm {
    /// The JOSE `alg` name.
    pub fn jose_name(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
        }
    }

    /// The algorithm a JOSE `alg` names, if gatehouse signs with it.
    pub fn from_jose_name(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(Self::EdDsa),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
}

/// Where a key stands at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Published and verifying, not yet signing.
    Next,
    /// Signs new tokens; published and verifying.
    Current,
    /// Replaced; still published and verifying until the tokens it signed have expired.
    Retiring,
    /// Neither published nor verifying.
    Retired,
}

impl KeyState {
    /// The lower-case name `gatehouse keys list` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Retiring => "retiring",
            Self::Retired => "retired",
        }
    }

    /// Whether a token under this key is accepted (and the key is in the JWKS).
    pub fn verifies(self) -> bool {
        !matches!(self, Self::Retired)
    }
}

/// What the schedule needs to know of one stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchedule {
    /// The key's id (RFC 7638 thumbprint).
    pub kid: String,
    /// Its algorithm.
    pub algorithm: KeyAlgorithm,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// From when it may sign.
    pub activates_at: DateTime<Utc>,
    /// When it was retired by hand, if it was.
    pub retired_at: Option<DateTime<Utc>>,
}

/// How long a replaced key keeps verifying: the longest an access token it signed can
/// still be presented (its lifetime plus the clock-skew leeway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetirementPolicy {
    /// The longest access-token lifetime plus leeway.
    pub verify_for: TimeDelta,
}

/// Every key's state at `now`, in the order given, with the signing key's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRing {
    /// The state of each key, parallel to the input.
    pub states: Vec<KeyState>,
    /// The index of the key that signs, if any key of `signing_algorithm` has activated.
    pub current: Option<usize>,
}

/// Derives every key's state at `now`. The signing key is the newest activated, not
/// retired key of `signing_algorithm` (ties broken by the later `created_at`, then
/// `kid`, so that every instance picks the same one).
pub fn key_ring(
    keys: &[KeySchedule],
    signing_algorithm: KeyAlgorithm,
    policy: RetirementPolicy,
    now: DateTime<Utc>,
) -> KeyRing {
    let order = |k: &KeySchedule| (k.activates_at, k.created_at, k.kid.clone());
    let current = keys
        .iter()
        .enumerate()
        .filter(|(_, k)| {
            k.algorithm == signing_algorithm && k.activates_at <= now && !retired_by_hand(k, now)
        })
        .max_by_key(|(_, k)| order(k))
        .map(|(i, _)| i);
    let states = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            if retired_by_hand(key, now) {
                return KeyState::Retired;
            }
            if Some(i) == current {
                return KeyState::Current;
            }
            if key.activates_at > now {
                return KeyState::Next;
            }
            // Replaced: since the first key activated after it (of any algorithm).
            let replaced_at = keys
                .iter()
                .filter(|other| {
                    other.kid != key.kid
                        && other.activates_at <= now
                        && order(other) > order(key)
                        && !retired_by_hand(other, other.activates_at)
                })
                .map(|other| other.activates_at)
                .min();
            match replaced_at {
                Some(at) if now < at + policy.verify_for => KeyState::Retiring,
                Some(_) => KeyState::Retired,
                // Activated, not replaced, but not of the signing algorithm (the
                // deployment switched algorithms and the new key is not there yet): it
                // keeps verifying what it signed.
                None => KeyState::Retiring,
            }
        })
        .collect();
    KeyRing { states, current }
}

fn retired_by_hand(key: &KeySchedule, now: DateTime<Utc>) -> bool {
    key.retired_at.is_some_and(|at| at <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("valid time")
    }

    fn key(kid: &str, activates: i64) -> KeySchedule {
        KeySchedule {
            kid: kid.into(),
            algorithm: KeyAlgorithm::EdDsa,
            created_at: at(activates.min(1_000)),
            activates_at: at(activates),
            retired_at: None,
        }
    }

    const POLICY: RetirementPolicy = RetirementPolicy {
        verify_for: TimeDelta::seconds(900),
    };

    fn states(keys: &[KeySchedule], now: i64) -> Vec<KeyState> {
        key_ring(keys, KeyAlgorithm::EdDsa, POLICY, at(now)).states
    }

    use KeyState::{Current, Next, Retired, Retiring};

    #[test]
    fn a_rotation_publishes_first_signs_later_and_retires_after_the_longest_lifetime() {
        // a: current since 1000; b rotated in at 2000 with a 600 s publish delay.
        let keys = [key("a", 1_000), key("b", 2_600)];
        let table = [
            (1_500, [Current, Next]),
            (2_599, [Current, Next]),
            (2_600, [Retiring, Current]),
            (2_600 + 899, [Retiring, Current]),
            (2_600 + 900, [Retired, Current]),
        ];
        for (now, expected) in table {
            assert_eq!(states(&keys, now), expected, "at {now}");
        }
    }

    #[test]
    fn the_signing_key_is_the_newest_activated_one() {
        let keys = [key("a", 1_000), key("b", 1_200), key("c", 5_000)];
        let ring = key_ring(&keys, KeyAlgorithm::EdDsa, POLICY, at(1_300));
        assert_eq!(ring.current, Some(1));
        assert_eq!(ring.states, [Retiring, Current, Next]);
    }

    #[test]
    fn a_key_retired_by_hand_is_gone_at_once_and_the_newest_live_key_signs_again() {
        let mut keys = [key("a", 1_000), key("b", 2_000)];
        keys[1].retired_at = Some(at(2_500));
        // Before the retirement, b signs.
        assert_eq!(states(&keys, 2_400), [Retiring, Current]);
        // After: b is retired; a was replaced at 2000 and is still within its 900 s, so
        // it becomes the signer again only if nothing newer is live: it does sign (no
        // other key), which is what an operator who retires the only new key expects.
        let ring = key_ring(&keys, KeyAlgorithm::EdDsa, POLICY, at(2_501));
        assert_eq!(ring.states[1], Retired);
        assert_eq!(ring.current, Some(0));
    }

    #[test]
    fn a_key_of_another_algorithm_verifies_until_replaced_and_its_tokens_expire() {
        let mut es = key("es", 1_000);
        es.algorithm = KeyAlgorithm::Es256;
        // The deployment switched to EdDSA at 3000; its first EdDSA key activates then.
        let keys = [es.clone(), key("ed", 3_000)];
        assert_eq!(states(&keys, 2_000)[0], Retiring, "nothing signs EdDSA yet");
        assert_eq!(
            key_ring(&keys, KeyAlgorithm::EdDsa, POLICY, at(2_000)).current,
            None
        );
        assert_eq!(states(&keys, 3_000), [Retiring, Current]);
        assert_eq!(states(&keys, 3_900), [Retired, Current]);
    }

    #[test]
    fn no_key_means_no_signer() {
        let ring = key_ring(&[], KeyAlgorithm::Es256, POLICY, at(0));
        assert_eq!(ring.current, None);
        assert!(ring.states.is_empty());
    }

    #[test]
    fn jose_names_round_trip_and_unknown_names_are_refused() {
        for alg in [KeyAlgorithm::EdDsa, KeyAlgorithm::Es256] {
            assert_eq!(KeyAlgorithm::from_jose_name(alg.jose_name()), Some(alg));
        }
        for name in ["HS256", "none", "RS256", "eddsa", ""] {
            assert_eq!(KeyAlgorithm::from_jose_name(name), None, "{name}");
        }
    }

    #[test]
    fn only_retired_keys_stop_verifying() {
        assert!(Next.verifies() && Current.verifies() && Retiring.verifies());
        assert!(!Retired.verifies());
    }
}
