//! Networks evaluated on several inputs. Every training input and every probe gets its
//! forward pass at every step, and a change since step 0 compares one input with itself:
//! Yang–Hu's Δx_t(ξ) = x_t(ξ) − x_0(ξ) follows one fixed input ξ (Yang & Hu 2021,
//! "Tensor Programs IV", Def. 3.2–3.6; restated in Hajjar's thesis, 2024, App. A.2.3).
//! The regime takes the largest change over all inputs, trained and probe.

use tp::ir::{Program, Role};
use tp::scale::{analyze, ScaleReport};
use tp::sim::{draw, execute, quantities, sweep, Value};

/// A 2-hidden-layer ReLU network with the given parameterization and training options.
fn net(paramz: &str, train: &str) -> String {
    format!(
        "width n
param L = 2, eta = 0.5
activation act = relu
input xa = [1.0, 0.5, -0.5] target 1.0
input xb = [0.2, -1.0, 0.3] target -0.5
input xc = [-0.7, 0.4, 1.1]
mlp net(depth = L, act = act, bias = none)
parameterization {paramz}
train sgd(steps = 3, lr = eta, loss = mse, {train})
"
    )
}

fn compile(text: &str) -> Program {
    tp::compile("test.tp", text, &[]).expect("program elaborates")
}

fn report(text: &str) -> ScaleReport {
    analyze(&compile(text)).expect("numeric analysis")
}

fn delta(r: &ScaleReport, name: &str) -> String {
    r.quantities
        .iter()
        .find(|q| q.name == name)
        .unwrap_or_else(|| panic!("no quantity {name}"))
        .delta
        .as_ref()
        .unwrap_or_else(|| panic!("no change for {name}"))
        .to_string()
}

/// Yang–Hu's r = min(a_{L+1} + b_{L+1}, 2a_{L+1} + c) + c − 1 + min_l [2a_l + I(l = 1)]
/// for an abc-MLP (Yang & Hu 2021, "Tensor Programs IV", §3), in
/// quarters so that it is exact.
fn yang_hu_r_quarters(a: &[i64], b_last: i64, c: i64) -> i64 {
    let last = a.len() - 1;
    let min_l = (0..last)
        .map(|l| 2 * a[l] + if l == 0 { 4 } else { 0 })
        .min()
        .unwrap_or(0);
    (a[last] + b_last).min(2 * a[last] + c) + c - 4 + min_l
}

/// `q/4` in lowest terms, written as the exponents are printed (`1/2`, `0`, `-3/4`).
fn quarters(q: i64) -> String {
    let d = if q % 4 == 0 {
        4
    } else if q % 2 == 0 {
        2
    } else {
        1
    };
    match 4 / d {
        1 => (q / d).to_string(),
        den => format!("{}/{den}", q / d),
    }
}

#[test]
fn ntk_with_two_cycled_inputs_is_in_the_kernel_regime() {
    // NTK in abc form: a = (0, 1/2, 1/2), b = (0, 0, 0), c = 0 (quarters below).
    let expected_r = quarters(yang_hu_r_quarters(&[0, 2, 2], 0, 0));
    assert_eq!(expected_r, "1/2");
    let r = report(&net("ntk", "data = [xa, xb]"));
    let g = &r.regime;
    assert!(g.stable && g.nontrivial, "{}", g.summary);
    assert!(!g.feature_learning, "{}", g.summary);
    assert_eq!(g.r.as_ref().map(|e| e.to_string()), Some(expected_r));
    assert_eq!(g.layers, vec![(1, false), (2, false)]);
    for t in 1..=3 {
        for input in ["xa", "xb"] {
            for l in 1..=2 {
                for q in ["h", "x"] {
                    let name = format!("{q}{l}_{t}[{input}]");
                    assert_eq!(delta(&r, &name), "-1/2", "Δ{name}");
                }
            }
            assert_eq!(delta(&r, &format!("f_{t}[{input}]")), "0");
        }
    }
}

