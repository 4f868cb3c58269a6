//! The population evaluator: one population of K joint samples of every Z, carried
//! through the limit program in definition order.
//!
//! Every Z of the limit program is a deterministic function of finitely many base
//! Gaussians, so K joint samples of all of them cost O(K · program size). A base
//! Gaussian of a source is a fresh N(0, 1) column. A base Gaussian Ẑ^{Ŵx} of a matrix
//! family is the next row of a Cholesky factorization of the family's covariance, whose
//! entries E[Z^x Z^y] are population moments of the vectors multiplied: its column is
//! the combination of the family's earlier innovations that gives those covariances,
//! plus a fresh innovation for what is new (none when x is, in the population, a linear
//! combination of earlier vectors: the base Gaussian is then degenerate). Expectations
//! are population means. A Ż coefficient E[∂Z^x/∂Ẑ_a] comes from Stein's lemma for the
//! jointly Gaussian base variables G of a's family that Z^x reads,
//! E[G Z^x] = Cov(G) E[∇_G Z^x], solved with the population's own covariance of G (the
//! least-squares regression of Z^x on G): it needs no derivative, so it is right for
//! functions that jump (step, sign), and its noise does not grow with the depth of the
//! recursion the way a pathwise derivative carried through every vector would cost
//! memory. Where G is nearly collinear the single coefficients are ill-determined, but
//! the Ż term they build, Σ_a κ_a Z^{origin of a}, is the projection on an orthonormal
//! basis of those origins and stays well determined.
//!
//! Innovations come in antithetic pairs: the second half of every fresh column is the
//! negation of the first. Then every base Gaussian has population mean exactly 0 and
//! the odd part of every integrand cancels exactly.
//!
//! Scalars known exactly (closed forms, symmetry zeros, quadrature: the deterministic
//! tiers of [`super::evaluate`]) are passed in `fixed` and used as they are, so the
//! population only estimates what has no exact value. Columns are dropped after their
//! last use, so memory is the peak number of live columns times K.

use super::model::{Def, Family, LimitProgram};
use super::tape::{Compiler, Layout};
use crate::ir::{Expr, Kind, ValueId};
use crate::sim::gaussian::{stream_key, Gaussians};
use std::collections::HashMap;

/// A base Gaussian whose new variance is below this fraction of its total variance is
/// a linear combination of its family's earlier ones (rounding makes the residual of an
/// exact combination about 1e-16 of it, never 1e-10).
const DEGENERATE: f64 = 1e-10;

/// What a replicate's run needs to know about the program beforehand.
#[derive(Clone, Debug)]
pub(super) struct Plan {
    /// For each entry, the columns to drop once it has run (those it reads last).
    releases: Vec<Vec<usize>>,
    /// The most columns (vectors, base Gaussians and innovations) alive at once.
    pub peak_columns: usize,
}

impl Plan {
    /// Bytes a population of `samples` samples needs at its peak.
    pub fn bytes(&self, samples: usize) -> u64 {
        (self.peak_columns as u64 + 2) * samples as u64 * 8
    }
}

/// The atoms of each family, in creation order.
fn family_atoms(lp: &LimitProgram) -> HashMap<Family, Vec<ValueId>> {
    let mut out: HashMap<Family, Vec<ValueId>> = HashMap::new();
    for (i, e) in lp.entries.iter().enumerate() {
        if let Def::Atom { family, .. } = &e.def {
            out.entry(*family).or_default().push(ValueId(i));
        }
    }
    out
}

