//! sea-orm entities: the rows as stored. Private to `persistence`; rows re-enter the
//! domain through its parsers in the repositories.

pub mod auth_events;
pub mod sessions;
pub mod users;
