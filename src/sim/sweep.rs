//! Many Monte Carlo samples at once: every (width, seed) pair of a width sweep, run in
//! parallel, each reduced to the sizes a coordinate check needs.
//!
//! A job is one (width, seed) pair: draw, execute, then keep only a few numbers per
//! quantity (the RMS of a vector, a scalar's value, the size of its change since step 0)
//! and drop the n-vectors, so a sweep's memory is that of the jobs running at the same
//! time, not of all of them. Each job's numbers depend only on (program, width, seed) —
//! the draws are keyed by seed and object, and every sum runs in a fixed order — and
//! results are stored by (width, seed) index, never in completion order, so a sweep is
//! bit-identical whatever the number of threads.

use super::error::SimError;
use super::exec::{execute, BlowUpKind, Value};
use super::memory::{default_memory_limit, estimate_bytes};
use super::sample::{draw_into_with_limit, Sample};
use super::validate::validate;
use crate::ir::{Kind, Op, Program, Role, ValueId};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The widths of a sweep when none are given: 2^6, 2^7, …, 2^12.
pub const DEFAULT_WIDTHS: [usize; 7] = [64, 128, 256, 512, 1024, 2048, 4096];

/// One recorded quantity: a non-auxiliary instruction of the program.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantity {
    /// The instruction.
    pub id: ValueId,
    /// Its name (`h2_1`).
    pub name: String,
    /// Vector (its RMS is recorded) or scalar (its value is recorded).
    pub kind: Kind,
    /// The name shared across SGD steps (`h2`; `h2[xb]` on the input `xb` of a network
    /// evaluated on several inputs), if any.
    pub family: Option<String>,
    /// The input the quantity is computed on, when the network sees several.
    pub input: Option<String>,
    /// The SGD step, if any.
    pub step: Option<usize>,
    /// The layer, for network quantities.
    pub layer: Option<usize>,
    /// What the value is (forward, backward, loss derivative; never auxiliary here).
    pub role: Role,
    /// For v_t with t > 0: the step-0 member v_0 of the same family, against which the
    /// change Δv_t = v_t − v_0 is measured.
    pub base: Option<ValueId>,
}

/// What one job measured of one quantity. `None` means "not computed": the run blew up
/// at or before this quantity, or the entry does not apply (no `value` for a vector, no
/// `delta` without a step-0 base). A recorded number is always finite.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Measurement {
    /// The typical size: sqrt(mean(v²)) for a vector, |s| for a scalar.
    pub size: Option<f64>,
    /// The signed value of a scalar.
    pub value: Option<f64>,
    /// The size of the change since step 0: RMS(v_t − v_0) for a vector, |s_t − s_0| for a
    /// scalar.
    pub delta: Option<f64>,
}

/// A non-finite value met by one job.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepBlowUp {
    /// The instruction that blew up (possibly an auxiliary one).
    pub value: ValueId,
    /// Its name.
    pub name: String,
    /// The SGD step it belongs to: its own `meta.step`, else that of the nearest
    /// labelled instruction before it (auxiliaries sit inside their step's block).
    pub step: Option<usize>,
    /// The width.
    pub width: usize,
    /// The seed.
    pub seed: u64,
    /// NaN or infinity.
    pub kind: BlowUpKind,
    /// How many coordinates were not finite (1 for a scalar).
    pub bad_entries: usize,
}

/// The outcome of one (width, seed) job.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The width.
    pub width: usize,
    /// The seed.
    pub seed: u64,
    /// `measurements[q]` is quantity `q` of [`SweepResult::quantities`].
    pub measurements: Vec<Measurement>,
    /// The first blow-up, after which nothing was computed.
    pub blowup: Option<SweepBlowUp>,
}

/// Everything a sweep measured, indexed by (width, seed) in the order they were given.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepResult {
    /// The widths, as given.
    pub widths: Vec<usize>,
    /// The seeds, as given.
    pub seeds: Vec<u64>,
    /// The recorded quantities, in program order.
    pub quantities: Vec<Quantity>,
    /// `runs[w * seeds.len() + s]` is width `widths[w]` with seed `seeds[s]`.
    pub runs: Vec<Run>,
}

