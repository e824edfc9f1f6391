//! The policies the use cases apply, chosen at start-up.

use domain::{PasswordPolicy, TokenPolicy};

/// Policies the use cases apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Token lifetime, issuer, audience, leeway.
    pub token_policy: TokenPolicy,
    /// Which password rules apply.
    pub password_policy: PasswordPolicy,
}
