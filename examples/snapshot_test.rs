//! How a user's own test suite pins what `tp` derives: a derived recursion snapshotted
//! with `insta`, so that any change to the derivation shows up as a reviewable diff.
//!
//! In a crate of your own, add `tp` and `insta` as dependencies and put the test under
//! `tests/`; here it runs with `cargo test --release --example snapshot_test`, and
//! `cargo run --release --example snapshot_test` prints what is pinned. The snapshot
//! lives in `examples/snapshots/`; after a deliberate change, review the new one with
//! `cargo insta review` (or accept it by renaming the `.snap.new` file).
//!
//! The program is a one-layer NNGP: h = W ξ with entries of variance 2/3 on a unit
//! input, x = relu(h), K = mean(x²). Its limit (Neal 1996; Cho & Saul 2009) is
//! Z^h ~ N(0, 2/3) and K = E[relu(Z^h)²] = 1/3, which the snapshot and the assertions
//! below state independently of the program's output.

const PROGRAM: &str = "width n
activation act = relu
input xa = [1, 0, 0]
matrix W : n x 3 ~ gaussian(2/3)
vector h = W xa
vector x = act(h)
scalar K = mean(x * x)";

/// The limit's equations, one per line.
fn equations() -> Result<String, tp::TpError> {
    let program = tp::compile("nngp.tp", PROGRAM, &[])?;
    let limit = tp::limit::limit(&program, &tp::limit::EvalOptions::default())?;
    Ok(limit.equations.join("\n"))
}

fn main() {
    match equations() {
        Ok(text) => println!("{text}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nngp_recursion_is_pinned() {
        let text = equations().expect("the program derives");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn nngp_kernel_is_the_arc_cosine_value() {
        let program = tp::compile("nngp.tp", PROGRAM, &[]).expect("compiles");
        let limit =
            tp::limit::limit(&program, &tp::limit::EvalOptions::default()).expect("derives");
        let k = limit.scalars.iter().find(|s| s.name == "K").expect("K");
        // E[relu(Z)²] = Var(Z)/2 with Var(Z) = 2/3.
        assert!((k.value.expect("evaluated") - 1.0 / 3.0).abs() < 1e-9);
    }
}