/// The atoms of `family` that the vector `x` reads, in creation order.
fn read_atoms(lp: &LimitProgram, x: ValueId, family: Family) -> Vec<ValueId> {
    let mut out: Vec<ValueId> = lp.deps[x.0]
        .iter()
        .copied()
        .filter(|a| matches!(&lp.entries[a.0].def, Def::Atom { family: f, .. } if *f == family))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn family_of(lp: &LimitProgram, atom: ValueId) -> Option<Family> {
    match &lp.entries[atom.0].def {
        Def::Atom { family, .. } => Some(*family),
        _ => None,
    }
}

/// Liveness of every column: who reads it last.
pub(super) fn plan(lp: &LimitProgram) -> Plan {
    let n = lp.entries.len();
    let mut last_use: Vec<usize> = (0..n).collect();
    let mark = |v: ValueId, at: usize, last_use: &mut Vec<usize>| {
        if let Some(slot) = last_use.get_mut(v.0) {
            *slot = (*slot).max(at);
        }
    };
    let families = family_atoms(lp);
    for (i, e) in lp.entries.iter().enumerate() {
        match &e.def {
            Def::Vector { expr } | Def::Expectation { expr } | Def::Scalar { expr } => {
                for v in expr.values() {
                    mark(v, i, &mut last_use);
                }
            }
            Def::Atom {
                family,
                origin: Some(x),
            } => {
                mark(*x, i, &mut last_use);
                // A new base Gaussian reads every earlier origin (its covariances) and
                // every earlier innovation (its column) of the family; innovations live
                // as long as their atom's column does.
                for b in families.get(family).into_iter().flatten() {
                    if b.0 >= i {
                        break;
                    }
                    mark(*b, i, &mut last_use);
                    if let Def::Atom {
                        origin: Some(y), ..
                    } = &lp.entries[b.0].def
                    {
                        mark(*y, i, &mut last_use);
                    }
                }
            }
            Def::Derivative { of, atom } => {
                mark(*of, i, &mut last_use);
                if let Some(f) = family_of(lp, *atom) {
                    for b in read_atoms(lp, *of, f) {
                        mark(b, i, &mut last_use);
                    }
                }
            }
            _ => {}
        }
    }
    // Peak: count the columns alive after each entry (atoms count twice: the column and
    // its innovation).
    let mut ends = vec![0usize; n + 1];
    let mut alive = 0usize;
    let mut peak = 0usize;
    for (i, e) in lp.entries.iter().enumerate() {
        let width = match e.def {
            Def::Atom { .. } => 2,
            Def::Vector { .. } => 1,
            _ => 0,
        };
        alive += width;
        ends[last_use[i]] += width;
        peak = peak.max(alive);
        alive -= ends[i];
    }
    let mut releases = vec![Vec::new(); n];
    for (v, last) in last_use.iter().enumerate() {
        releases[*last].push(v);
    }
    Plan {
        releases,
        peak_columns: peak,
    }
}

/// The values of one population run: each scalar's value and each reported vector's
/// E[Z²], or why there is none.
#[derive(Clone, Debug, Default)]
pub(super) struct Outcome {
    /// Values by entry.
    pub values: Vec<Option<f64>>,
    /// Failures by entry.
    pub errors: Vec<Option<String>>,
}

/// The Cholesky factor of one matrix family's covariance, built row by row.
#[derive(Default)]
struct FamilyState {
    /// The family's base Gaussians so far.
    atoms: Vec<ValueId>,
    /// Row j: the coefficients of atom j on the innovations of atoms 0..=j.
    rows: Vec<Vec<f64>>,
}

struct Run<'a> {
    lp: &'a LimitProgram,
    plan: &'a Plan,
    fixed: &'a [Option<f64>],
    seed: u64,
    samples: usize,
    columns: Vec<Option<Vec<f64>>>,
    innovations: Vec<Option<Vec<f64>>>,
    scalars: Vec<Option<f64>>,
    families: HashMap<Family, FamilyState>,
    gradients: HashMap<(ValueId, Family), Vec<(ValueId, f64)>>,
    /// Population moments E[G_a G_b] of pairs of base Gaussians: every Ż regression of a
    /// family reads the same Gram matrix, which would otherwise cost |family|² passes
    /// over the population per coefficient row.
    gram: HashMap<(ValueId, ValueId), f64>,
    out: Outcome,
}

