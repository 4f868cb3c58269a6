//! The README's table of expected `tp check` outcomes is what the binary does: every row
//! names a shipped program and its outcome at the default settings (`--seed 0`), as
//! "PASS, N verdicts" or "FAIL, N verdicts"; this test runs each and compares. Slow
//! (every shipped program at the default widths, with its limit): run it with
//! `cargo test --release --test readme_outcomes -- --ignored`.

mod common;

/// (program file, expected PASS, expected verdict count) from the README's table.
fn table() -> Vec<(String, bool, usize)> {
    table_after("Expected outcomes of the shipped programs")
}

/// The same columns from the README's table of depth programs.
fn depth_table() -> Vec<(String, bool, usize)> {
    table_after("Expected outcomes of the depth programs")
}

/// The same columns from the README's table of shaped programs.
fn shaped_table() -> Vec<(String, bool, usize)> {
    table_after("Expected outcomes of the shaped programs")
}

/// The same columns from the README's table of mean-field programs.
fn meanfield_table() -> Vec<(String, bool, usize)> {
    table_after("Expected outcomes of the mean-field programs")
}

/// Which table a shipped program belongs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Width,
    Depth,
    Shaped,
    /// Mean-field networks (`meanfield`).
    MeanField,
}

/// The `.tp` files under `programs/`, each with its family.
fn shipped_programs() -> Vec<(String, Family)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("programs");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("programs/") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        if name.ends_with(".tp") {
            let family = match tp::load_any(&dir.join(&name), &[]) {
                Ok(tp::Compiled::Depth(_)) => Family::Depth,
                Ok(tp::Compiled::Shaped(_)) => Family::Shaped,
                Ok(tp::Compiled::MeanField(_)) => Family::MeanField,
                _ => Family::Width,
            };
            out.push((name, family));
        }
    }
    out
}

/// The first two columns of the table following the paragraph that starts `heading`.
fn table_after(heading: &str) -> Vec<(String, bool, usize)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme.find(heading).expect("the table's heading");
    let mut rows = Vec::new();
    for line in readme[start..].lines().skip(1) {
        if line.trim().is_empty() && !rows.is_empty() {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 3 || !cells[1].starts_with('`') {
            continue;
        }
        let file = cells[1].trim_matches('`').to_string();
        let outcome = cells[2];
        let pass = outcome.starts_with("PASS");
        let count = outcome
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| !w.is_empty())
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no verdict count in `{outcome}`"));
        rows.push((file, pass, count));
    }
    rows
}

#[test]
fn the_table_has_every_numeric_shipped_program() {
    let rows = table();
    // The table is of `tp check` on width programs; depth programs (`resnet`) have
    // their own.
    for (name, family) in shipped_programs() {
        if name != "mlp_abc_symbolic.tp" && family == Family::Width {
            assert!(
                rows.iter().any(|(f, _, _)| *f == name),
                "{name} is missing from the README's table"
            );
        }
    }
}

#[test]
#[ignore = "slow: every shipped program checked at the default settings (a few minutes)"]
fn every_row_of_the_table_is_what_tp_check_does() {
    for (file, pass, count) in table() {
        let path = format!("programs/{file}");
        let out = common::tp(&["check", &path, "--quiet", "--seed", "0"]);
        let text = common::stdout(&out);
        let summary = text
            .lines()
            .find(|l| l.starts_with("summary:"))
            .unwrap_or_else(|| panic!("{file}: no summary\n{text}{}", common::stderr(&out)));
        assert!(
            summary.starts_with(&format!("summary: {count} verdicts")),
            "{file}: {summary}"
        );
        assert_eq!(
            out.status.code(),
            Some(if pass { 0 } else { 1 }),
            "{file}: {summary}"
        );
    }
}

#[test]
fn the_depth_table_has_every_depth_program() {
    let rows = depth_table();
    for (name, family) in shipped_programs() {
        if family == Family::Depth {
            assert!(
                rows.iter().any(|(f, _, _)| *f == name),
                "{name} is missing from the README's depth table"
            );
        }
    }
}

#[test]
#[ignore = "slow: every depth program checked at the default settings (about 20 s)"]
fn every_row_of_the_depth_table_is_what_tp_check_does() {
    for (file, pass, count) in depth_table() {
        let path = format!("programs/{file}");
        let out = common::tp(&["check", &path, "--seed", "0"]);
        let text = common::stdout(&out);
        let summary = text.lines().last().unwrap_or_default().to_string();
        let want = if pass {
            format!("PASS: {count} of {count} verdicts pass")
        } else {
            "FAIL: ".to_string()
        };
        assert!(summary.starts_with(&want), "{file}: {summary}");
        if !pass {
            assert!(
                summary.contains(&format!(" of {count} verdicts")),
                "{file}: {summary}"
            );
        }
        assert_eq!(
            out.status.code(),
            Some(if pass { 0 } else { 1 }),
            "{file}: {summary}"
        );
    }
}

#[test]
fn the_shaped_table_has_every_shaped_program() {
    let rows = shaped_table();
    for (name, _) in shipped_programs()
        .into_iter()
        .filter(|(_, f)| *f == Family::Shaped)
    {
        assert!(
            rows.iter().any(|(f, _, _)| *f == name),
            "{name} is missing from the README's shaped table"
        );
    }
}

#[test]
#[ignore = "slow: every shaped program checked at the default settings (about 20 s)"]
fn every_row_of_the_shaped_table_is_what_tp_check_does() {
    assert_rows_are_what_tp_check_does(shaped_table());
}

#[test]
fn the_meanfield_table_has_every_meanfield_program() {
    let rows = meanfield_table();
    for (name, _) in shipped_programs()
        .into_iter()
        .filter(|(_, f)| *f == Family::MeanField)
    {
        assert!(
            rows.iter().any(|(f, _, _)| *f == name),
            "{name} is missing from the README's mean-field table"
        );
    }
}

#[test]
#[ignore = "slow: every mean-field program checked at the default settings (about 8 minutes)"]
fn every_row_of_the_meanfield_table_is_what_tp_check_does() {
    assert_rows_are_what_tp_check_does(meanfield_table());
}

/// Runs `tp check --seed 0` on every row and compares its summary line with the row.
fn assert_rows_are_what_tp_check_does(rows: Vec<(String, bool, usize)>) {
    for (file, pass, count) in rows {
        let path = format!("programs/{file}");
        let out = common::tp(&["check", &path, "--seed", "0"]);
        let text = common::stdout(&out);
        let summary = text.lines().last().unwrap_or_default().to_string();
        let want = if pass { "PASS: 0 of " } else { "FAIL: " };
        assert!(summary.starts_with(want), "{file}: {summary}");
        assert!(
            summary.contains(&format!(" of {count} verdicts failed")),
            "{file}: {summary}"
        );
        assert_eq!(
            out.status.code(),
            Some(if pass { 0 } else { 1 }),
            "{file}: {summary}"
        );
    }
}
