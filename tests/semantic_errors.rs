//! Programs that parse but make no sense: each must be refused with a located message
//! (file:line:col, the line, a caret under the culprit) and a hint. Snapshots were read
//! by hand: the caret must sit under the offending name or value.

fn error_of(text: &str) -> String {
    match tp::compile("bad.tp", text, &[]) {
        Ok(_) => panic!("program was accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const HEADER: &str = "width n\nparam L = 3, eta = 0.5\nactivation act = tanh\ninput xi0 = [1.0, 0.5, -0.5] target 1.0\n";

fn with_net(mlp: &str, paramz: &str, train: &str) -> String {
    format!("{HEADER}{mlp}\n{paramz}\n{train}\n")
}

const MLP: &str = "mlp net(depth = L, act = act)";
const PARAMZ: &str = "parameterization mup";
const TRAIN: &str = "train sgd(steps = 2, lr = eta, loss = mse, data = [xi0])";

#[test]
fn unknown_name_in_a_vector_definition() {
    insta::assert_snapshot!(error_of(
        "width n\nvector z ~ gaussian(1)\nvector h = tanh(y) + z\n"
    ));
}

#[test]
fn finite_input_used_as_an_n_vector() {
    insta::assert_snapshot!(error_of(
        "width n\ninput xi = [1, 2]\nmatrix W ~ gaussian(1/n)\nvector h = W xi\n"
    ));
}

#[test]
fn finite_input_in_a_coordinatewise_expression() {
    insta::assert_snapshot!(error_of(
        "width n\ninput xi = [1, 2]\nvector h = tanh(xi)\n"
    ));
}

#[test]
fn wrong_arity_of_an_activation() {
    insta::assert_snapshot!(error_of(
        "width n\nvector z ~ gaussian(1)\nvector y ~ gaussian(1)\nvector h = tanh(z, y)\n"
    ));
}

#[test]
fn non_differentiable_activation_needed_by_backprop() {
    let text = with_net(
        "activation hard(x) = step(x)\nmlp net(depth = L, act = hard)",
        PARAMZ,
        TRAIN,
    );
    insta::assert_snapshot!(error_of(&text));
}

#[test]
fn depth_below_one() {
    insta::assert_snapshot!(error_of(&with_net(
        "mlp net(depth = 0, act = act)",
        PARAMZ,
        TRAIN
    )));
}

#[test]
fn unknown_preset() {
    insta::assert_snapshot!(error_of(&with_net(MLP, "parameterization mu_p", TRAIN)));
}

#[test]
fn wrong_number_of_layer_exponents() {
    let paramz = "parameterization abc {\n  a = [0, 1/2, 1/2]\n  b = 0\n  c = 0\n}";
    insta::assert_snapshot!(error_of(&with_net(MLP, paramz, TRAIN)));
}

#[test]
fn symbolic_parameter_used_as_a_number() {
    let text = format!(
        "width n\nparam a symbolic\nactivation act = tanh\ninput xi0 = [1.0] target 1.0\n{MLP}\n{PARAMZ}\ntrain sgd(steps = 2, lr = a, loss = mse, data = [xi0])\n"
    )
    .replace("param L = 3", "");
    let text = text.replace("depth = L", "depth = 2");
    insta::assert_snapshot!(error_of(&text));
}

#[test]
fn missing_target_for_training() {
    let text = format!(
        "width n\nparam L = 3\nactivation act = tanh\ninput xi0 = [1.0, 0.5]\n{MLP}\n{PARAMZ}\ntrain sgd(steps = 2, lr = 1, loss = mse, data = [xi0])\n"
    );
    insta::assert_snapshot!(error_of(&text));
}

#[test]
fn unknown_loss() {
    let train = "train sgd(steps = 2, lr = eta, loss = hinge, data = [xi0])";
    insta::assert_snapshot!(error_of(&with_net(MLP, PARAMZ, train)));
}

#[test]
fn network_without_parameterization() {
    insta::assert_snapshot!(error_of(&format!("{HEADER}{MLP}\n{TRAIN}\n")));
}

#[test]
fn mean_field_preset_needs_two_layers() {
    insta::assert_snapshot!(error_of(&with_net(MLP, "parameterization mf", TRAIN)));
}

#[test]
fn duplicate_definition() {
    insta::assert_snapshot!(error_of(
        "width n\nvector z ~ gaussian(1)\nvector z = z * 2\n"
    ));
}

#[test]
fn scalar_declared_as_vector() {
    insta::assert_snapshot!(error_of(
        "width n\nvector z ~ gaussian(1)\nvector q = mean(z * z)\n"
    ));
}

#[test]
fn time_selector_on_an_init_exponent() {
    let paramz = "parameterization abc {\n  a(t>=1) = 0\n  a = [-1/2, 0.., 1/2]\n}";
    insta::assert_snapshot!(error_of(&with_net(MLP, paramz, TRAIN)));
}

#[test]
fn matrix_applied_to_a_scalar() {
    insta::assert_snapshot!(error_of(
        "width n\nmatrix W ~ gaussian(1/n)\nvector z ~ gaussian(1)\nscalar q = mean(z)\nvector h = W q\n"
    ));
}

#[test]
fn covariance_not_positive_semidefinite() {
    insta::assert_snapshot!(error_of(
        "width n\nvector a, b ~ gaussian([[1, 2], [2, 1]])\n"
    ));
}

#[test]
fn unknown_override() {
    let overrides = tp::parse_overrides(&["depth=4".to_string()]).unwrap();
    let err = tp::compile("bad.tp", &with_net(MLP, PARAMZ, TRAIN), &overrides).unwrap_err();
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn interpolated_name_must_be_an_integer() {
    insta::assert_snapshot!(error_of(
        "width n\nparam s = 0.5\nvector z{s} ~ gaussian(1)\n"
    ));
}

#[test]
fn errors_exit_with_status_two() {
    let err = tp::compile("bad.tp", "width n\nvector h = q\n", &[]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
}