#[test]
fn the_same_network_on_one_input_has_the_same_exponents_under_plain_names() {
    // One input keeps the names of before (no tag), and the kernel regime with r = 1/2
    // that two inputs now also give. Listing an input twice is still one input.
    for data in ["data = [xa]", "data = [xa, xa]"] {
        let r = report(&net("ntk", data));
        assert!(r.quantities.iter().all(|q| !q.name.contains('[')));
        assert!(!r.regime.feature_learning, "{}", r.regime.summary);
        assert_eq!(
            r.regime.r.as_ref().map(|e| e.to_string()).as_deref(),
            Some("1/2")
        );
        for t in 1..=3 {
            assert_eq!(delta(&r, &format!("x2_{t}")), "-1/2");
        }
    }
}

#[test]
fn mup_with_two_cycled_inputs_learns_features() {
    // μP in abc form: a = (-1/2, 0, 1/2), b_{L+1} = 1/2, c = 0.
    let expected_r = quarters(yang_hu_r_quarters(&[-2, 0, 2], 2, 0));
    assert_eq!(expected_r, "0");
    let r = report(&net("mup", "data = [xa, xb]"));
    let g = &r.regime;
    assert!(
        g.stable && g.nontrivial && g.feature_learning,
        "{}",
        g.summary
    );
    assert_eq!(g.r.as_ref().map(|e| e.to_string()), Some(expected_r));
    for t in 1..=3 {
        for input in ["xa", "xb"] {
            for l in 1..=2 {
                assert_eq!(delta(&r, &format!("x{l}_{t}[{input}]")), "0");
            }
        }
    }
}

#[test]
fn a_probe_is_evaluated_at_every_step_and_never_trained_on() {
    let text = net("ntk", "data = [xa, xb], probe = [xc]");
    let program = compile(&text);
    let r = analyze(&program).expect("numeric analysis");
    for t in 0..=3 {
        for l in 1..=2 {
            assert!(program.lookup(&format!("x{l}_{t}[xc]")).is_some());
        }
        if t > 0 {
            assert_eq!(delta(&r, &format!("x2_{t}[xc]")), "-1/2");
            assert_eq!(delta(&r, &format!("f_{t}[xc]")), "0");
        }
    }
    // No loss derivative or gradient of the probe exists.
    for instr in &program.instrs {
        if instr.meta.input.as_deref() == Some("xc") {
            assert_eq!(instr.meta.role, Role::Forward, "{}", instr.name);
        }
    }
    assert_eq!(
        r.regime.r.as_ref().map(|e| e.to_string()).as_deref(),
        Some("1/2")
    );
    // In μP the probe's features move by Θ(1) like the trained inputs'.
    let mup = report(&net("mup", "data = [xa], probe = [xc]"));
    assert!(mup.regime.feature_learning, "{}", mup.regime.summary);
    assert_eq!(delta(&mup, "x2_2[xc]"), "0");
    assert_eq!(delta(&mup, "x2_2[xa]"), "0");
}

