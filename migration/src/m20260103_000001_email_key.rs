//! `users.email_key`: the canonical key of each account's address (`domain::EmailKey`),
//! unique, beside `email`, which from now on keeps the address as the user typed it
//! (trimmed). Uniqueness, login look-up and the login throttle compare keys, so that one
//! mailbox typed in another Unicode form, width, case, quoting or as punycode is one
//! account.
//!
//! The backfill computes each key with the domain's own `EmailAddress::parse`, not with a
//! copy frozen here: a key that differed from what login computes would lock the account
//! out. The price is that this migration follows the domain's key; a later change of the
//! key needs its own migration that recomputes `email_key` the same way.
//!
//! Two existing accounts whose addresses now share a key are never merged, and never
//! silently kept apart: the migration fails before it changes anything, naming every
//! such group (ids and stored addresses) and every stored address that no longer parses,
//! so that an operator decides which account keeps the address. Running it again after
//! the fix applies it. It runs in one transaction on both backends.
//!
//! The unique index on `lower(email)` goes: the key is the one rule for uniqueness, and
//! `lower()` follows the database's locale (PostgreSQL's Turkish `I` lowers to `ı`), which
//! could refuse an address whose key is free. The unique index on `email` stays (two
//! accounts cannot have one typed address when they cannot have one key).

use std::collections::BTreeMap;

use domain::EmailAddress;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Email,
    EmailKey,
}

const KEY_INDEX: &str = "ux_users_email_key";
const LOWER_INDEX: &str = "ux_users_email_lower";
/// SQLite's stand-in for NOT NULL on `email_key`: (trigger, event).
const SQLITE_TRIGGERS: [(&str, &str); 2] = [
    ("users_email_key_on_insert", "INSERT"),
    ("users_email_key_on_update", "UPDATE OF email_key"),
];

/// An account as the backfill reads it.
struct Account {
    id: String,
    email: String,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let accounts = accounts(manager).await?;
        let keys = keys(&accounts).map_err(DbErr::Migration)?;

        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::EmailKey).string_len(254).null())
                    .to_owned(),
            )
            .await?;
        for (account, key) in accounts.iter().zip(&keys) {
            // `email` is unique (ux_users_email): it names the row without reading the id
            // back in each backend's own uuid encoding.
            manager
                .exec_stmt(
                    Query::update()
                        .table(Users::Table)
                        .value(Users::EmailKey, key.as_str())
                        .and_where(Expr::col(Users::Email).eq(account.email.as_str()))
                        .to_owned(),
                )
                .await?;
        }
        // A writer that forgets the key (a manual fix-up, an import) must be refused, not
        // let in beside a look-alike: NOT NULL on PostgreSQL; SQLite cannot add NOT NULL
        // to an existing column without rebuilding the table, so triggers say it there.
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .modify_column(ColumnDef::new(Users::EmailKey).string_len(254).not_null())
                        .to_owned(),
                )
                .await?;
        } else {
            for (trigger, event) in SQLITE_TRIGGERS {
                manager
                    .get_connection()
                    .execute_unprepared(&format!(
                        "CREATE TRIGGER {trigger} BEFORE {event} ON users \
                         FOR EACH ROW WHEN NEW.email_key IS NULL \
                         BEGIN SELECT RAISE(ABORT, 'NOT NULL constraint failed: users.email_key'); END"
                    ))
                    .await?;
            }
        }
        manager
            .create_index(
                Index::create()
                    .name(KEY_INDEX)
                    .table(Users::Table)
                    .col(Users::EmailKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(LOWER_INDEX)
                    .table(Users::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            for (trigger, _) in SQLITE_TRIGGERS {
                manager
                    .get_connection()
                    .execute_unprepared(&format!("DROP TRIGGER {trigger}"))
                    .await?;
            }
        }
        manager
            .drop_index(Index::drop().name(KEY_INDEX).table(Users::Table).to_owned())
            .await?;
        // The earlier schema kept addresses trimmed and lowercased (Rust's Unicode
        // lowercase) and looked them up so: put them back in that form. Two addresses
        // that lowercase alike share a key, so this cannot make two rows equal.
        for account in accounts(manager).await? {
            let lowered = account.email.trim().to_lowercase();
            if lowered != account.email {
                manager
                    .exec_stmt(
                        Query::update()
                            .table(Users::Table)
                            .value(Users::Email, lowered)
                            .and_where(Expr::col(Users::Email).eq(account.email))
                            .to_owned(),
                    )
                    .await?;
            }
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::EmailKey)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE UNIQUE INDEX {LOWER_INDEX} ON users (lower(email))"
            ))
            .await
            .map(|_| ())
    }

    // A failed backfill must leave the schema as it found it, on SQLite too.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Every account's id (as text, for the report) and stored address.
