//! Property tests over hostile inputs: the shipped programs mutated at the token level
//! (numbers replaced by huge, tiny, non-finite or absurd values, derivative primes added,
//! names lengthened, lines duplicated or dropped, invisible characters inserted) and
//! `--set` values drawn from the same list. Whatever the input: no panic, no abort, an
//! answer in bounded time and memory, and a refusal is exit 2 with a located message.

mod common;

use proptest::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Values that broke elaboration or reports when fuzzing (issue 9), and ordinary ones.
const NASTY: [&str; 26] = [
    "0",
    "1",
    "2",
    "3",
    "-1",
    "0.5",
    "200",
    "201",
    "10001",
    "2^62",
    "2^40",
    "1000000000",
    "9223372036854775807",
    "-9223372036854775808",
    "1e400",
    "1e-400",
    "log(-1)",
    "exp(1000)",
    "sqrt(-1)",
    "1/0",
    "0^(-1)",
    "((10^64)^64)^64",
    "n",
    "relu",
    "tanh''",
    "1/3",
];

/// Shipped programs by name (the symbolic one is left out: its analysis takes seconds).
const PROGRAMS: [&str; 11] = [
    "mlp_mup.tp",
    "mlp_sp.tp",
    "mlp_ntk.tp",
    "mlp_mf.tp",
    "mlp_ip.tp",
    "mlp_ip_llr.tp",
    "mlp_ip_bias.tp",
    "mlp_ip_noncentered.tp",
    "tp_wwt.tp",
    "tp_nngp.tp",
    "tp_ntk.tp",
];

fn program_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("programs")
        .join(name);
    std::fs::read_to_string(path).unwrap_or_default()
}

/// One token-level edit; positions are taken modulo what the text has.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the k-th number literal by a value of [`NASTY`].
    Number(usize, usize),
    /// Add primes after the k-th occurrence of `act(`.
    Primes(usize, usize),
    /// Lengthen the k-th identifier by this many characters.
    LongName(usize, usize),
    /// Duplicate line k.
    DuplicateLine(usize),
    /// Delete line k.
    DeleteLine(usize),
    /// Insert an invisible or unusual character at byte-position k (on a char boundary).
    Insert(usize, char),
    /// Divide the k-th `mean(` argument by an exact zero.
    ZeroDivisor(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0..NASTY.len()).prop_map(|(k, v)| Mutation::Number(k, v)),
        (any::<usize>(), 1..14usize).prop_map(|(k, p)| Mutation::Primes(k, p)),
        (
            any::<usize>(),
            prop::sample::select(vec![10usize, 130, 70_000])
        )
            .prop_map(|(k, n)| Mutation::LongName(k, n)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        any::<usize>().prop_map(Mutation::DeleteLine),
        (
            any::<usize>(),
            prop::sample::select(vec!['\0', '\u{feff}', '\u{a0}', '\u{200b}', 'é', '\t'])
        )
            .prop_map(|(k, c)| Mutation::Insert(k, c)),
        any::<usize>().prop_map(Mutation::ZeroDivisor),
    ]
}

/// Byte ranges of number literals (digits with an optional fraction) outside comments.
fn numbers(text: &str) -> Vec<(usize, usize)> {
    tokens(
        text,
        |b, before| {
            b.is_ascii_digit() && !before.is_some_and(|p| p.is_ascii_alphanumeric() || p == b'_')
        },
        |b| b.is_ascii_digit() || b == b'.',
    )
}

/// Byte ranges of identifiers outside comments.
fn identifiers(text: &str) -> Vec<(usize, usize)> {
    tokens(
        text,
        |b, _| b.is_ascii_alphabetic() || b == b'_',
        |b| b.is_ascii_alphanumeric() || b == b'_',
    )
}

/// Byte ranges outside comments of the runs that begin with a byte accepted by `starts`
/// (given the byte before it) and continue while `continues` accepts.
fn tokens(
    text: &str,
    starts: impl Fn(u8, Option<u8>) -> bool,
    continues: impl Fn(u8) -> bool,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (line_start, line) in line_starts(text) {
        let code = line.split('#').next().unwrap_or("");
        let bytes = code.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let before = i.checked_sub(1).map(|k| bytes[k]);
            if starts(bytes[i], before) {
                let mut j = i;
                while j < bytes.len() && continues(bytes[j]) {
                    j += 1;
                }
                out.push((line_start + i, line_start + j));
                i = j;
            } else {
                i += 1;
            }
        }
    }
    out
}

