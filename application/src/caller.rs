//! Who is calling, as far as the transport can tell: the resolved client IP and the
//! user agent. The HTTP adapter resolves the IP (peer address, trusted proxies); the
//! core only records it and keys limits on it.

use std::net::IpAddr;

use domain::ClientInfo;

/// The client behind a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// Resolved client IP; `None` when the transport could not tell.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header as sent, if any.
    pub user_agent: Option<String>,
}

impl Caller {
    /// What the audit log records of this caller (user agent cut to its maximum).
    pub fn client_info(&self) -> ClientInfo {
        ClientInfo::new(self.ip, self.user_agent.as_deref())
    }
}
