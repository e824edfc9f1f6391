//! The password policy (`PASSWORD_POLICY`): which passwords may be set.
//!
//! This module owns the rules of both policies, their order, their codes and messages, and
//! reporting every broken rule at once. It must not hash, compare with a stored hash or
//! read configuration: the policy is chosen by the caller and passed in.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use zeroize::Zeroizing;

use super::{PlaintextPassword, is_common_password};
use crate::EmailAddress;
use crate::email::fold;

/// Which set of rules a new password must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordPolicy {
    /// What the existing web client expects: 8 to 128 characters with an uppercase
    /// letter, a lowercase letter and a digit.
    #[default]
    Compat,
    /// NIST SP 800-63B rev 4 / ASVS 2.1: 15 to 128 characters, no composition rules.
    Nist,
}

impl PasswordPolicy {
    /// The longest password accepted, in code points after NFKC, under both policies.
    ///
    /// Long enough for any passphrase, short enough that hashing an attacker's input
    /// stays cheap.
    pub const MAX_LENGTH: usize = 128;

    /// Reads the configuration value: `compat` or `nist`, case-insensitive, trimmed.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("compat") {
            Some(Self::Compat)
        } else if s.eq_ignore_ascii_case("nist") {
            Some(Self::Nist)
        } else {
            None
        }
    }

    /// The configuration value naming this policy.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Compat => "compat",
            Self::Nist => "nist",
        }
    }

    /// The shortest password accepted, in code points after NFKC.
    pub fn min_length(&self) -> usize {
        match self {
            Self::Compat => 8,
            Self::Nist => 15,
        }
    }

    /// Checks `password` for the account `email` against every rule of this policy.
    ///
    /// Every rule is evaluated, so the user sees all that is wrong in one answer, listed
    /// in this order: `min_length`, `max_length`, then under [`Compat`](Self::Compat) only
    /// `uppercase` (a character of category Lu), `lowercase` (Ll), `digit` (Nd), then
    /// under both `common` and `matches_email`.
    ///
    /// # Errors
    ///
    /// [`PasswordPolicyViolation`] listing every broken rule.
    ///
    /// # Security
    ///
    /// Lowercased copies of the password are wiped when the check ends.
    pub fn check(
        &self,
        password: &PlaintextPassword,
        email: &EmailAddress,
    ) -> Result<(), PasswordPolicyViolation> {
        let mut broken = Vec::new();
        let length = password.char_count();
        if length < self.min_length() {
            broken.push(PasswordRule::MinLength);
        }
        if length > Self::MAX_LENGTH {
            broken.push(PasswordRule::MaxLength);
        }
        if *self == Self::Compat {
            let has = |category| {
                password
                    .expose()
                    .chars()
                    .any(|c| c.general_category() == category)
            };
            // General categories, not `char::is_uppercase`/`is_numeric`: those include
            // Other_Uppercase (🅰), Other_Lowercase (U+0345) and every numeric character
            // (Ⅻ, ½, 〇), which the contract does not count as letters or digits.
            if !has(GeneralCategory::UppercaseLetter) {
                broken.push(PasswordRule::Uppercase);
            }
            if !has(GeneralCategory::LowercaseLetter) {
                broken.push(PasswordRule::Lowercase);
            }
            if !has(GeneralCategory::DecimalNumber) {
                broken.push(PasswordRule::Digit);
            }
        }
        if is_common_password(password.expose()) {
            broken.push(PasswordRule::Common);
        }
        // Compared as the email key compares addresses (full case folding and NFKC), with
        // the address as typed and with its key (whose domain may be punycode), whole and
        // local part alone.
        let folded = Zeroizing::new(fold(password.expose()));
        let key = email.key();
        if [key.as_str(), key.local_part()].contains(&folded.as_str())
            || *folded == fold(email.as_str())
            || *folded == fold(email.local_part())
        {
            broken.push(PasswordRule::MatchesEmail);
        }

        if broken.is_empty() {
            Ok(())
        } else {
            Err(PasswordPolicyViolation {
                violations: broken
                    .into_iter()
                    .map(|rule| PasswordViolation {
                        rule,
                        message: rule.message(*self),
                    })
                    .collect(),
            })
        }
    }
}

