//! `PasswordPolicy::check` of a `PlaintextPassword` for an account's email: every rule is
//! reported exactly when it is broken, once, in the documented order.

#![no_main]

use arbitrary::Arbitrary;
use domain::{EmailAddress, PasswordPolicy, PasswordRule, PlaintextPassword, is_common_password};
use libfuzzer_sys::fuzz_target;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

#[derive(Debug, Arbitrary)]
enum Email {
    /// A fixed, valid address.
    Fixed,
    /// The fuzzer's own text, if it parses (the fixed address otherwise).
    Raw(String),
    /// `<password>@example.com`, so that `matches_email` is reachable.
    FromPassword,
}

#[derive(Debug, Arbitrary)]
struct Input {
    nist: bool,
    email: Email,
    password: String,
}

const ORDER: [PasswordRule; 7] = [
    PasswordRule::MinLength,
    PasswordRule::MaxLength,
    PasswordRule::Uppercase,
    PasswordRule::Lowercase,
    PasswordRule::Digit,
    PasswordRule::Common,
    PasswordRule::MatchesEmail,
];

fuzz_target!(|input: Input| {
    let policy = if input.nist {
        PasswordPolicy::Nist
    } else {
        PasswordPolicy::Compat
    };
    let fixed = || EmailAddress::parse("jane.doe@example.com").expect("valid email");
    let email = match &input.email {
        Email::Fixed => fixed(),
        Email::Raw(raw) => EmailAddress::parse(raw).unwrap_or_else(|_| fixed()),
        Email::FromPassword => EmailAddress::parse(&format!("{}@example.com", input.password))
            .unwrap_or_else(|_| fixed()),
    };
    let password = PlaintextPassword::new(input.password);
    let count = password.char_count();
    assert_eq!(count, password.expose().chars().count());
    // NFKC is idempotent: normalising the stored form again changes nothing.
    let again = PlaintextPassword::new(password.expose().to_owned());
    assert_eq!(again.expose(), password.expose());

    let (rules, messages) = match policy.check(&password, &email) {
        Ok(()) => (Vec::new(), Vec::new()),
        Err(violation) => {
            assert!(
                !violation.violations().is_empty(),
                "a violation is never empty"
            );
            let messages: Vec<String> = violation
                .violations()
                .iter()
                .map(|v| v.message.clone())
                .collect();
            (violation.rules(), messages)
        }
    };

    // No repeats, in the documented order.
    let positions: Vec<usize> = rules
        .iter()
        .map(|r| ORDER.iter().position(|o| o == r).expect("known rule"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{rules:?}");
    assert!(messages.iter().all(|m| !m.is_empty()));

    let has = |rule| rules.contains(&rule);
    assert_eq!(
        has(PasswordRule::MinLength),
        count < policy.min_length(),
        "{count} chars"
    );
    assert_eq!(
        has(PasswordRule::MaxLength),
        count > PasswordPolicy::MAX_LENGTH
    );
    let category = |c| {
        password
            .expose()
            .chars()
            .any(|ch| ch.general_category() == c)
    };
    let compat = policy == PasswordPolicy::Compat;
    assert_eq!(
        has(PasswordRule::Uppercase),
        compat && !category(GeneralCategory::UppercaseLetter)
    );
    assert_eq!(
        has(PasswordRule::Lowercase),
        compat && !category(GeneralCategory::LowercaseLetter)
    );
    assert_eq!(
        has(PasswordRule::Digit),
        compat && !category(GeneralCategory::DecimalNumber)
    );
    assert_eq!(
        has(PasswordRule::Common),
        is_common_password(password.expose())
    );
    // Compatibility caseless matching (Unicode D146, caseless's implementation) with the
    // address as typed and with its key, whole and local part alone.
    let matches =
        |other: &str| caseless::compatibility_caseless_match_str(password.expose(), other);
    assert_eq!(
        has(PasswordRule::MatchesEmail),
        matches(email.as_str())
            || matches(email.local_part())
            || matches(email.key().as_str())
            || matches(email.key().local_part())
    );
    if has(PasswordRule::MinLength) {
        assert!(messages[0].contains(&policy.min_length().to_string()));
    }
});