impl SweepResult {
    /// The run of width index `w` and seed index `s`.
    pub fn run(&self, w: usize, s: usize) -> Option<&Run> {
        if w < self.widths.len() && s < self.seeds.len() {
            self.runs.get(w * self.seeds.len() + s)
        } else {
            None
        }
    }

    /// Every blow-up, in (width, seed) order.
    pub fn blowups(&self) -> impl Iterator<Item = &SweepBlowUp> {
        self.runs.iter().filter_map(|r| r.blowup.as_ref())
    }

    /// `series[s][w]`: what `pick` takes from quantity `q` for seed index `s` at width
    /// index `w` — the layout the slope fits of [`crate::check`] expect.
    pub fn series(
        &self,
        q: usize,
        pick: impl Fn(&Measurement) -> Option<f64>,
    ) -> Vec<Vec<Option<f64>>> {
        (0..self.seeds.len())
            .map(|s| {
                (0..self.widths.len())
                    .map(|w| {
                        self.run(w, s)
                            .and_then(|r| r.measurements.get(q))
                            .and_then(&pick)
                    })
                    .collect()
            })
            .collect()
    }
}

/// How far a sweep has got, reported after every finished job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepProgress {
    /// Jobs finished.
    pub jobs_done: usize,
    /// Jobs in the sweep.
    pub jobs_total: usize,
    /// Estimated work finished (arbitrary units, proportional to time).
    pub work_done: u64,
    /// Estimated work in the sweep.
    pub work_total: u64,
}

/// A callback told of progress; called from worker threads, possibly concurrently.
pub type ProgressFn<'a> = &'a (dyn Fn(SweepProgress) + Sync);

/// The quantities a sweep records: every instruction whose role is not auxiliary, with
/// the step-0 base of each later family member.
pub fn quantities(program: &Program) -> Vec<Quantity> {
    let mut step_zero: HashMap<&str, ValueId> = HashMap::new();
    for (i, instr) in program.instrs.iter().enumerate() {
        if let (Some(family), Some(0)) = (&instr.meta.family, instr.meta.step) {
            if instr.meta.role != Role::Auxiliary {
                step_zero.entry(family.as_str()).or_insert(ValueId(i));
            }
        }
    }
    program
        .instrs
        .iter()
        .enumerate()
        .filter(|(_, instr)| instr.meta.role != Role::Auxiliary)
        .map(|(i, instr)| {
            let base = match (&instr.meta.family, instr.meta.step) {
                (Some(family), Some(t)) if t > 0 => step_zero
                    .get(family.as_str())
                    .copied()
                    // A family member of another kind cannot be subtracted.
                    .filter(|b| program.instrs[b.0].kind == instr.kind),
                _ => None,
            };
            Quantity {
                id: ValueId(i),
                name: instr.name.clone(),
                kind: instr.kind,
                family: instr.meta.family.clone(),
                input: instr.meta.input.clone(),
                step: instr.meta.step,
                layer: instr.meta.layer,
                role: instr.meta.role,
                base,
            }
        })
        .collect()
}

/// Bytes a sweep needs when `concurrent` jobs at the largest width run at once.
pub fn sweep_bytes(program: &Program, widths: &[usize], concurrent: usize) -> u64 {
    let largest = widths.iter().copied().max().unwrap_or(0);
    estimate_bytes(program, largest).saturating_mul(concurrent.max(1) as u64)
}

/// Runs `program` at every width in `widths` with every seed in `seeds`, in parallel,
/// and records every quantity's size (see [`quantities`] and [`Measurement`]).
///
/// `threads`: `None` uses rayon's global pool (one thread per core), lowered
/// automatically when that many concurrent jobs would not fit in memory; `Some(t)` runs
/// on a local pool of `t` threads and refuses ([`SimError::TooManyJobs`]) when `t` jobs
/// would not fit. Either way the memory need is checked before anything is allocated
/// ([`SimError::TooLarge`] when even one job at the largest width does not fit).
///
/// The result does not depend on `threads`: see the module documentation.
pub fn sweep(
    program: &Program,
    widths: &[usize],
    seeds: &[u64],
    threads: Option<usize>,
    progress: Option<ProgressFn<'_>>,
) -> Result<SweepResult, SimError> {
    sweep_with_limit(
        program,
        widths,
        seeds,
        threads,
        progress,
        default_memory_limit(),
    )
}

