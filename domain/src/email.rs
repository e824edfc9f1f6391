//! The normalised email address of an account.
//!
//! This module owns the one way a string becomes an [`EmailAddress`]: trimmed, lowercased,
//! at most [`EmailAddress::MAX_LEN`] characters, and accepted by a real RFC 5322 parser
//! with a few stricter rules. Stored rows re-enter through the same [`EmailAddress::parse`].
//! It must not check uniqueness or deliverability (that is the database's and the mail
//! system's business) and must not do any I/O such as DNS look-ups.

use std::fmt;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// A trimmed, lowercased, syntactically valid email address.
///
/// Lowercasing the whole address (local part included) is a product decision: accounts
/// are unique case-insensitively, and every mail system that matters treats the local part
/// case-insensitively too.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

/// Why a string is not an acceptable [`EmailAddress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailAddressError {
    /// Nothing but whitespace was given.
    #[error("Email is required")]
    Empty,
    /// Longer than [`EmailAddress::MAX_LEN`] characters after trimming and lowercasing.
    #[error("Email must be at most 254 characters")]
    TooLong,
    /// Not an address the parser and the rules below accept.
    #[error("Invalid email format")]
    Invalid,
}

impl EmailAddress {
    /// The longest address accepted, in Unicode code points (RFC 3696 erratum 1690).
    pub const MAX_LEN: usize = 254;