fn line_starts(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        out.push((start, line));
        start += line.len();
    }
    out
}

fn pick<T: Copy>(items: &[T], k: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[k % items.len()])
}

fn apply(text: &str, m: &Mutation) -> String {
    let splice = |(a, b): (usize, usize), with: &str| format!("{}{with}{}", &text[..a], &text[b..]);
    match *m {
        Mutation::Number(k, v) => match pick(&numbers(text), k) {
            Some(range) => splice(range, &format!("({})", NASTY[v])),
            None => text.to_string(),
        },
        Mutation::Primes(k, p) => {
            let calls: Vec<usize> = text.match_indices("act(").map(|(i, _)| i + 3).collect();
            match pick(&calls, k) {
                Some(at) => splice((at, at), &"'".repeat(p)),
                None => text.to_string(),
            }
        }
        Mutation::LongName(k, n) => match pick(&identifiers(text), k) {
            Some((_, end)) => splice((end, end), &"q".repeat(n)),
            None => text.to_string(),
        },
        Mutation::DuplicateLine(k) | Mutation::DeleteLine(k) => {
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            if lines.is_empty() {
                return text.to_string();
            }
            let k = k % lines.len();
            let mut out: Vec<&str> = lines.clone();
            if matches!(m, Mutation::DuplicateLine(_)) {
                out.insert(k, lines[k]);
            } else {
                out.remove(k);
            }
            out.concat()
        }
        Mutation::Insert(k, c) => {
            let mut at = k % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            splice((at, at), &c.to_string())
        }
        Mutation::ZeroDivisor(k) => {
            let means: Vec<usize> = text.match_indices("mean(").map(|(i, _)| i + 5).collect();
            match pick(&means, k) {
                Some(at) => splice((at, at), "(1/(n - n)) * "),
                None => text.to_string(),
            }
        }
    }
}

/// `--set` overrides: a parameter of the program (or a made-up one) and a value.
fn sets_for(text: &str, picks: &[(usize, usize)]) -> Vec<String> {
    let mut params: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("param ") {
            for item in rest.split(',') {
                if let Some((name, _)) = item.split_once('=') {
                    params.push(name.trim().to_string());
                }
            }
        }
        if let Some(rest) = line.trim_start().strip_prefix("activation ") {
            if let Some((name, _)) = rest.split_once('=') {
                params.push(name.trim().to_string());
            }
        }
    }
    params.push("nosuch".into());
    picks
        .iter()
        .map(|&(p, v)| format!("{}={}", params[p % params.len()], NASTY[v]))
        .collect()
}

/// A mutated program and its `--set` arguments.
fn hostile() -> impl Strategy<Value = (String, String, Vec<String>)> {
    (
        0..PROGRAMS.len(),
        prop::collection::vec(mutation(), 0..4),
        prop::collection::vec((any::<usize>(), 0..NASTY.len()), 0..3),
    )
        .prop_map(|(p, muts, picks)| {
            let mut text = program_text(PROGRAMS[p]);
            for m in &muts {
                text = apply(&text, m);
            }
            let sets = sets_for(&text, &picks);
            (PROGRAMS[p].to_string(), text, sets)
        })
}