/// Checks a sweep request before anything is sampled: the program can be simulated
/// (see [`validate`]), every width is at least 1 and listed once, the thread count is
/// at least 1, and one run at the largest width (and, with `threads` given, that many
/// runs at once) fits in memory. [`sweep`] makes the same checks; `tp check` calls this
/// first so that a bad request fails before the infinite-width limit is evaluated.
pub fn check_request(
    program: &Program,
    widths: &[usize],
    seeds: &[u64],
    threads: Option<usize>,
) -> Result<(), SimError> {
    plan(program, widths, seeds, threads, default_memory_limit()).map(|_| ())
}

/// The checks of [`check_request`]; returns how many runs may hold their arrays at once.
fn plan(
    program: &Program,
    widths: &[usize],
    seeds: &[u64],
    threads: Option<usize>,
    limit_bytes: u64,
) -> Result<usize, SimError> {
    validate(program)?;
    if widths.contains(&0) {
        return Err(SimError::ZeroWidth);
    }
    if let Some((k, &width)) = widths
        .iter()
        .enumerate()
        .find(|(k, w)| widths[..*k].contains(w))
    {
        // A repeated width adds no point to the log–log fit, only a zero-length step.
        return Err(SimError::RepeatedWidth {
            width,
            position: k + 1,
        });
    }
    if threads == Some(0) {
        return Err(SimError::ZeroThreads);
    }
    let jobs_total = widths.len() * seeds.len();
    let largest = widths.iter().copied().max().unwrap_or(0);
    let one_job = estimate_bytes(program, largest);
    if jobs_total > 0 && (one_job > limit_bytes || one_job == u64::MAX) {
        return Err(SimError::TooLarge {
            needed_bytes: one_job,
            limit_bytes,
            width: largest,
        });
    }
    // How many jobs may hold their arrays at once.
    let fitting = limit_bytes
        .checked_div(one_job)
        .map_or(usize::MAX, |k| usize::try_from(k).unwrap_or(usize::MAX));
    let wanted = threads.unwrap_or_else(rayon::current_num_threads);
    let concurrent = wanted.min(jobs_total.max(1));
    if concurrent > fitting && threads.is_some() {
        return Err(SimError::TooManyJobs {
            threads: concurrent,
            per_job_bytes: one_job,
            limit_bytes,
            fitting,
        });
    }
    let concurrent = concurrent.min(fitting).max(1);
    Ok(concurrent)
}

/// [`sweep`] with an explicit memory limit in bytes.
pub fn sweep_with_limit(
    program: &Program,
    widths: &[usize],
    seeds: &[u64],
    threads: Option<usize>,
    progress: Option<ProgressFn<'_>>,
    limit_bytes: u64,
) -> Result<SweepResult, SimError> {
    let cells: Vec<(usize, usize)> = (0..widths.len())
        .flat_map(|w| (0..seeds.len()).map(move |s| (w, s)))
        .collect();
    let runs = run_cells(
        program,
        widths,
        seeds,
        &cells,
        threads,
        progress,
        limit_bytes,
    )?;
    Ok(SweepResult {
        widths: widths.to_vec(),
        seeds: seeds.to_vec(),
        quantities: quantities(program),
        runs,
    })
}

