//! The shipped list of common passwords and the membership test on it.
//!
//! This module owns loading `common-passwords.txt` (compiled into the binary) once, and
//! the case-insensitive look-up. It must not read files at run time, nor decide what a
//! hit means: that is the policy's job.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::LazyLock;

use zeroize::Zeroizing;

/// The list's text, compiled in so that no deployment can run without it.
const LIST: &str = include_str!("common-passwords.txt");

/// Entries lowercased; `Cow` borrows the (already lowercase) lines from the binary and
/// only allocates for an entry that someone adds in mixed case later.
static COMMON: LazyLock<HashSet<Cow<'static, str>>> = LazyLock::new(|| {
    entries()
        .map(|entry| {
            if entry.chars().any(|c| c.to_lowercase().ne([c])) {
                Cow::Owned(entry.to_lowercase())
            } else {
                Cow::Borrowed(entry)
            }
        })
        .collect()
});

/// The list's entries as written: one per line, `#` lines and blank lines skipped.
fn entries() -> impl Iterator<Item = &'static str> {
    LIST.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// The `index`-th entry of the list as written, for other modules' tests.
#[cfg(test)]
pub(super) fn entry(index: usize) -> Option<&'static str> {
    entries().nth(index)
}

/// Whether `password`, compared case-insensitively, is in the shipped list of at least
/// 10,000 common passwords.
///
/// Callers pass the NFKC-normalised password ([`PlaintextPassword::expose`]), so that a
/// full-width `ｐａｓｓｗｏｒｄ` is caught as well.
///
/// # Security
///
/// The lowercased copy is wiped after the look-up. The time taken depends on the
/// password, which is acceptable: the check runs on a password the caller already holds
/// in clear, before anything is stored or compared with a secret.
///
/// [`PlaintextPassword::expose`]: crate::PlaintextPassword::expose
pub fn is_common_password(password: &str) -> bool {
    let lowered = Zeroizing::new(password.to_lowercase());
    COMMON.contains(lowered.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_list_has_at_least_ten_thousand_distinct_entries() {
        assert!(COMMON.len() >= 10_000, "only {} entries", COMMON.len());
    }

    #[test]
    fn the_list_has_no_duplicate_or_untrimmed_or_mixed_case_lines() {
        let mut seen = HashSet::new();
        for line in LIST.lines().filter(|l| !l.starts_with('#')) {
            assert!(!line.is_empty(), "blank line in the list");
            assert_eq!(line, line.trim(), "untrimmed entry {line:?}");
            assert_eq!(line, line.to_lowercase(), "mixed-case entry {line:?}");
            assert!(seen.insert(line), "duplicate entry {line:?}");
        }
    }

    #[test]
    fn the_list_starts_with_a_header_naming_its_source_and_licence() {
        let header: Vec<&str> = LIST.lines().take_while(|l| l.starts_with('#')).collect();
        let header = header.join("\n");
        assert!(header.contains("zxcvbn"));
        assert!(header.contains("MIT"));
        assert!(header.contains("Copyright (c) 2012-2016 Dan Wheeler and Dropbox, Inc."));
    }

    #[test]
    fn well_known_passwords_are_common_in_any_case() {
        for password in [
            "password",
            "123456",
            "qwerty",
            "PASSWORD",
            "Password1",
            "iloveyou",
        ] {
            assert!(is_common_password(password), "{password}");
        }
    }

    #[test]
    fn unusual_passwords_are_not_common() {
        for password in [
            "",
            "#",
            "correct horse battery staple",
            "Zq8!vN3#pL0@",
            "пароль-Ω-42",
        ] {
            assert!(!is_common_password(password), "{password}");
        }
    }

    #[test]
    fn header_lines_are_not_entries() {
        assert!(!is_common_password(
            "# common passwords, most frequent first, one per line (30,000 entries, all lowercase)."
        ));
    }

    proptest! {
        #[test]
        fn membership_ignores_ascii_case(index in 0usize..10_000, flips in any::<u64>()) {
            let entry = entries().nth(index).expect("list has 10,000 entries");
            let mixed: String = entry
                .chars()
                .enumerate()
                .map(|(i, c)| if flips >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect();
            prop_assert!(is_common_password(&mixed), "{}", mixed);
        }
    }
}