/// What the library does with one hostile input: elaborate, and when that succeeds and
/// the program is numeric and modest, derive its exponents and render every text.
fn run_in_process(text: &str, sets: &[String]) {
    let start = Instant::now();
    let overrides = match tp::parse_overrides(sets) {
        Ok(o) => o,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    match tp::compile("fuzz.tp", text, &overrides) {
        Err(tp::TpError::Diagnostic(d)) => {
            assert!(d.line >= 1 && d.col >= 1 && d.width >= 1, "{d}");
            let shown = d.to_string();
            assert!(
                shown.starts_with("fuzz.tp:") || shown.starts_with("--set:"),
                "{shown}"
            );
        }
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(program) => {
            // The budget is checked after every statement and step: it may be passed
            // by one of them, never by much.
            assert!(program.instrs.len() <= 2 * tp::bounds::MAX_INSTRUCTIONS);
            let _ = tp::ir::render_program(&program);
            if program.symbols.is_empty() && program.instrs.len() <= 4000 {
                if let Ok(report) = tp::scale::analyze(&program) {
                    assert!(!report.render(true).is_empty());
                }
            }
        }
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

/// Runs the binary under an address-space limit and a time limit; returns the exit
/// code (None: killed by a signal) and standard error.
fn run_binary(args: &[&str], memory_kb: u64, limit: Duration) -> (Option<i32>, String) {
    // Standard error goes to a file: a pipe read only at the end would block a child
    // whose message is longer than the pipe's buffer (a 70000-character name is).
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let err_path = common::temp_path("fuzz-bounds", &format!("stderr{k}.txt"));
    let err_file = std::fs::File::create(&err_path).expect("stderr file");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {memory_kb}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_tp"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(err_file)
        .spawn()
        .expect("sh runs");
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Ok(mut file) = std::fs::File::open(&err_path) {
                let _ = file.read_to_string(&mut err);
            }
            let _ = std::fs::remove_file(&err_path);
            return (status.code(), err);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tp {args:?} ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A refusal on the command line: exit 2 with a located diagnostic, or one of the
/// unlocated errors about the command line (`--set`, `--seed`, a sweep or a plot that
/// cannot be done).
fn assert_clean_exit(args: &[&str], file: &Path, code: Option<i32>, err: &str) {
    assert!(
        matches!(code, Some(0) | Some(1) | Some(2)),
        "tp {args:?} ended with {code:?} (a panic is 101, an abort or a memory kill a signal):\n{err}"
    );
    if code == Some(2) {
        let first = err.lines().next().unwrap_or("");
        let prefix = format!("{}:", file.display());
        let position = first
            .strip_prefix(prefix.as_str())
            .or_else(|| first.strip_prefix("--set:"));
        let unlocated_kind = first.starts_with("`--") || first.starts_with("cannot ");
        match position {
            // file:LINE:COL: …
            Some(rest) => {
                let mut parts = rest.splitn(3, ':');
                let line = parts.next().and_then(|l| l.parse::<u32>().ok());
                let col = parts.next().and_then(|c| c.parse::<u32>().ok());
                assert!(line.is_some() && col.is_some(), "tp {args:?}: {first}");
            }
            None => assert!(unlocated_kind, "tp {args:?}: unlocated error:\n{err}"),
        }
    }
}

fn temp_program(text: &str, case: &str) -> PathBuf {
    let path = common::temp_path("fuzz-bounds", &format!("{case}.tp"));
    std::fs::write(&path, text).expect("temp program");
    path
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 192,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn hostile_programs_elaborate_or_are_refused_with_a_location((_, text, sets) in hostile()) {
        run_in_process(&text, &sets);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn hostile_programs_never_crash_the_binary((name, text, sets) in hostile()) {
        let path = temp_program(&text, &name.replace(".tp", ""));
        let file = path.to_str().unwrap_or_default().to_string();
        for command in ["show", "scale"] {
            let mut args = vec![command, file.as_str()];
            for s in &sets {
                args.push("--set");
                args.push(s);
            }
            let (code, err) = run_binary(&args, 3_000_000, Duration::from_secs(120));
            assert_clean_exit(&args, &path, code, &err);
        }
    }

    #[test]
    fn hostile_raw_programs_simulate_and_take_limits_cleanly(
        which in 0..2usize,
        muts in prop::collection::vec(mutation(), 0..3),
        seed in prop::sample::select(vec!["0", "18446744073709551614", "18446744073709551615"]),
        widths in prop::sample::select(vec!["8,16", "16,8", "8,8", "0,8", "8"]),
    ) {
        let base = ["tp_wwt.tp", "tp_nngp.tp"][which];
        let mut text = program_text(base);
        for m in &muts {
            text = apply(&text, m);
        }
        let path = temp_program(&text, &format!("raw{which}"));
        let file = path.to_str().unwrap_or_default().to_string();
        let runs: [Vec<&str>; 2] = [
            vec!["simulate", &file, "--widths", widths, "--seeds", "2", "--seed", seed, "--quiet"],
            vec!["limit", &file, "--samples", "200", "--replicates", "2"],
        ];
        for args in runs {
            let (code, err) = run_binary(&args, 3_000_000, Duration::from_secs(120));
            assert_clean_exit(&args, &path, code, &err);
        }
    }
}