#[test]
fn every_change_is_measured_against_the_same_input_at_step_zero() {
    let program = compile(&net("ntk", "data = [xa, xb], probe = [xc]"));
    let qs = quantities(&program);
    let mut paired = 0;
    for q in &qs {
        let instr = program.instr(q.id);
        match q.base {
            Some(base) => {
                let b = program.instr(base);
                assert_eq!(b.meta.step, Some(0), "{}", q.name);
                assert_eq!(b.meta.input, instr.meta.input, "{} vs {}", q.name, b.name);
                assert_eq!(b.meta.quantity(), instr.meta.quantity(), "{}", q.name);
                paired += 1;
            }
            // Without a base: step 0, or the backward pass of an input not trained at
            // step 0 (xb is first trained at step 1).
            None => assert!(
                instr.meta.step == Some(0)
                    || (instr.meta.input.as_deref() == Some("xb")
                        && instr.meta.role != Role::Forward),
                "{} has no base",
                q.name
            ),
        }
    }
    // Forward quantities (h1, x1, h2, x2, f) of 3 inputs at steps 1..=3, and the
    // backward quantities (chi, dx2, dh2, dx1, dh1) of xa at step 2.
    assert_eq!(paired, 5 * 3 * 3 + 5);
    // The measured change is the RMS of x_t(ξ) − x_0(ξ), computed here directly.
    let result = sweep(&program, &[32], &[5], Some(1), None).expect("sweep");
    let exec = execute(&program, &draw(&program, 32, 5).expect("draw")).expect("execute");
    let vector = |name: &str| match exec.value(program.lookup(name).expect(name)) {
        Some(Value::Vector(v)) => v.clone(),
        other => panic!("{name}: {other:?}"),
    };
    for name in ["x2_1[xb]", "x2_2[xc]", "h1_3[xa]"] {
        let (tagged, input) = name.split_once('[').expect("tagged name");
        let (base, _) = tagged.rsplit_once('_').expect("step");
        let zero = format!("{base}_0[{input}");
        let diff = vector(name) - vector(&zero);
        let want = (diff.mapv(|d| d * d).sum() / 32.0).sqrt();
        let q = result
            .quantities
            .iter()
            .position(|q| q.name == name)
            .expect(name);
        let got = result.runs[0].measurements[q].delta.expect("measured");
        assert!(
            (got - want).abs() <= 1e-12 * want,
            "{name}: {got} vs {want}"
        );
        assert!(want > 0.0);
    }
}

#[test]
fn raw_statements_read_per_input_values_by_their_tagged_names() {
    // The kernel of the last features between two inputs, written after the network.
    let text = format!(
        "{}scalar k = mean(x2_0[xa] * x2_0[xc])\n",
        net("ntk", "data = [xa], probe = [xc]")
    );
    let program = compile(&text);
    let exec = execute(&program, &draw(&program, 64, 2).expect("draw")).expect("execute");
    let get = |name: &str| exec.value(program.lookup(name).expect(name)).cloned();
    let (Some(Value::Vector(a)), Some(Value::Vector(c)), Some(Value::Scalar(k))) =
        (get("x2_0[xa]"), get("x2_0[xc]"), get("k"))
    else {
        panic!("values missing");
    };
    let want = (&a * &c).sum() / 64.0;
    assert!((k - want).abs() <= 1e-12 * want.abs(), "{k} vs {want}");
}

fn error_of(text: &str) -> String {
    match tp::compile("bad.tp", text, &[]) {
        Ok(_) => panic!("program was accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_probes_are_refused_with_a_location_and_a_hint() {
    let trained = error_of(&net("ntk", "data = [xa, xb], probe = [xb]"));
    assert!(trained.contains("bad.tp:9:"), "{trained}");
    assert!(
        trained.contains("`xb` is trained on, so it cannot be a probe"),
        "{trained}"
    );
    let twice = error_of(&net("ntk", "data = [xa], probe = [xc, xc]"));
    assert!(twice.contains("probe `xc` is listed twice"), "{twice}");
    let text = net("ntk", "data = [xa], probe = [xd]")
        .replace("input xc", "input xd = [1.0, 2.0]\ninput xc");
    let dimension = error_of(&text);
    assert!(
        dimension.contains("all inputs must have the same dimension"),
        "{dimension}"
    );
    let unknown = error_of(&net("ntk", "data = [xa], probe = [nope]"));
    assert!(
        unknown.contains("expected the name of an input"),
        "{unknown}"
    );
    let empty = error_of(&net("ntk", "data = [xa], probe = []"));
    assert!(empty.contains("`probe` is empty"), "{empty}");
    let not_list = error_of(&net("ntk", "data = [xa], probe = xc"));
    assert!(
        not_list.contains("`probe` is a list of inputs"),
        "{not_list}"
    );
}