/// One population of `samples` samples (rounded up to an even number for the
/// antithetic pairs) from `seed`; `fixed` holds the exact values of the entries that
/// have one.
pub(super) fn run(
    lp: &LimitProgram,
    plan: &Plan,
    fixed: &[Option<f64>],
    seed: u64,
    samples: usize,
) -> Outcome {
    let n = lp.entries.len();
    let mut run = Run {
        lp,
        plan,
        fixed,
        seed,
        samples: samples.max(2).div_ceil(2) * 2,
        columns: vec![None; n],
        innovations: vec![None; n],
        scalars: vec![None; n],
        families: HashMap::new(),
        gradients: HashMap::new(),
        gram: HashMap::new(),
        out: Outcome {
            values: vec![None; n],
            errors: vec![None; n],
        },
    };
    for i in 0..n {
        if let Err(e) = run.entry(i) {
            run.out.errors[i] = Some(e);
        }
        run.release(i);
    }
    run.out
}

fn mean(column: &[f64]) -> f64 {
    // Block sums keep the rounding small and the order fixed.
    let total: f64 = column.chunks(1024).map(|c| c.iter().sum::<f64>()).sum();
    total / column.len().max(1) as f64
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    let total: f64 = a
        .chunks(1024)
        .zip(b.chunks(1024))
        .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>())
        .sum();
    total / a.len().max(1) as f64
}