async fn accounts(manager: &SchemaManager<'_>) -> Result<Vec<Account>, DbErr> {
    let backend = manager.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT id::text AS id, email FROM users ORDER BY created_at, id",
        // sqlx stores a uuid as a 16-byte blob on SQLite.
        _ => {
            "SELECT CASE typeof(id) WHEN 'blob' THEN lower(hex(id)) ELSE id END AS id, email \
             FROM users ORDER BY created_at, id"
        }
    };
    manager
        .get_connection()
        .query_all_raw(Statement::from_string(backend, sql))
        .await?
        .into_iter()
        .map(|row| {
            Ok(Account {
                id: hyphenated(row.try_get::<String>("", "id")?),
                email: row.try_get::<String>("", "email")?,
            })
        })
        .collect()
}

/// A uuid's 32 hex digits in the usual 8-4-4-4-12 form; anything else as it is.
fn hyphenated(id: String) -> String {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!(
            "{}-{}-{}-{}-{}",
            &id[..8],
            &id[8..12],
            &id[12..16],
            &id[16..20],
            &id[20..]
        )
    } else {
        id
    }
}

/// The key of each account, in order; or the report of every account that cannot have
/// one: groups whose keys collide, and addresses that no longer parse.
fn keys(accounts: &[Account]) -> Result<Vec<String>, String> {
    let mut keys = Vec::with_capacity(accounts.len());
    let mut by_key: BTreeMap<String, Vec<&Account>> = BTreeMap::new();
    let mut unparseable = Vec::new();
    for account in accounts {
        match EmailAddress::parse(&account.email) {
            Ok(email) => {
                let key = email.key().as_str().to_owned();
                by_key.entry(key.clone()).or_default().push(account);
                keys.push(key);
            }
            Err(err) => unparseable.push(format!("{} {:?} ({err})", account.id, account.email)),
        }
    }
    let collisions: Vec<String> = by_key
        .iter()
        .filter(|(_, group)| group.len() > 1)
        .map(|(key, group)| {
            let members: Vec<String> = group
                .iter()
                .map(|a| format!("{} {:?}", a.id, a.email))
                .collect();
            format!("key {key:?}: {}", members.join(", "))
        })
        .collect();
    if collisions.is_empty() && unparseable.is_empty() {
        return Ok(keys);
    }
    let mut report = String::from(
        "cannot give every account a unique email key; nothing was changed. Resolve these \
         accounts (keep one address per group: change or delete the others) and migrate again.",
    );
    if !collisions.is_empty() {
        report.push_str(&format!(
            "\nAccounts whose addresses are now one account ({} groups):\n  {}",
            collisions.len(),
            collisions.join("\n  ")
        ));
    }
    if !unparseable.is_empty() {
        report.push_str(&format!(
            "\nAccounts whose stored address no longer parses ({}):\n  {}",
            unparseable.len(),
            unparseable.join("\n  ")
        ));
    }
    Err(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str, email: &str) -> Account {
        Account {
            id: id.to_owned(),
            email: email.to_owned(),
        }
    }

    #[test]
    fn distinct_accounts_get_their_keys_in_order() {
        let accounts = [
            account("1", "Jose@Example.com"),
            account("2", "ada@b\u{fc}cher.de"),
        ];
        assert_eq!(
            keys(&accounts),
            Ok(vec![
                "jose@example.com".to_owned(),
                "ada@xn--bcher-kva.de".to_owned()
            ])
        );
    }

    #[test]
    fn accounts_whose_keys_collide_are_reported_by_group_with_ids_and_addresses() {
        let accounts = [
            account("1", "jos\u{e9}@example.com"),
            account("2", "ada@example.com"),
            account("3", "jose\u{301}@example.com"),
            account("4", "ada@xn--bcher-kva.de"),
            account("5", "ada@b\u{fc}cher.de"),
            account("6", "not an address"),
        ];
        let report = keys(&accounts).expect_err("collisions are refused");
        assert!(report.contains("nothing was changed"), "{report}");
        assert!(report.contains("(2 groups)"), "{report}");
        assert!(
            report.contains(
                "key \"ada@xn--bcher-kva.de\": 4 \"ada@xn--bcher-kva.de\", 5 \"ada@bücher.de\""
            ),
            "{report}"
        );
        // Debug escapes the combining accent: the two addresses are told apart on screen.
        assert!(
            report.contains("1 \"josé@example.com\", 3 \"jose\\u{301}@example.com\""),
            "{report}"
        );
        assert!(
            report.contains("no longer parses (1):\n  6 \"not an address\""),
            "{report}"
        );
        assert!(!report.contains("2 \"ada@example.com\""), "{report}");
    }

    #[test]
    fn a_uuid_in_hex_is_hyphenated_and_anything_else_kept() {
        assert_eq!(
            hyphenated("0190a1b2c3d47e8f9a0b1c2d3e4f5a6b".to_owned()),
            "0190a1b2-c3d4-7e8f-9a0b-1c2d3e4f5a6b"
        );
        assert_eq!(
            hyphenated("0190a1b2-c3d4-7e8f-9a0b-1c2d3e4f5a6b".to_owned()),
            "0190a1b2-c3d4-7e8f-9a0b-1c2d3e4f5a6b"
        );
    }
}
