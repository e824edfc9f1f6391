//! The `gatehouse` binary's own smoke test. Having an integration test here also makes
//! `cargo test --workspace` build the binary, which `tests/`' process-level tests run.

use std::process::Command;

#[test]
fn gatehouse_version_names_the_crate_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--version")
        .output()
        .expect("run gatehouse");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("gatehouse {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn an_unknown_command_is_refused_with_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("frobnicate")
        .output()
        .expect("run gatehouse");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage"));
}