impl Run<'_> {
    fn name(&self, v: ValueId) -> &str {
        &self.lp.entries[v.0].name
    }

    fn entry(&mut self, i: usize) -> Result<(), String> {
        let entry = &self.lp.entries[i];
        if entry.caveat.is_some() {
            return Ok(());
        }
        let id = ValueId(i);
        match &entry.def {
            Def::Atom { family, origin } => {
                let column = match origin {
                    None => self.fresh(i),
                    Some(x) => self.matrix_atom(id, *family, *x)?,
                };
                self.columns[i] = Some(column);
            }
            Def::Vector { expr } => {
                let column = self.column(expr)?;
                if entry.reports_second_moment() {
                    self.out.values[i] = Some(dot(&column, &column));
                }
                self.columns[i] = Some(column);
            }
            Def::Expectation { expr } => {
                let value = match self.fixed[i] {
                    Some(v) => v,
                    None => mean(&self.column(expr)?),
                };
                self.set_scalar(i, value)?;
            }
            Def::Scalar { expr } => {
                let value = match self.fixed[i] {
                    Some(v) => v,
                    None => self.arithmetic(expr)?,
                };
                self.set_scalar(i, value)?;
            }
            Def::Derivative { of, atom } => {
                let value = match self.fixed[i] {
                    Some(v) => v,
                    None => self.derivative(*of, *atom)?,
                };
                self.set_scalar(i, value)?;
            }
            Def::Zero { .. } => {
                if entry.kind == Kind::Scalar {
                    self.scalars[i] = Some(0.0);
                }
            }
            Def::Random { .. } | Def::Undetermined { .. } => {}
        }
        Ok(())
    }

    fn set_scalar(&mut self, i: usize, value: f64) -> Result<(), String> {
        if !value.is_finite() {
            return Err("the value is not a finite number".into());
        }
        self.scalars[i] = Some(value);
        self.out.values[i] = Some(value);
        Ok(())
    }

    /// Drops every column whose last reader is entry `i`.
    fn release(&mut self, i: usize) {
        for v in &self.plan.releases[i] {
            self.columns[*v] = None;
            self.innovations[*v] = None;
        }
    }

    /// A fresh antithetic N(0, 1) column for entry `i`.
    fn fresh(&self, i: usize) -> Vec<f64> {
        let half = self.samples / 2;
        let mut column = vec![0.0; self.samples];
        Gaussians::new(stream_key(self.seed, i as u64)).fill(0, 1.0, &mut column[..half]);
        let (first, second) = column.split_at_mut(half);
        for (a, b) in first.iter().zip(second.iter_mut()) {
            *b = -a;
        }
        column
    }

    /// The column of Ẑ^{Ŵx}: the next row of the family's Cholesky factor.
    fn matrix_atom(&mut self, id: ValueId, family: Family, x: ValueId) -> Result<Vec<f64>, String> {
        let zx = self.live(x)?;
        let mut cov = Vec::new();
        for b in self.families.get(&family).map_or(&[][..], |s| &s.atoms[..]) {
            let Def::Atom {
                origin: Some(y), ..
            } = &self.lp.entries[b.0].def
            else {
                return Err(format!("`{}` has no vector it multiplies", self.name(*b)));
            };
            cov.push(dot(zx, self.live(*y)?));
        }
        let variance = dot(zx, zx);
        let mut state = self.families.remove(&family).unwrap_or_default();
        let m = state.atoms.len();
        let mut row = vec![0.0; m + 1];
        for j in 0..m {
            let diag = state.rows[j][j];
            if diag == 0.0 {
                continue;
            }
            let s: f64 = (0..j).map(|p| row[p] * state.rows[j][p]).sum();
            row[j] = (cov[j] - s) / diag;
        }
        let rest = variance - row[..m].iter().map(|l| l * l).sum::<f64>();
        let mut column = vec![0.0; self.samples];
        for (j, b) in state.atoms.iter().enumerate() {
            if row[j] == 0.0 {
                continue;
            }
            // Liveness keeps every innovation of the family until its last atom.
            let Some(xi) = self.innovations[b.0].as_ref() else {
                continue;
            };
            for (c, e) in column.iter_mut().zip(xi) {
                *c += row[j] * e;
            }
        }
        if rest > DEGENERATE * variance && rest > 0.0 {
            let l = rest.sqrt();
            row[m] = l;
            let xi = self.fresh(id.0);
            for (c, e) in column.iter_mut().zip(&xi) {
                *c += l * e;
            }
            self.innovations[id.0] = Some(xi);
        }
        state.atoms.push(id);
        state.rows.push(row);
        self.families.insert(family, state);
        Ok(column)
    }

    fn live(&self, v: ValueId) -> Result<&[f64], String> {
        self.columns[v.0].as_deref().ok_or_else(|| {
            format!(
                "depends on `{}`, which has no value in the limit",
                self.name(v)
            )
        })
    }

    fn scalar_of(&self, v: ValueId) -> f64 {
        match &self.lp.entries[v.0].def {
            Def::Zero { .. } => 0.0,
            _ => self.scalars[v.0].unwrap_or(f64::NAN),
        }
    }

    /// Fails when `expr` reads a scalar that has no value (a random one, or one whose
    /// evaluation failed): the expression would silently be NaN.
    fn scalars_available(&self, expr: &Expr) -> Result<(), String> {
        for v in expr.values() {
            if self.lp.entries[v.0].kind == Kind::Scalar
                && !matches!(self.lp.entries[v.0].def, Def::Zero { .. })
                && self.scalars[v.0].is_none()
            {
                return Err(format!(
                    "depends on `{}`, which has no value in the limit",
                    self.name(v)
                ));
            }
        }
        Ok(())
    }

    /// A scalar expression of scalars.
    fn arithmetic(&self, expr: &Expr) -> Result<f64, String> {
        self.scalars_available(expr)?;
        Ok(expr.eval(
            &|v| self.scalar_of(v),
            f64::NAN,
            f64::NAN,
            &self.lp.program.activations,
        ))
    }

    /// The population column of a coordinatewise expression.
    fn column(&self, expr: &Expr) -> Result<Vec<f64>, String> {
        let reads: Vec<ValueId> = expr
            .values()
            .into_iter()
            .filter(|v| {
                self.lp.entries[v.0].kind == Kind::Vector
                    && !matches!(self.lp.entries[v.0].def, Def::Zero { .. })
            })
            .collect();
        let mut inputs: Vec<&[f64]> = Vec::with_capacity(reads.len());
        for v in &reads {
            inputs.push(self.live(*v)?);
        }
        self.scalars_available(expr)?;
        let slot = |v: ValueId| reads.iter().position(|r| *r == v);
        let scalar = |v: ValueId| self.scalar_of(v);
        let mut compiler = Compiler::new(
            Layout {
                slot: &slot,
                scalar: &scalar,
                acts: &self.lp.program.activations,
            },
            reads.len(),
        );
        let tape = compiler.compile(expr);
        let mut out = vec![0.0; self.samples];
        tape.run_columns(&inputs, &mut out);
        Ok(out)
    }

    /// E[∂Z^x/∂a] by Stein's lemma over the base Gaussians of a's family that Z^x reads.
    fn derivative(&mut self, x: ValueId, a: ValueId) -> Result<f64, String> {
        let family = family_of(self.lp, a)
            .ok_or_else(|| format!("`{}` is not a base Gaussian", self.name(a)))?;
        if !self.gradients.contains_key(&(x, family)) {
            let atoms = read_atoms(self.lp, x, family);
            for (i, a) in atoms.iter().enumerate() {
                for b in &atoms[..=i] {
                    if !self.gram.contains_key(&(*a, *b)) {
                        let g = dot(self.live(*a)?, self.live(*b)?);
                        self.gram.insert((*a, *b), g);
                    }
                }
            }
            let row = self.regression(x, family)?;
            self.gradients.insert((x, family), row);
        }
        Ok(self
            .gradients
            .get(&(x, family))
            .and_then(|row| row.iter().find(|(b, _)| *b == a))
            .map_or(0.0, |(_, k)| *k))
    }

    /// The coefficients κ solving Cov(G) κ = E[G Z^x] for the base Gaussians G of
    /// `family` that Z^x reads, with the population's own moments. A base Gaussian that
    /// is (in the population) a combination of earlier ones gets coefficient 0: the
    /// Ż term Σ κ_a Z^{origin of a} is the same whichever of them carries it.
    fn regression(&self, x: ValueId, family: Family) -> Result<Vec<(ValueId, f64)>, String> {
        let atoms = read_atoms(self.lp, x, family);
        if atoms.is_empty() {
            return Ok(Vec::new());
        }
        let zx = self.live(x)?;
        let mut columns = Vec::with_capacity(atoms.len());
        for a in &atoms {
            columns.push(self.live(*a)?);
        }
        let m = atoms.len();
        let rhs: Vec<f64> = columns.iter().map(|g| dot(g, zx)).collect();
        let mut gram = vec![vec![0.0; m]; m];
        for i in 0..m {
            for j in 0..=i {
                let g = self
                    .gram
                    .get(&(atoms[i], atoms[j]))
                    .copied()
                    .unwrap_or(f64::NAN);
                gram[i][j] = g;
                gram[j][i] = g;
            }
        }
        Ok(atoms.into_iter().zip(solve_psd(&gram, &rhs)).collect())
    }
}

