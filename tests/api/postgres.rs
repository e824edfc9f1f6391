//! The same HTTP suites on PostgreSQL: a database created per test, dropped after it.

use crate::helpers::{Backend, TestApp, spawn_app_on};

pub async fn spawn_app() -> TestApp {
    spawn_app_on(Backend::Postgres, &[]).await
}

pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    spawn_app_on(Backend::Postgres, vars).await
}

#[path = "abuse.rs"]
mod abuse;
#[path = "account.rs"]
mod account;
#[path = "auth.rs"]
mod auth;
#[path = "email_forms.rs"]
mod email_forms;
#[path = "framework.rs"]
mod framework;
#[path = "races.rs"]
mod races;
#[path = "sdk.rs"]
mod sdk;
#[path = "tokens.rs"]
mod tokens;
