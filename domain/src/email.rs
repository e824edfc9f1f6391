//! An account's email address: as the user typed it, and its canonical key.
//!
//! This module owns the one way a string becomes an [`EmailAddress`]: trimmed, at most
//! [`EmailAddress::MAX_LEN`] characters, accepted by a real RFC 5322 parser with a few
//! stricter rules; and the one way an address becomes its [`EmailKey`], the string that
//! decides which account an address names. Stored rows re-enter through the same
//! [`EmailAddress::parse`]. It must not check uniqueness or deliverability (that is the
//! database's and the mail system's business) and must not do any I/O such as DNS
//! look-ups.
//!
//! Two strings are one account when their keys are equal: `josé` typed precomposed or
//! decomposed, in fullwidth forms, in any case, with needless quotes, at an IDN domain or
//! its punycode. Mail goes to the address as typed, which is why both are kept.
//!
//! Changing how a key is made (another Unicode version of the folding tables included)
//! changes the keys of stored accounts: it needs a migration that recomputes the stored
//! keys and refuses to merge accounts whose new keys collide, as
//! `m20260103_000001_email_key` does for the first keys.

use std::borrow::Cow;
use std::fmt;

use caseless::Caseless as _;
use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use unicode_normalization::UnicodeNormalization as _;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// A syntactically valid email address, kept as the user typed it (trimmed), with its
/// canonical [`EmailKey`].
///
/// The typed form is what mail goes to and what the API shows; the key is what
/// uniqueness, login look-up and the login throttle compare. Two addresses are the same
/// account when their keys are equal, whatever their typed forms.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmailAddress {
    typed: String,
    key: EmailKey,
}

/// The canonical form of an [`EmailAddress`]: equal for every way of typing one mailbox.
///
/// Local part: the content of a quoted local part (quotes and backslash escapes removed),
/// then compatibility caseless matching's normalisation (Unicode 3.13, D146:
/// NFD → full case folding → NFKD → full case folding → NFKC), quoted again only when the
/// result is not a dot-atom. Domain: UTS #46 (IDNA) to ASCII, which also folds case and
/// width. The key is itself an address that [`EmailAddress::parse`] accepts, and its own
/// key.
///
/// Lowercasing is not enough (`ß` and `SS`, final `ς` and `Σ` differ), and NFC alone does
/// not fold fullwidth forms (`ｊｏｓｅ` is NFC): hence full case folding and NFKC.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailKey(String);

/// Why a string is not an acceptable [`EmailAddress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailAddressError {
    /// Nothing but whitespace was given.
    #[error("Email is required")]
    Empty,
    /// Longer than [`EmailAddress::MAX_LEN`] characters after trimming.
    #[error("Email must be at most 254 characters")]
    TooLong,
    /// Not an address the parser and the rules below accept.
    #[error("Invalid email format")]
    Invalid,
}

impl EmailAddress {
    /// The longest address accepted, in Unicode code points (RFC 3696 erratum 1690).
    pub const MAX_LEN: usize = 254;

    /// Validates `raw` and computes its key.
    ///
    /// Trims, then rejects: an empty result ([`Empty`]), more than [`MAX_LEN`] characters
    /// ([`TooLong`]), and ([`Invalid`]) anything the `email_address` parser refuses, a
    /// display name (`Bob <bob@x.org>`), a domain literal (`a@[192.0.2.1]`), a domain
    /// without a dot or with a leading or trailing dot (`a@localhost`), invisible or
    /// control characters, a domain that UTS #46 refuses (or whose ASCII form is too long
    /// for DNS), and an address whose [`EmailKey`] would not itself be acceptable (a
    /// local part that grows past 64 bytes under NFKC, for instance).
    ///
    /// Case is kept: the typed form is what mail is sent to. The output is a fixed point:
    /// `parse(e.as_str()) == Ok(e)`.
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
        let typed = raw.trim();
        check_syntax(typed)?;
        let key = canonical_key(typed)?;
        // The key must be an address in its own right (it is stored, compared and could be
        // shown), and its own key, so that a stored key re-parses to itself.
        check_syntax(&key).map_err(|_| EmailAddressError::Invalid)?;
        Ok(EmailAddress {
            typed: typed.to_owned(),
            key: EmailKey(key),
        })
    }

    /// The address as typed, trimmed: where mail goes, what the API shows.
    pub fn as_str(&self) -> &str {
        &self.typed
    }

    /// The canonical key: what decides which account this address names.
    pub fn key(&self) -> &EmailKey {
        &self.key
    }

    /// Everything before the last `@` of the typed address (a quoted local part keeps its
    /// quotes).
    pub fn local_part(&self) -> &str {
        local_part(&self.typed)
    }
}