/// Runs the (width index, seed index) `cells` of a sweep over `widths` × `seeds`, in
/// parallel, and returns their runs in the order of `cells`. Each run depends only on
/// (program, width, seed), so a subset run here has the same bits as in a whole sweep:
/// this is what makes a sharded sweep ([`super::shard`]) merge into the single run.
///
/// The request is checked as in [`check_request`] first.
pub fn run_cells(
    program: &Program,
    widths: &[usize],
    seeds: &[u64],
    cells: &[(usize, usize)],
    threads: Option<usize>,
    progress: Option<ProgressFn<'_>>,
    limit_bytes: u64,
) -> Result<Vec<Run>, SimError> {
    let concurrent = plan(program, widths, seeds, threads, limit_bytes)?.min(cells.len().max(1));
    let jobs_total = cells.len();

    let quantities = quantities(program);
    let steps = instruction_steps(program);
    // Biggest jobs first, so that the last jobs to finish are short ones and the threads
    // end together; within a width, seeds in order so consecutive jobs reuse one sample.
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by_key(|&k| {
        let (w, s) = cells[k];
        (std::cmp::Reverse(widths[w]), w, s)
    });
    let work: Vec<u64> = widths.iter().map(|&n| job_work(program, n)).collect();
    let work_total: u64 = cells.iter().map(|&(w, _)| work[w]).sum();

    let jobs_done = AtomicUsize::new(0);
    let work_done = AtomicU64::new(0);
    // Samples of finished jobs, handed to the next job on any thread: at most
    // `concurrent` exist, so memory stays within the estimate.
    let pool: Mutex<Vec<Sample>> = Mutex::new(Vec::new());
    let job = |&k: &usize| -> Result<Run, SimError> {
        let (w, s) = cells[k];
        let (width, seed) = (widths[w], seeds[s]);
        let mut sample = take_sample(&pool, width);
        let run = run_job(
            program,
            &quantities,
            &steps,
            width,
            seed,
            &mut sample,
            limit_bytes,
        );
        if let Ok(mut samples) = pool.lock() {
            samples.push(sample);
        }
        let done = jobs_done.fetch_add(1, Ordering::Relaxed) + 1;
        let work_so_far = work_done.fetch_add(work[w], Ordering::Relaxed) + work[w];
        if let Some(report) = progress {
            report(SweepProgress {
                jobs_done: done,
                jobs_total,
                work_done: work_so_far,
                work_total,
            });
        }
        run
    };
    let collect = || -> Vec<Result<Run, SimError>> {
        // One job per task: jobs are long (milliseconds to seconds), so scheduling
        // overhead is negligible and fine-grained stealing balances the load.
        order.par_iter().with_max_len(1).map(job).collect()
    };
    let finished = if threads.is_none() && concurrent == rayon::current_num_threads() {
        collect()
    } else {
        let local = rayon::ThreadPoolBuilder::new()
            .num_threads(concurrent)
            .build()
            .map_err(|e| SimError::ThreadPool {
                detail: e.to_string(),
            })?;
        local.install(collect)
    };

    // Back to the order of `cells`; the first error in that order wins, so even failures
    // are reported deterministically.
    let mut slots: Vec<Option<Run>> = vec![None; jobs_total];
    let mut first_error: Option<(usize, SimError)> = None;
    for (&k, outcome) in order.iter().zip(finished) {
        match outcome {
            Ok(run) => slots[k] = Some(run),
            Err(e) => {
                if first_error.as_ref().map_or(true, |(i, _)| k < *i) {
                    first_error = Some((k, e));
                }
            }
        }
    }
    if let Some((_, e)) = first_error {
        return Err(e);
    }
    Ok(slots.into_iter().flatten().collect())
}

/// A sample from the pool, preferably one already drawn at `width` (so its matrices are
/// reused in place), else an empty one.
fn take_sample(pool: &Mutex<Vec<Sample>>, width: usize) -> Sample {
    let Ok(mut samples) = pool.lock() else {
        return empty_sample();
    };
    match samples.iter().position(|s| s.width == width) {
        Some(i) => samples.swap_remove(i),
        // A sample of another width is still worth taking: its source vectors and
        // `Vec`s are reused, and its matrices are freed before new ones are made.
        None => samples.pop().unwrap_or_else(empty_sample),
    }
}

fn empty_sample() -> Sample {
    Sample {
        width: 0,
        matrices: Vec::new(),
        sources: Vec::new(),
    }
}

