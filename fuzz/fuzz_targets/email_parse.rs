//! `EmailAddress::parse` on arbitrary text: the output is the trimmed input, at most 254
//! characters with a dotted domain, and a fixed point of `parse`; its key is an address
//! whose key is itself, and lowercase; each error is the one its rule says.

#![no_main]

use domain::{EmailAddress, EmailAddressError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let normalised = raw.trim();
    let length = normalised.chars().count();
    match EmailAddress::parse(&raw) {
        Ok(email) => {
            let out = email.as_str();
            assert_eq!(out, normalised, "output is the trimmed input");
            let key = email.key().as_str();
            assert_eq!(key, key.to_lowercase(), "the key is lowercase");
            let again = EmailAddress::parse(key).expect("the key is an address");
            assert_eq!(again.key(), email.key(), "the key is its own key");
            assert!(
                length <= EmailAddress::MAX_LEN,
                "output is at most 254 chars"
            );
            let (local, domain) = out.rsplit_once('@').expect("an accepted address has an @");
            assert!(!local.is_empty(), "local part is not empty");
            assert_eq!(local, email.local_part());
            assert!(domain.contains('.'), "domain is dotted: {out:?}");
            assert!(
                !domain.starts_with('.') && !domain.ends_with('.'),
                "{out:?}"
            );
            assert_eq!(email.to_string(), out);
            assert_eq!(EmailAddress::parse(out), Ok(email.clone()), "fixed point");
        }
        Err(EmailAddressError::Empty) => assert!(normalised.is_empty()),
        Err(EmailAddressError::TooLong) => {
            assert!(length > EmailAddress::MAX_LEN, "too long at {length} chars");
        }
        Err(EmailAddressError::Invalid) => {
            assert!(!normalised.is_empty());
            assert!(
                length <= EmailAddress::MAX_LEN,
                "length is checked before syntax"
            );
        }
    }
});
