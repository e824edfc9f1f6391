//! The tests that need a PostgreSQL server and have nothing to fall back on: two
//! instances on one database, outages and slow or stuck databases through a proxy, migrations run by the binary,
//! what a login notifies, query plans. They run under a harness of their own (libtest-mimic), because libtest's
//! `#[test]` can only pass or fail: without a server these report themselves *ignored*,
//! where returning early made them count as passed. Under `CI=true` an unreachable
//! server fails them instead. With a server they run as any test does, under the names
//! they always had (`instances::…`, `faults::…`, `binary::…`, `plans::…`).
//!
//! Each is an `async fn` beside the tests of its topic, inside `needs_postgres! { … }`,
//! which compiles it here and leaves it out of the `api` target (as the files'
//! `#[test]` functions are left out here: this target is built without `--test`), and
//! is listed in [`main`]. A test not listed is dead code, which the lints report.

use std::future::Future;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

/// The PostgreSQL-only items of the files below: compiled here (see `api/main.rs`).
macro_rules! needs_postgres {
    ($($item:item)*) => { $($item)* };
}

// The files below also hold `api`'s tests and their helpers, which are not compiled or
// not used here.
#[allow(dead_code, unused_imports)]
mod binary;
#[allow(dead_code)]
mod faults;
#[allow(dead_code)]
mod helpers;
mod instances;
mod notifications;
mod plans;

/// `module::test` as a trial of that name.
macro_rules! trials {
    ($($module:ident :: $test:ident),* $(,)?) => {
        vec![$(on_postgres(concat!(stringify!($module), "::", stringify!($test)), $module::$test)),*]
    };
}

fn main() {
    let trials = trials![
        binary::every_signup_that_got_its_201_survives_a_sigkill_on_postgresql,
        binary::migrate_status_lists_the_migrations_on_postgresql_too,
        binary::two_migrate_up_started_together_on_a_fresh_postgresql_database_both_succeed,
        faults::a_database_outage_answers_503_keeps_health_up_and_recovers_without_a_restart,
        faults::a_black_holed_database_answers_503_within_the_request_deadline_and_ready_within_its_own_timeout,
        faults::a_slow_database_cannot_hold_a_request_past_its_deadline,
        faults::postgres_cuts_a_statement_at_the_statement_timeout_with_503,
        faults::postgres_connections_carry_the_statement_timeout_and_server_side_keepalives,
        instances::logout_through_one_instance_is_refused_at_once_there_and_within_a_second_by_another,
        instances::a_password_change_through_one_instance_revokes_the_other_sessions_on_another_within_a_second,
        instances::deactivation_through_one_instance_is_refused_at_once_there_and_within_a_second_by_another,
        instances::a_listener_that_dies_silently_stops_the_cache_within_a_second,
        notifications::a_login_notifies_the_other_instances_and_a_refused_one_does_not,
        plans::the_security_log_and_session_queries_use_their_indexes_on_postgresql,
    ];
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}

/// A trial that runs `test` on a runtime of its own (as `#[tokio::test]` does) when a
/// PostgreSQL server answers; is ignored when none does; fails under `CI=true` then.
fn on_postgres<F>(name: &'static str, test: fn() -> F) -> Trial
where
    F: Future<Output = ()> + 'static,
{
    Trial::ignorable_test(name, move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failed::from(format!("a runtime: {e}")))?;
        runtime.block_on(async {
            if let Err(err) = testkit::postgres::reachable().await {
                let base = testkit::postgres::base();
                if testkit::postgres::required() {
                    return Err(Failed::from(format!(
                        "PostgreSQL is not reachable at {base} ({err}); CI runs the PostgreSQL tests for real"
                    )));
                }
                return Ok(Completion::ignored_with(format!(
                    "PostgreSQL not reachable at {base} (GATEHOUSE_TEST_POSTGRES)"
                )));
            }
            test().await;
            Ok(Completion::Completed)
        })
    })
}