impl EmailKey {
    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Everything before the last `@` (a local part that needs quotes keeps them).
    pub fn local_part(&self) -> &str {
        local_part(&self.0)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.typed)
    }
}

impl fmt::Display for EmailKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn local_part(address: &str) -> &str {
    address.rsplit_once('@').map_or(address, |(local, _)| local)
}

/// The rules on the text of an address, trimmed already.
fn check_syntax(address: &str) -> Result<(), EmailAddressError> {
    if address.is_empty() {
        return Err(EmailAddressError::Empty);
    }
    // Counting code points, not bytes, so that the limit the client is told about
    // ("254 characters") is the one applied to non-ASCII addresses.
    if address.chars().count() > EmailAddress::MAX_LEN {
        return Err(EmailAddressError::TooLong);
    }
    if address.chars().any(is_hidden) {
        return Err(EmailAddressError::Invalid);
    }
    // Display names would make two strings name one account; domain literals are not
    // reachable mail for a web sign-up, and the original service (pydantic's
    // email-validator) refused them too.
    let options = email_address::Options::default()
        .without_display_text()
        .without_domain_literal()
        .with_required_tld();
    if email_address::EmailAddress::parse_with_options(address, options).is_err() {
        return Err(EmailAddressError::Invalid);
    }
    // The parser already refuses empty labels; this states the rule in our own terms
    // so that a looser parser release cannot quietly let `a@localhost` through.
    let domain = address.rsplit_once('@').map_or("", |(_, domain)| domain);
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err(EmailAddressError::Invalid);
    }
    Ok(())
}

/// The key of an address that [`check_syntax`] accepted.
fn canonical_key(address: &str) -> Result<String, EmailAddressError> {
    let (local, domain) = address.rsplit_once('@').ok_or(EmailAddressError::Invalid)?;
    let folded = fold(&unquote(local));
    if folded.chars().any(is_hidden) {
        return Err(EmailAddressError::Invalid);
    }
    let local = if is_dot_atom(&folded) {
        folded
    } else {
        quote(&folded)
    };
    // STD3 keeps a domain to letters, digits and hyphens once mapped, as a mail domain
    // must be; hyphens are checked only first and last, as the parser already does, so
    // that no address accepted before keys existed is refused for `ab--cd` labels.
    let domain = Uts46::new()
        .to_ascii(
            domain.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Verify,
        )
        .map_err(|_| EmailAddressError::Invalid)?;
    Ok(format!("{local}@{domain}"))
}

/// The content of a quoted local part (quotes dropped, `\x` read as `x`); any other local
/// part as it is.
fn unquote(local: &str) -> Cow<'_, str> {
    let Some(inner) = local
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return Cow::Borrowed(local);
    };
    let mut content = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => content.extend(chars.next()),
            c => content.push(c),
        }
    }
    Cow::Owned(content)
}

/// Compatibility caseless matching's normalisation (Unicode 3.13, D146), composed at the
/// end: two strings fold equal exactly when they are compatibility-caseless equal
/// (NFKC of two strings is equal exactly when their NFKD is). The leading NFD and the
/// second folding handle the characters whose folding and decomposition interact
/// (U+0345, U+1FC3).
pub(crate) fn fold(text: &str) -> String {
    text.chars()
        .nfd()
        .default_case_fold()
        .nfkd()
        .default_case_fold()
        .nfkc()
        .collect()
}

/// RFC 5322 `dot-atom-text` with RFC 6532's UTF-8: atoms of `atext` (or any non-ASCII
/// character) joined by single dots.
fn is_dot_atom(local: &str) -> bool {
    local.split('.').all(|atom| {
        !atom.is_empty()
            && atom.chars().all(|c| {
                !c.is_ascii() || c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
            })
    })
}