/// One rule of the password policy, as reported in `details.violations[].rule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordRule {
    /// Shorter than the policy's minimum.
    MinLength,
    /// Longer than [`PasswordPolicy::MAX_LENGTH`].
    MaxLength,
    /// No uppercase letter (Unicode Lu); `compat` only.
    Uppercase,
    /// No lowercase letter (Unicode Ll); `compat` only.
    Lowercase,
    /// No decimal digit (Unicode Nd); `compat` only.
    Digit,
    /// In the shipped list of common passwords.
    Common,
    /// Equal to the email address or its local part, ignoring case.
    MatchesEmail,
}

impl PasswordRule {
    /// Every rule.
    pub const ALL: [PasswordRule; 7] = [
        Self::MinLength,
        Self::MaxLength,
        Self::Uppercase,
        Self::Lowercase,
        Self::Digit,
        Self::Common,
        Self::MatchesEmail,
    ];

    /// The rule's code in the API (`min_length`, `max_length`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MinLength => "min_length",
            Self::MaxLength => "max_length",
            Self::Uppercase => "uppercase",
            Self::Lowercase => "lowercase",
            Self::Digit => "digit",
            Self::Common => "common",
            Self::MatchesEmail => "matches_email",
        }
    }

    fn message(self, policy: PasswordPolicy) -> String {
        match self {
            Self::MinLength => format!(
                "Password must be at least {} characters",
                policy.min_length()
            ),
            Self::MaxLength => format!(
                "Password must be at most {} characters",
                PasswordPolicy::MAX_LENGTH
            ),
            Self::Uppercase => "Password must contain an uppercase letter".to_owned(),
            Self::Lowercase => "Password must contain a lowercase letter".to_owned(),
            Self::Digit => "Password must contain a digit".to_owned(),
            Self::Common => "Password is too common".to_owned(),
            Self::MatchesEmail => "Password must not match the email address".to_owned(),
        }
    }
}

/// One broken rule and the message shown for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordViolation {
    /// The broken rule.
    pub rule: PasswordRule,
    /// A sentence for the user, e.g. "Password must be at least 8 characters".
    pub message: String,
}

/// Every rule a password broke, in the policy's order; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Password does not meet requirements")]
pub struct PasswordPolicyViolation {
    violations: Vec<PasswordViolation>,
}

impl PasswordPolicyViolation {
    /// Builds a violation from a list of broken rules, or `None` if the list is empty
    /// (a violation of nothing is not a violation). Meant for tests and test doubles in
    /// other layers; the policy itself builds them in [`PasswordPolicy::check`].
    pub fn from_violations(violations: Vec<PasswordViolation>) -> Option<Self> {
        if violations.is_empty() {
            None
        } else {
            Some(Self { violations })
        }
    }

    /// The broken rules with their messages, in the policy's order.
    pub fn violations(&self) -> &[PasswordViolation] {
        &self.violations
    }

    /// Just the broken rules, in the policy's order.
    pub fn rules(&self) -> Vec<PasswordRule> {
        self.violations.iter().map(|v| v.rule).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::PasswordRule::*;
    use super::*;
    use proptest::prelude::*;

    fn email() -> EmailAddress {
        EmailAddress::parse("jane.doe@example.com").expect("valid email")
    }

    fn rules(policy: PasswordPolicy, raw: &str) -> Vec<PasswordRule> {
        match policy.check(&PlaintextPassword::new(raw.to_owned()), &email()) {
            Ok(()) => Vec::new(),
            Err(violation) => violation.rules(),
        }
    }

    const ORDER: [PasswordRule; 7] = [
        MinLength,
        MaxLength,
        Uppercase,
        Lowercase,
        Digit,
        Common,
        MatchesEmail,
    ];

    #[test]
    fn table_of_passwords_and_the_rules_they_break_under_compat() {
        let a128 = format!("Aa1{}", "x".repeat(125));
        let a129 = format!("Aa1{}", "x".repeat(126));
        let cases: Vec<(&str, Vec<PasswordRule>)> = vec![
            ("Tr0ub4dor&3x", vec![]),
            ("Aa1xxxx", vec![MinLength]),
            ("Aa1xxxxx", vec![]),
            (&a128, vec![]),
            (&a129, vec![MaxLength]),
            ("", vec![MinLength, Uppercase, Lowercase, Digit]),
            ("abcdefgh1", vec![Uppercase]),
            ("ABCDEFGH1", vec![Lowercase]),
            ("Abcdefghi", vec![Digit]),
            ("Password1", vec![Common]),
            ("password", vec![Uppercase, Digit, Common]),
            ("12345678", vec![Uppercase, Lowercase, Common]),
            ("Jane.Doe@Example.com1", vec![]),
            ("Jane.Doe@Example.com", vec![Digit, MatchesEmail]),
            ("JANE.DOE", vec![Lowercase, Digit, MatchesEmail]),
            ("Jane.Doe", vec![Digit, MatchesEmail]),
            ("ｐａｓｓｗｏｒｄ１Ａ", vec![]),
            ("Ｐａｓｓｗｏｒｄ１", vec![Common]),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                rules(PasswordPolicy::Compat, raw),
                expected,
                "password {raw:?}"
            );
        }
    }