/// Solves `gram · κ = rhs` for a positive semi-definite `gram`, with the solution of
/// least norm when `gram` is singular.
///
/// A Cholesky factorization drops every row whose new variance is below
/// [`DEGENERATE`] of its variance (that base Gaussian is a combination of the kept
/// ones); the solution on the kept rows is then made orthogonal to the null space
/// those combinations span. Two identical base Gaussians thus share a coefficient
/// equally, whichever came first, as a pseudo-inverse would have them.
fn solve_psd(gram: &[Vec<f64>], rhs: &[f64]) -> Vec<f64> {
    let m = rhs.len();
    let mut l = vec![vec![0.0; m]; m];
    let mut keep = vec![false; m];
    for i in 0..m {
        for j in 0..i {
            if !keep[j] {
                continue;
            }
            let s: f64 = (0..j).map(|p| l[i][p] * l[j][p]).sum();
            l[i][j] = (gram[i][j] - s) / l[j][j];
        }
        let rest = gram[i][i] - (0..i).map(|p| l[i][p] * l[i][p]).sum::<f64>();
        if rest > DEGENERATE * gram[i][i] && rest > 0.0 {
            l[i][i] = rest.sqrt();
            keep[i] = true;
        }
    }
    // Solves gram[kept, kept] · z = b[kept] with the factor (L y = b, then Lᵀ z = y).
    let solve_kept = |b: &[f64]| -> Vec<f64> {
        let mut y = vec![0.0; m];
        for i in 0..m {
            if keep[i] {
                let s: f64 = (0..i).filter(|p| keep[*p]).map(|p| l[i][p] * y[p]).sum();
                y[i] = (b[i] - s) / l[i][i];
            }
        }
        let mut z = vec![0.0; m];
        for i in (0..m).rev() {
            if keep[i] {
                let s: f64 = (i + 1..m)
                    .filter(|p| keep[*p])
                    .map(|p| l[p][i] * z[p])
                    .sum();
                z[i] = (y[i] - s) / l[i][i];
            }
        }
        z
    };
    let mut kappa = solve_kept(rhs);
    // Null vectors e_d − Σ_b c_db e_b, one per dropped row d.
    let null: Vec<Vec<f64>> = (0..m)
        .filter(|d| !keep[*d])
        .map(|d| {
            let column: Vec<f64> = (0..m).map(|b| gram[b][d]).collect();
            let mut v: Vec<f64> = solve_kept(&column).iter().map(|c| -c).collect();
            v[d] = 1.0;
            v
        })
        .collect();
    if !null.is_empty() {
        let k = null.len();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        // (VᵀV) w = Vᵀκ by Gaussian elimination: VᵀV is small and positive definite
        // (each null vector has its own unit entry).
        let mut a: Vec<Vec<f64>> = (0..k)
            .map(|i| {
                let mut row: Vec<f64> = (0..k).map(|j| dot(&null[i], &null[j])).collect();
                row.push(dot(&null[i], &kappa));
                row
            })
            .collect();
        for c in 0..k {
            let pivot = a[c][c];
            if pivot.abs() < 1e-300 {
                continue;
            }
            for r in 0..k {
                if r != c {
                    let f = a[r][c] / pivot;
                    let pivot_row = a[c].clone();
                    for (x, p) in a[r].iter_mut().zip(&pivot_row) {
                        *x -= f * p;
                    }
                }
            }
        }
        for (c, v) in null.iter().enumerate() {
            let w = if a[c][c].abs() < 1e-300 {
                0.0
            } else {
                a[c][k] / a[c][c]
            };
            for (x, y) in kappa.iter_mut().zip(v) {
                *x -= w * y;
            }
        }
    }
    kappa
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A regular system is solved exactly; with a repeated variable the solution of least
    /// norm shares the coefficient equally.
    #[test]
    fn psd_solve_gives_the_least_norm_solution() {
        let gram = vec![
            vec![2.0, 1.0, 2.0],
            vec![1.0, 3.0, 1.0],
            vec![2.0, 1.0, 2.0],
        ];
        // The third variable equals the first; κ = (1, 2, 0) solves it, and so does
        // (1/2, 2, 1/2), which has the least norm.
        let rhs = vec![2.0 + 2.0, 1.0 + 6.0, 2.0 + 2.0];
        let k = solve_psd(&gram, &rhs);
        for (got, want) in k.iter().zip([0.5, 2.0, 0.5]) {
            assert!((got - want).abs() < 1e-12, "{k:?}");
        }
        let regular = vec![vec![4.0, 2.0], vec![2.0, 3.0]];
        let k = solve_psd(&regular, &[4.0 * 1.5 - 2.0, 2.0 * 1.5 - 3.0]);
        assert!(
            (k[0] - 1.5).abs() < 1e-12 && (k[1] + 1.0).abs() < 1e-12,
            "{k:?}"
        );
    }
}