/// `content` as a quoted string, `"` and `\` escaped.
fn quote(content: &str) -> String {
    let mut quoted = String::with_capacity(content.len() + 2);
    quoted.push('"');
    for c in content.chars() {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
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

    fn key(raw: &str) -> String {
        match EmailAddress::parse(raw) {
            Ok(email) => email.key().as_str().to_owned(),
            Err(e) => panic!("{raw:?} should parse, got {e:?}"),
        }
    }

    #[test]
    fn table_of_accepted_addresses_their_typed_form_and_their_key() {
        let cases = [
            ("bob@example.com", "bob@example.com", "bob@example.com"),
            (
                "  Bob@Example.COM \t\n",
                "Bob@Example.COM",
                "bob@example.com",
            ),
            (
                "first.last+tag@sub.example.co.uk",
                "first.last+tag@sub.example.co.uk",
                "first.last+tag@sub.example.co.uk",
            ),
            ("ÜSER@EXAMPLE.ORG", "ÜSER@EXAMPLE.ORG", "üser@example.org"),
            (
                "\u{a0}bob@example.com\u{a0}",
                "bob@example.com",
                "bob@example.com",
            ),
            (
                "\"A b\"@example.com",
                "\"A b\"@example.com",
                "\"a b\"@example.com",
            ),
            (
                "o'brien@example.ie",
                "o'brien@example.ie",
                "o'brien@example.ie",
            ),
            ("1@2.io", "1@2.io", "1@2.io"),
            (
                "jos\u{e9}@b\u{fc}cher.de",
                "jos\u{e9}@b\u{fc}cher.de",
                "jos\u{e9}@xn--bcher-kva.de",
            ),
        ];
        for (raw, typed, expected_key) in cases {
            assert_eq!(ok(raw), typed, "typed form of {raw:?}");
            assert_eq!(key(raw), expected_key, "key of {raw:?}");
        }
    }

    /// Issue 13, part 3: each pair looked like (or named) one mailbox but made two
    /// accounts.
    #[test]
    fn table_of_look_alike_forms_that_share_one_key() {
        let cases = [
            // precomposed vs decomposed
            ("jos\u{e9}@example.com", "jose\u{301}@example.com"),
            // fullwidth local part; fullwidth domain letters
            ("ｊｏｓｅ@example.com", "jose@example.com"),
            ("jose@ｅｘａｍｐｌｅ.com", "jose@example.com"),
            ("ＪＯＳＥ＋１@example.com", "jose+1@example.com"),
            // an IDN domain vs its punycode, in any case and normalisation form
            ("jose@b\u{fc}cher.de", "jose@xn--bcher-kva.de"),
            ("jose@BU\u{308}CHER.DE", "jose@XN--BCHER-KVA.DE"),
            // quoted vs unquoted, escapes that change nothing
            ("\"jose\"@example.com", "jose@example.com"),
            ("\"jo\\se\"@example.com", "jose@example.com"),
            ("\"first.last\"@example.com", "First.Last@example.com"),
            // case: full folding, not lowercasing
            ("JOSÉ@EXAMPLE.COM", "josé@example.com"),
            ("stra\u{df}e@example.com", "STRASSE@example.com"),
            (
                "\u{3a3}\u{39f}\u{3a3}@example.gr",
                "\u{3c3}\u{3bf}\u{3c2}@example.gr",
            ),
            ("\u{1e9e}@example.com", "ss@example.com"),
            // compatibility forms: a ligature, a superscript, the Kelvin and ohm signs
            ("\u{fb01}le@example.com", "file@example.com"),
            ("x\u{b2}@example.com", "x2@example.com"),
            ("\u{212a}elvin@example.com", "kelvin@example.com"),
            ("\u{2126}@example.com", "\u{3c9}@example.com"),
        ];
        for (one, other) in cases {
            assert_eq!(key(one), key(other), "{one:?} and {other:?}");
            assert_ne!(ok(one), ok(other), "typed forms stay apart: {one:?}");
        }
    }

    #[test]
    fn different_mailboxes_keep_different_keys() {
        let cases = [
            ("jose@example.com", "jos\u{e9}@example.com"),
            ("a.b@example.com", "ab@example.com"),
            ("a+x@example.com", "a@example.com"),
            ("\"a b\"@example.com", "ab@example.com"),
            ("\"a.b\"@example.com", "\"a..b\"@example.com"),
            ("jose@example.com", "jose@example.org"),
            ("jose@bucher.de", "jose@b\u{fc}cher.de"),
            ("i@example.com", "\u{131}@example.com"),
        ];
        for (one, other) in cases {
            assert_ne!(key(one), key(other), "{one:?} and {other:?}");
        }
    }

    #[test]
    fn a_local_part_that_needs_quotes_keeps_them_in_the_key_even_when_typed_without() {
        // Fullwidth full stops and at signs are plain `atext` as typed; under NFKC they
        // become `.` and `@`, which only a quoted local part may hold as they stand.
        assert_eq!(
            key("a\u{ff0e}\u{ff0e}b@example.com"),
            "\"a..b\"@example.com"
        );
        assert_eq!(key("\"a..b\"@example.com"), "\"a..b\"@example.com");
        assert_eq!(key("x\u{ff20}y@example.com"), "\"x@y\"@example.com");
        assert_eq!(key("\"x@y\"@example.com"), "\"x@y\"@example.com");
        assert_eq!(key("\"A B\"@example.com"), "\"a b\"@example.com");
    }

    #[test]
    fn a_domain_that_idna_refuses_is_invalid() {
        for raw in [
            // not valid punycode
            "a@xn--zz.com".to_owned(),
            // a label of 60 characters that punycode makes longer than 63
            format!("a@{}.com", "\u{fc}".repeat(60)),
        ] {
            assert_eq!(
                EmailAddress::parse(&raw),
                Err(EmailAddressError::Invalid),
                "{raw:?}"
            );
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
        assert_eq!(email.local_part(), "Bob.Smith+x");
        assert_eq!(email.key().local_part(), "bob.smith+x");
        let quoted = EmailAddress::parse("\"a@b\"@example.com").expect("valid");
        assert_eq!(quoted.local_part(), "\"a@b\"");
        assert_eq!(quoted.key().local_part(), "\"a@b\"");
    }

    #[test]
    fn display_prints_the_address_as_typed_and_the_key_as_keyed() {
        let email = EmailAddress::parse(" Bob@Example.com ").expect("valid");
        assert_eq!(email.to_string(), "Bob@Example.com");
        assert_eq!(email.key().to_string(), "bob@example.com");
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
        fn output_is_trimmed_and_its_key_is_folded(raw in any_input()) {
            if let Ok(email) = EmailAddress::parse(&raw) {
                prop_assert_eq!(email.as_str(), email.as_str().trim());
                let key = email.key().as_str();
                prop_assert_eq!(fold(key), key);
            }
        }

        #[test]
        fn the_key_is_an_address_whose_key_is_itself(raw in any_input()) {
            if let Ok(email) = EmailAddress::parse(&raw) {
                let again = EmailAddress::parse(email.key().as_str());
                prop_assert_eq!(again.map(|e| e.key().clone()), Ok(email.key().clone()));
            }
        }

        #[test]
        fn plausible_addresses_parse_to_their_trimmed_form(raw in plausible_address()) {
            let email = EmailAddress::parse(&raw);
            prop_assert_eq!(email.map(|e| e.as_str().to_owned()), Ok(raw.trim().to_owned()));
        }

        #[test]
        fn case_normalisation_form_width_and_quotes_do_not_change_the_key(
            raw in plausible_address(),
        ) {
            let key = EmailAddress::parse(&raw).map(|e| e.key().clone());
            prop_assert!(key.is_ok(), "{:?}: {:?}", raw, key);
            let (local, domain) = raw.trim().rsplit_once('@').expect("has an @");
            let widened: String = local
                .chars()
                .map(|c| match c {
                    '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
                    c => c,
                })
                .collect();
            for variant in [
                raw.to_uppercase(),
                raw.to_lowercase(),
                raw.nfd().collect::<String>(),
                raw.nfkc().collect::<String>(),
                format!("\"{local}\"@{domain}"),
                format!("{widened}@{domain}"),
            ] {
                // A variant may be refused (uppercase or fullwidth forms can grow the
                // local part past 64 bytes); one that is accepted names the same account.
                if let Ok(email) = EmailAddress::parse(&variant) {
                    prop_assert_eq!(Ok(email.key().clone()), key.clone(), "{:?}", variant);
                }
            }
        }

        /// The key compares local parts as Unicode's compatibility caseless match does
        /// (caseless's own implementation of D146 is the oracle).
        #[test]
        fn keys_are_equal_exactly_when_local_parts_match_compatibility_caselessly(
            one in "[a-zA-Z\u{e9}\u{c9}\u{df}\u{3a3}\u{3c3}\u{3c2}\u{fb01}\u{ff41}-\u{ff43}\u{301}]{1,6}",
            other in "[a-zA-Z\u{e9}\u{c9}\u{df}\u{3a3}\u{3c3}\u{3c2}\u{fb01}\u{ff41}-\u{ff43}\u{301}]{1,6}",
        ) {
            let parse = |local: &str| EmailAddress::parse(&format!("x{local}@example.com"));
            if let (Ok(a), Ok(b)) = (parse(&one), parse(&other)) {
                prop_assert_eq!(
                    a.key() == b.key(),
                    caseless::compatibility_caseless_match_str(&one, &other)
                );
            }
        }

        // ASCII only: Unicode case mapping is not a round trip ('ß' uppercases to "SS").
        #[test]
        fn case_and_surrounding_whitespace_change_the_typed_form_but_not_the_key(
            raw in "[A-Za-z0-9._+-]{0,10}[A-Za-z0-9]@[A-Za-z0-9]{1,10}\\.[A-Za-z]{2,6}"
        ) {
            let upper = EmailAddress::parse(&raw.to_uppercase());
            let lower = EmailAddress::parse(&format!(" {} ", raw.to_lowercase()));
            prop_assert_eq!(
                upper.as_ref().map(EmailAddress::key),
                lower.as_ref().map(EmailAddress::key)
            );
            if let (Ok(upper), Ok(lower)) = (upper, lower) {
                prop_assert_eq!(upper.as_str(), raw.to_uppercase());
                prop_assert_eq!(lower.as_str(), raw.to_lowercase());
            }
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