    /// Normalises and validates `raw`.
    ///
    /// Trims, lowercases (Unicode), then rejects: an empty result ([`Empty`]), more than
    /// [`MAX_LEN`] characters ([`TooLong`]), and ([`Invalid`]) anything the
    /// `email_address` parser refuses, a display name (`Bob <bob@x.org>`), a domain
    /// literal (`a@[192.0.2.1]`), a domain without a dot or with a leading or trailing dot
    /// (`a@localhost`), and invisible or control characters.
    ///
    /// The output is a fixed point: `parse(e.as_str()) == Ok(e)`.
    ///
    /// # Errors
    ///
    /// [`EmailAddressError`] naming the first rule broken, in the order above.
    ///
    /// [`Empty`]: EmailAddressError::Empty
    /// [`TooLong`]: EmailAddressError::TooLong
    /// [`Invalid`]: EmailAddressError::Invalid
    /// [`MAX_LEN`]: EmailAddress::MAX_LEN
    pub fn parse(raw: &str) -> Result<EmailAddress, EmailAddressError> {
        let normalised = raw.trim().to_lowercase();
        if normalised.is_empty() {
            return Err(EmailAddressError::Empty);
        }
        // Counting code points, not bytes, so that the limit the client is told about
        // ("254 characters") is the one applied to non-ASCII addresses.
        if normalised.chars().count() > Self::MAX_LEN {
            return Err(EmailAddressError::TooLong);
        }
        if normalised.chars().any(is_hidden) {
            return Err(EmailAddressError::Invalid);
        }
        // Display names would make two strings name one account; domain literals are not
        // reachable mail for a web sign-up, and the original service (pydantic's
        // email-validator) refused them too.
        let options = email_address::Options::default()
            .without_display_text()
            .without_domain_literal()
            .with_required_tld();
        if email_address::EmailAddress::parse_with_options(&normalised, options).is_err() {
            return Err(EmailAddressError::Invalid);
        }
        // The parser already refuses empty labels; this states the rule in our own terms
        // so that a looser parser release cannot quietly let `a@localhost` through.
        let domain = normalised.rsplit_once('@').map_or("", |(_, domain)| domain);
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(EmailAddressError::Invalid);
        }
        Ok(EmailAddress(normalised))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Everything before the last `@` (a quoted local part keeps its quotes).
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(&self.0, |(local, _)| local)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Characters that would let two addresses look identical on screen (zero-width and
/// bidi controls, non-ASCII spaces) or that no mail system carries (controls).
///
/// The parser lets every non-ASCII character through as `atext`, so these need their
/// own rule. ASCII space and tab are left to the parser, which allows them only inside a
/// quoted local part.
fn is_hidden(c: char) -> bool {
    match c.general_category() {
        GeneralCategory::Control
        | GeneralCategory::Format
        | GeneralCategory::LineSeparator
        | GeneralCategory::ParagraphSeparator => true,
        GeneralCategory::SpaceSeparator => c != ' ',
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(raw: &str) -> String {
        match EmailAddress::parse(raw) {
            Ok(email) => email.as_str().to_owned(),
            Err(e) => panic!("{raw:?} should parse, got {e:?}"),
        }
    }

    /// A dotted ASCII domain of exactly `len` characters, every label within the
    /// parser's 63-character limit.
    fn domain_of_len(len: usize) -> String {
        let mut labels = Vec::new();
        let mut rest = len;
        while rest > 63 {
            // keep at least two characters for the last label
            let label = (rest - 3).min(63);
            labels.push("d".repeat(label));
            rest -= label + 1;
        }
        labels.push("o".repeat(rest));
        let domain = labels.join(".");
        assert_eq!(domain.len(), len);
        domain
    }

    /// An ASCII address of exactly `len` characters (`len` ≥ 69).
    fn address_of_len(len: usize) -> String {
        format!("{}@{}", "l".repeat(64), domain_of_len(len - 65))
    }

    #[test]
    fn table_of_accepted_addresses_and_their_normal_form() {
        let cases = [
            ("bob@example.com", "bob@example.com"),
            ("  Bob@Example.COM \t\n", "bob@example.com"),
            (
                "first.last+tag@sub.example.co.uk",
                "first.last+tag@sub.example.co.uk",
            ),
            ("ÜSER@EXAMPLE.ORG", "üser@example.org"),
            ("\u{a0}bob@example.com\u{a0}", "bob@example.com"),
            ("\"a b\"@example.com", "\"a b\"@example.com"),
            ("o'brien@example.ie", "o'brien@example.ie"),
            ("1@2.io", "1@2.io"),
        ];
        for (raw, expected) in cases {
            assert_eq!(ok(raw), expected, "input {raw:?}");
        }
    }

    #[test]
    fn table_of_rejected_addresses_and_their_error() {
        use EmailAddressError::*;
        let cases = [
            ("", Empty),
            ("   ", Empty),
            ("\t\n", Empty),
            ("no-at-sign", Invalid),
            ("@example.com", Invalid),
            ("bob@", Invalid),
            ("bob@localhost", Invalid),
            ("bob@.example.com", Invalid),
            ("bob@example.com.", Invalid),
            ("bob@example..com", Invalid),
            ("bob@[192.0.2.1]", Invalid),
            ("bob@[ipv6:2001:db8::1]", Invalid),
            ("Bob <bob@example.com>", Invalid),
            ("<bob@example.com>", Invalid),
            ("bo b@example.com", Invalid),
            ("bob@exa mple.com", Invalid),
            ("bob@b@example.com", Invalid),
            (".bob@example.com", Invalid),
            ("bob.@example.com", Invalid),
            ("bob@-example.com", Invalid),
            ("b\u{200b}ob@example.com", Invalid),
            ("bob\u{202e}@example.com", Invalid),
            ("b\u{a0}ob@example.com", Invalid),
            ("b\u{0}ob@example.com", Invalid),
        ];
        for (raw, expected) in cases {
            assert_eq!(EmailAddress::parse(raw), Err(expected), "input {raw:?}");
        }
    }

    #[test]
    fn address_of_254_chars_is_accepted_and_255_is_too_long() {
        assert_eq!(ok(&address_of_len(254)).len(), 254);
        assert_eq!(
            EmailAddress::parse(&address_of_len(255)),
            Err(EmailAddressError::TooLong)
        );
    }

    #[test]
    fn surrounding_whitespace_does_not_count_towards_the_length() {
        let padded = format!("   {}   ", address_of_len(254));
        assert_eq!(ok(&padded).len(), 254);
    }

    #[test]
    fn length_counts_code_points_not_bytes() {
        // 32 × 'é' is 64 bytes (the parser's local-part limit) but 32 characters.
        let local = "é".repeat(32);
        let address = format!("{local}@{}", domain_of_len(254 - 33));
        assert_eq!(address.chars().count(), 254);
        assert!(address.len() > 254);
        assert_eq!(ok(&address), address);
        let one_more = format!("{local}@x{}", domain_of_len(254 - 33));
        assert_eq!(
            EmailAddress::parse(&one_more),
            Err(EmailAddressError::TooLong)
        );
    }

    #[test]
    fn too_long_is_reported_before_invalid() {
        assert_eq!(
            EmailAddress::parse(&"x".repeat(300)),
            Err(EmailAddressError::TooLong)
        );
    }

    #[test]
    fn local_part_is_everything_before_the_last_at() {
        let email = EmailAddress::parse("Bob.Smith+x@Example.com").expect("valid");
        assert_eq!(email.local_part(), "bob.smith+x");
        let quoted = EmailAddress::parse("\"a@b\"@example.com").expect("valid");
        assert_eq!(quoted.local_part(), "\"a@b\"");
    }

    #[test]
    fn display_prints_the_normalised_address() {
        let email = EmailAddress::parse(" Bob@Example.com ").expect("valid");
        assert_eq!(email.to_string(), "bob@example.com");
    }

    #[test]
    fn error_messages_match_the_contract() {
        assert_eq!(EmailAddressError::Empty.to_string(), "Email is required");
        assert_eq!(
            EmailAddressError::TooLong.to_string(),
            "Email must be at most 254 characters"
        );
        assert_eq!(
            EmailAddressError::Invalid.to_string(),
            "Invalid email format"
        );
    }

    fn plausible_address() -> impl Strategy<Value = String> {
        (
            "[ \t]{0,2}",
            // at most 12 × 3 + 2 × 7 bytes: inside the parser's 64-byte local-part limit
            "[A-Za-z0-9ÀÉÏÕÜßİΣσ_%+-]{1,12}(\\.[A-Za-z0-9_+-]{1,6}){0,2}",
            "[A-Za-z0-9ÄÖ]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?(\\.[A-Za-z]{2,6}){1,3}",
            "[ \t\n]{0,2}",
        )
            .prop_map(|(lead, local, domain, trail)| format!("{lead}{local}@{domain}{trail}"))
    }

    fn any_input() -> impl Strategy<Value = String> {
        prop_oneof![
            plausible_address(),
            any::<String>(),
            "[a-z@. <>\"\\[\\]]{0,30}"
        ]
    }

    proptest! {
        #[test]
        fn parse_is_idempotent_on_its_output(raw in any_input()) {
            if let Ok(email) = EmailAddress::parse(&raw) {
                prop_assert_eq!(EmailAddress::parse(email.as_str()), Ok(email.clone()));
            }
        }

        #[test]
        fn output_is_lowercase_and_trimmed(raw in any_input()) {
            if let Ok(email) = EmailAddress::parse(&raw) {
                prop_assert_eq!(email.as_str(), email.as_str().trim());
                prop_assert_eq!(email.as_str().to_lowercase(), email.as_str());
            }
        }

        #[test]
        fn plausible_addresses_parse_to_their_trimmed_lowercase_form(raw in plausible_address()) {
            let email = EmailAddress::parse(&raw);
            prop_assert_eq!(email.map(|e| e.as_str().to_owned()), Ok(raw.trim().to_lowercase()));
        }

        // ASCII only: Unicode case mapping is not a round trip ('ß' uppercases to "SS").
        #[test]
        fn case_and_surrounding_whitespace_do_not_change_the_result(
            raw in "[A-Za-z0-9._+-]{0,10}[A-Za-z0-9]@[A-Za-z0-9]{1,10}\\.[A-Za-z]{2,6}"
        ) {
            prop_assert_eq!(
                EmailAddress::parse(&raw.to_uppercase()),
                EmailAddress::parse(&format!(" {} ", raw.to_lowercase()))
            );
        }

        #[test]
        fn every_accepted_address_is_at_most_254_chars_with_a_dotted_domain(raw in any_input()) {
            if let Ok(email) = EmailAddress::parse(&raw) {
                prop_assert!(email.as_str().chars().count() <= EmailAddress::MAX_LEN);
                let (local, domain) = email.as_str().rsplit_once('@').expect("has an @");
                prop_assert_eq!(local, email.local_part());
                prop_assert!(domain.contains('.'));
                prop_assert!(!domain.starts_with('.') && !domain.ends_with('.'));
            }
        }

        #[test]
        fn anything_longer_than_254_chars_is_too_long(raw in "[a-z@.]{255,400}") {
            prop_assert_eq!(EmailAddress::parse(&raw), Err(EmailAddressError::TooLong));
        }

        #[test]
        fn whitespace_only_input_is_empty(raw in "[ \t\r\n\u{a0}\u{2003}\u{3000}]{0,10}") {
            prop_assert_eq!(EmailAddress::parse(&raw), Err(EmailAddressError::Empty));
        }
    }
}