    #[test]
    fn a_password_matching_the_email_in_another_case_or_form_is_refused() {
        let email = EmailAddress::parse("Stra\u{df}e.Doe@B\u{fc}cher.de").expect("valid email");
        for raw in [
            "STRASSE.DOE",
            "strasse.doe",
            "Stra\u{df}e.Doe@B\u{fc}cher.de",
            "STRASSE.DOE@BU\u{308}CHER.DE",
            "strasse.doe@xn--bcher-kva.de",
            "ｓｔｒａｓｓｅ.ｄｏｅ",
        ] {
            let rules =
                match PasswordPolicy::Nist.check(&PlaintextPassword::new(raw.into()), &email) {
                    Ok(()) => Vec::new(),
                    Err(violation) => violation.rules(),
                };
            assert!(rules.contains(&MatchesEmail), "{raw:?}: {rules:?}");
        }
    }

    #[test]
    fn table_of_passwords_and_the_rules_they_break_under_nist() {
        let long = "correct horse battery staple";
        let x128 = "x".repeat(128);
        let x129 = "x".repeat(129);
        let cases: Vec<(&str, Vec<PasswordRule>)> = vec![
            (long, vec![]),
            ("fourteen chars", vec![MinLength]),
            ("fifteen chars!!", vec![]),
            (&x128, vec![]),
            (&x129, vec![MaxLength]),
            ("", vec![MinLength]),
            ("password", vec![MinLength, Common]),
            ("jane.doe@example.com", vec![MatchesEmail]),
            ("JANE.DOE@EXAMPLE.COM", vec![MatchesEmail]),
            ("jane.doe", vec![MinLength, MatchesEmail]),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                rules(PasswordPolicy::Nist, raw),
                expected,
                "password {raw:?}"
            );
        }
    }

    #[test]
    fn password_of_seven_chars_violates_min_length_under_compat() {
        assert_eq!(rules(PasswordPolicy::Compat, "Xy3zQw9"), vec![MinLength]);
    }

    #[test]
    fn password_of_fourteen_chars_violates_min_length_under_nist() {
        assert_eq!(
            rules(PasswordPolicy::Nist, "Xy3zQw9Xy3zQw9"),
            vec![MinLength]
        );
    }

    #[test]
    fn password_breaking_three_rules_lists_all_three() {
        assert_eq!(
            rules(PasswordPolicy::Compat, "zq#v"),
            vec![MinLength, Uppercase, Digit]
        );
    }

    #[test]
    fn length_counts_code_points_after_nfkc_not_bytes() {
        // 8 code points, 16+ bytes
        assert_eq!(rules(PasswordPolicy::Compat, "Ωmega1éü"), vec![]);
        // U+FDFA is one code point that NFKC expands to 18
        assert!(!rules(PasswordPolicy::Compat, "\u{fdfa}").contains(&MinLength));
        // a decomposed é is two code points before NFKC, one after
        assert_eq!(
            rules(PasswordPolicy::Compat, "Aa1xxxe\u{301}"),
            vec![MinLength]
        );
    }

    #[test]
    fn uppercase_means_category_lu_not_the_uppercase_property() {
        // 🅰 (U+1F170) has Other_Uppercase but is a symbol (So), and NFKC keeps it.
        assert!('🅰'.is_uppercase());
        assert!(rules(PasswordPolicy::Compat, "abcdefg1🅰").contains(&Uppercase));
        assert!(!rules(PasswordPolicy::Compat, "abcdefg1Σ").contains(&Uppercase));
    }

    #[test]
    fn lowercase_means_category_ll_not_the_lowercase_property() {
        // U+0345 has Other_Lowercase but is a combining mark (Mn).
        assert!('\u{345}'.is_lowercase());
        assert!(rules(PasswordPolicy::Compat, "ABCDEFG1\u{345}").contains(&Lowercase));
        assert!(!rules(PasswordPolicy::Compat, "ABCDEFG1ß").contains(&Lowercase));
    }

    #[test]
    fn digit_means_category_nd_not_any_numeric_character() {
        // 〇 (Nl) and ፩ (No) are numeric but not decimal digits; NFKC keeps both.
        assert!('〇'.is_numeric() && '፩'.is_numeric());
        assert!(rules(PasswordPolicy::Compat, "Abcdefg〇፩").contains(&Digit));
        // Arabic-Indic three is Nd.
        assert!(!rules(PasswordPolicy::Compat, "Abcdefg٣").contains(&Digit));
    }

    #[test]
    fn messages_are_human_readable_and_name_the_policy_minimum() {
        let violation = PasswordPolicy::Compat
            .check(&PlaintextPassword::new(String::new()), &email())
            .expect_err("empty password is refused");
        let messages: Vec<&str> = violation
            .violations()
            .iter()
            .map(|v| v.message.as_str())
            .collect();
        assert_eq!(
            messages,
            [
                "Password must be at least 8 characters",
                "Password must contain an uppercase letter",
                "Password must contain a lowercase letter",
                "Password must contain a digit",
            ]
        );
        assert_eq!(violation.to_string(), "Password does not meet requirements");

        let nist = PasswordPolicy::Nist
            .check(&PlaintextPassword::new("x".repeat(129)), &email())
            .expect_err("too long");
        assert_eq!(
            nist.violations()[0].message,
            "Password must be at most 128 characters"
        );
        let short = PasswordPolicy::Nist
            .check(&PlaintextPassword::new("password".into()), &email())
            .expect_err("short and common");
        let messages: Vec<&str> = short
            .violations()
            .iter()
            .map(|v| v.message.as_str())
            .collect();
        assert_eq!(
            messages,
            [
                "Password must be at least 15 characters",
                "Password is too common"
            ]
        );
        let matches = PasswordPolicy::Nist
            .check(
                &PlaintextPassword::new("jane.doe@example.com".into()),
                &email(),
            )
            .expect_err("matches the email");
        assert_eq!(
            matches.violations()[0].message,
            "Password must not match the email address"
        );
    }

    #[test]
    fn rule_codes_match_the_contract() {
        let codes: Vec<&str> = ORDER.iter().map(PasswordRule::code).collect();
        assert_eq!(
            codes,
            [
                "min_length",
                "max_length",
                "uppercase",
                "lowercase",
                "digit",
                "common",
                "matches_email"
            ]
        );
    }

    #[test]
    fn policy_names_parse_case_insensitively_and_trimmed() {
        let cases = [
            ("compat", Some(PasswordPolicy::Compat)),
            (" COMPAT ", Some(PasswordPolicy::Compat)),
            ("nist", Some(PasswordPolicy::Nist)),
            ("Nist\n", Some(PasswordPolicy::Nist)),
            ("", None),
            ("nist800", None),
            ("strict", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(PasswordPolicy::parse(raw), expected, "input {raw:?}");
        }
        for policy in [PasswordPolicy::Compat, PasswordPolicy::Nist] {
            assert_eq!(PasswordPolicy::parse(policy.as_str()), Some(policy));
        }
    }

    #[test]
    fn the_default_policy_is_compat_with_minimum_8_and_nist_has_15() {
        assert_eq!(PasswordPolicy::default(), PasswordPolicy::Compat);
        assert_eq!(PasswordPolicy::Compat.min_length(), 8);
        assert_eq!(PasswordPolicy::Nist.min_length(), 15);
        assert_eq!(PasswordPolicy::MAX_LENGTH, 128);
    }

    #[test]
    fn a_violation_of_nothing_cannot_be_built() {
        assert_eq!(PasswordPolicyViolation::from_violations(Vec::new()), None);
        let one = PasswordPolicyViolation::from_violations(vec![PasswordViolation {
            rule: Common,
            message: "Password is too common".into(),
        }])
        .expect("non-empty");
        assert_eq!(one.rules(), vec![Common]);
    }

    fn policy() -> impl Strategy<Value = PasswordPolicy> {
        prop_oneof![Just(PasswordPolicy::Compat), Just(PasswordPolicy::Nist)]
    }

    /// The rules a password built from known parts must break, worked out from how it
    /// was built rather than by re-running the policy's own character tests.
    fn expected_rules(
        policy: PasswordPolicy,
        password: &str,
        has_upper: bool,
        has_lower: bool,
        has_digit: bool,
    ) -> Vec<PasswordRule> {
        let length = password.chars().count();
        let mut expected = Vec::new();
        if length < policy.min_length() {
            expected.push(MinLength);
        }
        if length > PasswordPolicy::MAX_LENGTH {
            expected.push(MaxLength);
        }
        if policy == PasswordPolicy::Compat {
            if !has_upper {
                expected.push(Uppercase);
            }
            if !has_lower {
                expected.push(Lowercase);
            }
            if !has_digit {
                expected.push(Digit);
            }
        }
        if is_common_password(password) {
            expected.push(Common);
        }
        let lowered = password.to_lowercase();
        if lowered == "jane.doe@example.com" || lowered == "jane.doe" {
            expected.push(MatchesEmail);
        }
        expected
    }

    proptest! {
        #[test]
        fn any_password_of_at_most_7_code_points_violates_min_length_under_compat(
            raw in "\\PC{0,7}"
        ) {
            let password = PlaintextPassword::new(raw);
            prop_assume!(password.char_count() <= 7);
            prop_assert!(rules(PasswordPolicy::Compat, password.expose()).contains(&MinLength));
        }

        #[test]
        fn min_length_is_reported_exactly_when_the_password_is_too_short(
            policy in policy(),
            raw in "\\PC{0,20}",
        ) {
            let password = PlaintextPassword::new(raw);
            let broken = policy.check(&password, &email()).err().map(|v| v.rules()).unwrap_or_default();
            prop_assert_eq!(
                broken.contains(&MinLength),
                password.char_count() < policy.min_length()
            );
        }

        #[test]
        fn max_length_is_reported_exactly_when_the_password_is_too_long(
            policy in policy(),
            raw in "[a-zA-Z0-9 ]{120,140}",
        ) {
            let broken = rules(policy, &raw);
            prop_assert_eq!(broken.contains(&MaxLength), raw.chars().count() > 128);
        }

        #[test]
        fn every_violation_list_is_complete(
            policy in policy(),
            has_upper in any::<bool>(),
            has_lower in any::<bool>(),
            has_digit in any::<bool>(),
            filler in "[!#$%&*+,./:;=?@^_~ -]{0,140}",
            insert_at in any::<prop::sample::Index>(),
        ) {
            let mut parts = String::new();
            if has_upper { parts.push('Q'); }
            if has_lower { parts.push('w'); }
            if has_digit { parts.push('7'); }
            let mut password: Vec<char> = filler.chars().collect();
            let at = insert_at.index(password.len() + 1);
            password.splice(at..at, parts.chars());
            let password: String = password.into_iter().collect();
            let expected = expected_rules(policy, &password, has_upper, has_lower, has_digit);
            prop_assert_eq!(rules(policy, &password), expected);
        }

        #[test]
        fn common_passwords_are_reported_alongside_their_other_broken_rules(
            policy in policy(),
            index in 0usize..10_000,
        ) {
            let common = super::super::common::entry(index).expect("list has 10,000 entries");
            let broken = rules(policy, common);
            prop_assert!(broken.contains(&Common));
            let expected = expected_rules(
                policy,
                common,
                false,
                common.chars().any(|c| c.is_ascii_lowercase()),
                common.chars().any(|c| c.is_ascii_digit()),
            );
            prop_assert_eq!(broken, expected);
        }

        #[test]
        fn violations_come_in_the_documented_order_without_repeats(
            policy in policy(),
            raw in "\\PC{0,140}",
        ) {
            let broken = rules(policy, &raw);
            let positions: Vec<usize> = broken
                .iter()
                .map(|r| ORDER.iter().position(|o| o == r).expect("known rule"))
                .collect();
            prop_assert!(positions.windows(2).all(|w| w[0] < w[1]), "{:?}", broken);
        }

        #[test]
        fn nist_never_reports_composition_rules(raw in "\\PC{0,140}") {
            let broken = rules(PasswordPolicy::Nist, &raw);
            prop_assert!(!broken.iter().any(|r| matches!(r, Uppercase | Lowercase | Digit)));
        }

        #[test]
        fn messages_agree_with_rules(policy in policy(), raw in "\\PC{0,20}") {
            if let Err(violation) = policy.check(&PlaintextPassword::new(raw), &email()) {
                prop_assert!(!violation.violations().is_empty());
                for v in violation.violations() {
                    prop_assert_eq!(&v.message, &v.rule.message(policy));
                }
            }
        }
    }
}
