//! Helpers shared by the integration tests: loading a shipped program and running the
//! `tp` binary. Each test crate uses a subset of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `programs/<name>` elaborated with `--set` overrides such as `"L=2"`.
pub fn shipped<S: AsRef<str>>(name: &str, sets: &[S]) -> tp::ir::Program {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("programs")
        .join(name);
    let sets: Vec<String> = sets.iter().map(|s| s.as_ref().to_string()).collect();
    let overrides = tp::parse_overrides(&sets).expect("overrides");
    tp::load(&path, &overrides).expect("program")
}

/// Runs the `tp` binary from the crate root.
pub fn tp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tp"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("tp runs")
}

/// The standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// The standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A path for file `name` in a per-process temporary directory named after `tag`.
pub fn temp_path(tag: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tp-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// The row of quantity `name` in a scale report.
pub fn quantity<'a>(r: &'a tp::scale::ScaleReport, name: &str) -> &'a tp::scale::Quantity {
    r.quantities
        .iter()
        .find(|q| q.name == name)
        .unwrap_or_else(|| panic!("no quantity {name}"))
}

/// The exact rational num/den.
pub fn q(num: i64, den: i64) -> tp::exponent::Rational {
    tp::exponent::Rational::new(num.into(), den.into())
}

/// A rational as a `--set` value (`3`, `-1/2`).
pub fn rational_text(x: &tp::exponent::Rational) -> String {
    if x.is_integer() {
        x.numer().to_string()
    } else {
        format!("{}/{}", x.numer(), x.denom())
    }
}