/// Draws, executes and measures one (width, seed) job.
fn run_job(
    program: &Program,
    quantities: &[Quantity],
    steps: &[Option<usize>],
    width: usize,
    seed: u64,
    sample: &mut Sample,
    limit_bytes: u64,
) -> Result<Run, SimError> {
    if sample.width != width {
        // Free the previous width's matrices before allocating this width's.
        sample.matrices.clear();
    }
    draw_into_with_limit(program, width, seed, sample, limit_bytes)?;
    let execution = execute(program, sample)?;
    let measurements = quantities
        .iter()
        .map(|q| measure(q, &execution.values))
        .collect();
    let blowup = execution.blowup.map(|b| SweepBlowUp {
        value: b.value,
        step: steps.get(b.value.0).copied().flatten(),
        name: b.name,
        width,
        seed,
        kind: b.kind,
        bad_entries: b.bad_entries,
    });
    Ok(Run {
        width,
        seed,
        measurements,
        blowup,
    })
}

/// The numbers kept of one quantity; `values` holds every value computed before the
/// first blow-up (all finite).
fn measure(q: &Quantity, values: &[Value]) -> Measurement {
    let Some(value) = values.get(q.id.0) else {
        return Measurement::default();
    };
    let base = q.base.and_then(|b| values.get(b.0));
    match value {
        Value::Vector(v) => Measurement {
            size: finite(rms(v.iter().copied(), v.len())),
            value: None,
            delta: match base {
                Some(Value::Vector(b)) if b.len() == v.len() => {
                    finite(rms(v.iter().zip(b).map(|(x, y)| x - y), v.len()))
                }
                _ => None,
            },
        },
        Value::Scalar(s) => Measurement {
            size: finite(s.abs()),
            value: finite(*s),
            delta: match base {
                Some(Value::Scalar(b)) => finite((s - b).abs()),
                _ => None,
            },
        },
    }
}

/// `Some(x)` for a finite x. A difference of two finite values can still overflow; such
/// a number is dropped rather than recorded (the fits then see a missing value).
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// sqrt(mean(x²)) of `len` finite numbers, summed in order (reproducible). Squares of
/// numbers beyond ~1e154 overflow although the RMS itself is representable, so that case
/// is redone with the numbers scaled by their largest magnitude.
fn rms(xs: impl Iterator<Item = f64> + Clone, len: usize) -> f64 {
    if len == 0 {
        return 0.0;
    }
    let sum: f64 = xs.clone().map(|x| x * x).sum();
    if sum.is_finite() {
        return (sum / len as f64).sqrt();
    }
    let scale = xs.clone().fold(0.0f64, |m, x| m.max(x.abs()));
    if !scale.is_finite() || scale == 0.0 {
        return scale;
    }
    let scaled: f64 = xs.map(|x| (x / scale) * (x / scale)).sum();
    scale * (scaled / len as f64).sqrt()
}

/// Each instruction's step: its own label, else that of the nearest labelled
/// instruction before it, else of the nearest after it (leading auxiliaries such as the
/// input layer's output come before step 0).
fn instruction_steps(program: &Program) -> Vec<Option<usize>> {
    let mut steps: Vec<Option<usize>> = Vec::with_capacity(program.instrs.len());
    let mut current = None;
    for instr in &program.instrs {
        if instr.meta.step.is_some() {
            current = instr.meta.step;
        }
        steps.push(instr.meta.step.or(current));
    }
    let mut next = None;
    for (slot, instr) in steps.iter_mut().zip(&program.instrs).rev() {
        if instr.meta.step.is_some() {
            next = instr.meta.step;
        }
        if slot.is_none() {
            *slot = next;
        }
    }
    steps
}

/// Relative cost of one job at width `n`: drawing the matrices and every matrix product
/// stream n² numbers each, everything else n.
pub(crate) fn job_work(program: &Program, n: usize) -> u64 {
    let n = n as u64;
    let products = program
        .instrs
        .iter()
        .filter(|i| matches!(i.op, Op::MatMul { .. }))
        .count() as u64;
    let squares = (program.matrices.len() as u64 * 4 + products).saturating_mul(n * n);
    squares.saturating_add((program.instrs.len() as u64).saturating_mul(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_survives_huge_entries() {
        let xs = [3e200, 4e200];
        let r = rms(xs.iter().copied(), 2);
        let want = 5e200 / 2f64.sqrt();
        assert!((r / want - 1.0).abs() < 1e-12, "{r}");
        assert_eq!(rms([3.0, 4.0].iter().copied(), 2), (12.5f64).sqrt());
        assert_eq!(rms(std::iter::empty(), 0), 0.0);
    }
}
