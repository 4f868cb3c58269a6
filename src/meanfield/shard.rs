//! Mean-field sweeps larger than one machine: split by seed, written to sweep files
//! (`tp-mf-sweep/1`), merged back.
//!
//! Every draw of a mean-field run is a pure function of (seed, particle, step) and the
//! simulator groups its work by seed (one group per seed at β = 1, where the sizes are
//! coupled through the nested reference; one per (size, seed) below), so the seeds are the
//! unit of a shard: the K-th of M shards runs the seeds at positions ≡ K − 1 (mod M) of the
//! seed list, at every size and, for `tp check`, at every checked point. A cell does not
//! depend on which other seeds ran with it, so merging the shards' cells and sorting them
//! as [`simulate`] does gives the cells of a single run, and the merged file is byte for
//! byte the file a single run writes.
//!
//! A file records the options it ran with (everything but the thread count, which changes
//! no number) and what it was run for: `tp check` runs its own options (more recorded
//! particles, its own record times, one sweep per phase of a symbolic program), so a file
//! of `tp simulate` cannot be judged by `tp check --from`, and the reverse.

use super::simulate::{plan, simulate, MfCell, MfSweep, SimError, SimOptions, SizeSchedule};
use super::MeanFieldProgram;
use crate::sim::shard::{complete_split, file_text, fnv1a, parse_file, Shard, ShardError};
use serde::{Deserialize, Serialize};

/// The schema of a mean-field sweep file.
pub const MF_SWEEP_SCHEMA: &str = "tp-mf-sweep/1";

/// The command a sweep file was run for (their options differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// `tp simulate`: one sweep with the simulate options.
    Simulate,
    /// `tp check`: one sweep per checked point, with the check's options.
    Check,
}

impl Purpose {
    /// The command, as typed.
    pub fn command(self) -> &'static str {
        match self {
            Purpose::Simulate => "tp simulate",
            Purpose::Check => "tp check",
        }
    }
}

/// The sweep at one point (α, β) of a program, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointRecord {
    /// The symbol values of the point (empty for a numeric program).
    pub point: Vec<(String, String)>,
    /// The options of the whole sweep (every seed, not only this shard's).
    pub options: SimOptions,
    /// See [`MfSweep::n_ref`].
    pub n_ref: Option<u64>,
    /// See [`MfSweep::reference`].
    pub reference: String,
    /// See [`MfSweep::w2_method`].
    pub w2_method: String,
    /// See [`MfSweep::sup_times`].
    pub sup_times: usize,
    /// See [`MfSweep::data_nodes`].
    pub data_nodes: usize,
    /// The cells this file holds, sorted by size then seed.
    pub cells: Vec<MfCell>,
}

impl PointRecord {
    /// The sweep of a whole record, for the reports and the check; `program` is the
    /// program at the record's point (its plan is recomputed, as it depends on the
    /// machine's thread count and is not stored).
    pub fn into_sweep(self, program: &MeanFieldProgram) -> Result<MfSweep, SimError> {
        let plan = plan(program, &self.options)?;
        Ok(MfSweep {
            cells: self.cells,
            n_ref: self.n_ref,
            reference: self.reference,
            w2_method: self.w2_method,
            sup_times: self.sup_times,
            data_nodes: self.data_nodes,
            plan,
        })
    }

    /// The (size, seed) of every cell of the whole sweep, in the order [`simulate`]
    /// returns them, restricted to `seeds`.
    fn labels(&self, seeds: &[u64]) -> Vec<(u64, u64)> {
        let mut labels: Vec<(u64, u64)> = self
            .options
            .sizes
            .iter()
            .flat_map(|s| seeds.iter().map(move |&seed| (s.size, seed)))
            .collect();
        labels.sort_unstable();
        labels
    }

    /// Checks that every cell has the shape a run of the record's options gives (its
    /// size's schedule, record+1 records, p coordinates), so that a file edited by hand
    /// is refused here rather than read out of bounds by the reports and the check.
    fn check_shapes(&self, p: usize) -> Result<(), ShardError> {
        let records = self.options.record.saturating_add(1);
        for cell in &self.cells {
            let at = format!("N = {} seed {}", cell.size, cell.seed);
            let schedule = self.options.sizes.iter().find(|s| s.size == cell.size);
            let scheduled = schedule
                .is_some_and(|s| s.steps == cell.steps && s.step.to_bits() == cell.step.to_bits());
            if !scheduled {
                return Err(ShardError::Shape(format!(
                    "{at}: its steps do not match the recorded schedule"
                )));
            }
            for (name, stats) in [
                ("sgd", &cell.sgd),
                ("particle", &cell.particle),
                ("reference", &cell.reference),
            ] {
                let per_record = [
                    stats.times.len(),
                    stats.risk.len(),
                    stats.path_mean.len(),
                    stats.path_spread.len(),
                ];
                let per_coordinate = [stats.mean.len(), stats.spread.len(), stats.coords.len()];
                let rows_ok = stats
                    .path_mean
                    .iter()
                    .chain(&stats.path_spread)
                    .all(|row| row.len() == p);
                let kept = stats.coords.first().map_or(0, Vec::len);
                let coords_ok = stats
                    .coords
                    .iter()
                    .all(|c| c.len() == kept && c.len() <= self.options.keep);
                if per_record.iter().any(|&n| n != records)
                    || per_coordinate.iter().any(|&n| n != p)
                    || !rows_ok
                    || !coords_ok
                {
                    return Err(ShardError::Shape(format!(
                        "{at}: the {name} statistics do not have {records} records of {p} coordinates"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Checks that the record holds exactly the cells of `seeds`, in order.
    fn check_cells(&self, seeds: &[u64], place: &str) -> Result<(), ShardError> {
        let expected = self.labels(seeds);
        let found: Vec<(u64, u64)> = self.cells.iter().map(|c| (c.size, c.seed)).collect();
        if found.len() != expected.len() {
            return Err(ShardError::Shape(format!(
                "{place} holds {} cells where its seeds have {}",
                found.len(),
                expected.len()
            )));
        }
        match found.iter().zip(&expected).find(|(f, e)| f != e) {
            Some((f, e)) => Err(ShardError::Shape(format!(
                "{place} holds N = {} seed {} where N = {} seed {} belongs",
                f.0, f.1, e.0, e.1
            ))),
            None => Ok(()),
        }
    }
}

/// A whole or partial mean-field sweep as written to disk (`--output`, `--shard`,
/// `tp merge`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MfSweepFile {
    /// [`MF_SWEEP_SCHEMA`].
    pub schema: String,
    /// The version of tp that ran it.
    pub tp_version: String,
    /// The program file, as given on the command line.
    pub program: String,
    /// A hash of the elaborated program ([`program_hash`]).
    pub program_hash: String,
    /// The command it was run for.
    pub purpose: Purpose,
    /// Which shard this is; `null` for a whole sweep.
    pub shard: Option<Shard>,
    /// One sweep per point (one for `tp simulate` and for a numeric program).
    pub points: Vec<PointRecord>,
}

impl MfSweepFile {
    /// The file of `points` run from `program` (named `name`, as given on the command
    /// line) for `purpose`; `shard` is `None` for a whole sweep.
    pub fn new(
        name: &str,
        program: &MeanFieldProgram,
        purpose: Purpose,
        shard: Option<Shard>,
        points: Vec<PointRecord>,
    ) -> Self {
        MfSweepFile {
            schema: MF_SWEEP_SCHEMA.to_string(),
            tp_version: env!("CARGO_PKG_VERSION").to_string(),
            program: name.to_string(),
            program_hash: program_hash(program),
            purpose,
            shard,
            points,
        }
    }
}

/// A hash of the elaborated program (after `--set`, and after `--identical-init` for
/// `tp simulate`): FNV-1a of its full debug rendering, which holds the unit, penalty,
/// loss, data, initial law, schedule and horizon.
pub fn program_hash(program: &MeanFieldProgram) -> String {
    fnv1a(&format!("{program:?}"))
}

/// The seeds of `seeds` that `shard` runs (all of them with `None`).
pub fn shard_seeds(seeds: &[u64], shard: Option<Shard>) -> Vec<u64> {
    seeds
        .iter()
        .enumerate()
        .filter(|(position, _)| shard.map_or(true, |s| s.owns(*position)))
        .map(|(_, &seed)| seed)
        .collect()
}

/// Runs `shard`'s seeds of the sweep `opts` at one point and returns them as a record;
/// `program` is the program at that point, `point` its symbol values.
pub fn run_point(
    program: &MeanFieldProgram,
    point: Vec<(String, String)>,
    opts: &SimOptions,
    shard: Option<Shard>,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<PointRecord, SimError> {
    let mut own = opts.clone();
    own.seeds = shard_seeds(&opts.seeds, shard);
    let sweep = simulate(program, &own, progress)?;
    let mut options = opts.clone();
    options.threads = None;
    Ok(PointRecord {
        point,
        options,
        n_ref: sweep.n_ref,
        reference: sweep.reference,
        w2_method: sweep.w2_method,
        sup_times: sweep.sup_times,
        data_nodes: sweep.data_nodes,
        cells: sweep.cells,
    })
}

/// What one seed of a sweep costs (every size of it), for `--plan`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeedCost {
    /// Peak bytes of one seed run on one thread ([`plan`]).
    pub bytes: u64,
    /// Particle moves of one seed ([`Plan::particle_steps`](super::simulate::Plan)).
    pub moves: u64,
    /// Estimated seconds of one seed on one thread.
    pub seconds: f64,
}

/// The calibration runs at least twice and until this many seconds have passed (at most
/// [`CALIBRATION_RUNS`] runs), so that one run disturbed by other work on the machine
/// does not set the estimate.
pub const CALIBRATION_SECONDS: f64 = 0.25;

/// At most this many calibration runs.
pub const CALIBRATION_RUNS: usize = 5;

/// Particle moves of one calibration run: enough to time (about 0.2 to 1 s on one core
/// for the shipped programs), few enough to print a plan quickly.
pub const CALIBRATION_MOVES: u64 = 1 << 20;

/// The cost of one seed of `opts`: memory and moves from [`plan`]; time from the cost of
/// one step of a group of systems, modelled as c(m) = a + b m for m particle moves per
/// step (a fixed overhead per step — a minibatch, the sums over π's nodes, the buffers of
/// a field evaluation — that dominates small N, and the work per particle, whose cost per
/// move grows with N as the systems leave the caches). c is measured at the smallest and
/// the largest size of the first seed on one thread, each run for only as many steps as
/// make about [`CALIBRATION_MOVES`] moves (each repeated for about
/// [`CALIBRATION_SECONDS`], the fastest run kept), and the seed's time is c summed over
/// the steps of every group (one group for all sizes at β = 1, one per size below).
pub fn seed_cost(program: &MeanFieldProgram, opts: &SimOptions) -> Result<SeedCost, SimError> {
    let mut one = opts.clone();
    one.seeds.truncate(1);
    one.threads = Some(1);
    let whole = plan(program, &one)?;
    // Moves per step of each size's group alone.
    let per_step = |size: &SizeSchedule| -> Result<f64, SimError> {
        let mut alone = one.clone();
        alone.sizes = vec![*size];
        Ok(plan(program, &alone)?.particle_steps as f64 / size.steps.max(1) as f64)
    };
    let mut sizes = one.sizes.clone();
    sizes.sort_by_key(|s| s.size);
    let ends: Vec<SizeSchedule> = match (sizes.first(), sizes.last()) {
        (Some(a), Some(b)) if a.size != b.size => vec![*a, *b],
        (Some(a), _) => vec![*a],
        _ => Vec::new(),
    };
    // (moves per step, seconds per step) at each end.
    let mut measured = Vec::new();
    for size in &ends {
        let m = per_step(size)?;
        let steps = ((CALIBRATION_MOVES as f64 / m.max(1.0)).ceil() as u64).clamp(1, size.steps);
        let mut calibration = one.clone();
        calibration.sizes = vec![SizeSchedule { steps, ..*size }];
        measured.push((m, fastest_run(program, &calibration)? / steps as f64));
    }
    let cost = |m: f64| -> f64 {
        match measured[..] {
            [(m1, c1), (m2, c2)] if m2 != m1 => c1 + (c2 - c1) / (m2 - m1) * (m - m1),
            [(m1, c1), ..] => c1 / m1.max(1.0) * m,
            [] => 0.0,
        }
    };
    let seconds = if one.sde {
        let steps = sizes.first().map_or(0, |s| s.steps);
        steps as f64 * cost(whole.particle_steps as f64 / steps.max(1) as f64)
    } else {
        let mut total = 0.0;
        for size in &sizes {
            total += size.steps as f64 * cost(per_step(size)?);
        }
        total
    };
    Ok(SeedCost {
        bytes: whole.bytes,
        moves: whole.particle_steps,
        seconds: seconds.max(0.0),
    })
}

/// The fastest of two to [`CALIBRATION_RUNS`] runs of `opts`, stopping once
/// [`CALIBRATION_SECONDS`] have passed.
fn fastest_run(program: &MeanFieldProgram, opts: &SimOptions) -> Result<f64, SimError> {
    let begin = std::time::Instant::now();
    let mut fastest = f64::INFINITY;
    for run in 0..CALIBRATION_RUNS {
        let start = std::time::Instant::now();
        simulate(program, opts, None)?;
        fastest = fastest.min(start.elapsed().as_secs_f64());
        // At least two runs, so that one disturbed run does not set the estimate.
        if run >= 1 && begin.elapsed().as_secs_f64() >= CALIBRATION_SECONDS {
            break;
        }
    }
    Ok(fastest)
}

/// The file as text: compact JSON, one line.
pub fn to_text(file: &MfSweepFile) -> String {
    file_text(file)
}

/// Reads a mean-field sweep file's text, refusing other schemas and tp versions.
pub fn from_text(text: &str) -> Result<MfSweepFile, ShardError> {
    parse_file(text, MF_SWEEP_SCHEMA, |f: &MfSweepFile| {
        (&f.schema, &f.tp_version)
    })
}

/// Whether a sweep file's text is a mean-field one (by its schema field), so that
/// `tp merge` can tell the families apart before parsing either.
pub fn is_meanfield_text(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Schema {
        schema: String,
    }
    serde_json::from_str::<Schema>(text).is_ok_and(|s| s.schema.starts_with("tp-mf-sweep/"))
}

/// Combines the M shards of one sweep (in any order) into the whole sweep: what a single
/// run writes.
pub fn merge(mut parts: Vec<MfSweepFile>) -> Result<MfSweepFile, ShardError> {
    let what = parts.first().map_or(String::new(), |p| p.program.clone());
    let shards: Vec<Option<Shard>> = parts.iter().map(|p| p.shard).collect();
    complete_split(&shards, &what)?;
    parts.sort_by_key(|p| p.shard.map_or(0, |s| s.index));
    let reference = &parts[0];
    for part in &parts[1..] {
        let same_points = part.points.len() == reference.points.len()
            && part.points.iter().zip(&reference.points).all(|(a, b)| {
                a.point == b.point
                    && a.options == b.options
                    && a.n_ref == b.n_ref
                    && a.reference == b.reference
                    && a.w2_method == b.w2_method
                    && a.sup_times == b.sup_times
                    && a.data_nodes == b.data_nodes
            });
        let differs = [
            (
                part.program_hash != reference.program_hash,
                "their programs",
            ),
            (
                part.purpose != reference.purpose,
                "the command they ran for",
            ),
            (!same_points, "their points or simulation options"),
        ];
        if let Some((_, what)) = differs.iter().find(|(d, _)| *d) {
            return Err(ShardError::Mismatch(what));
        }
    }
    // Each part holds exactly its own seeds' cells, and the split is complete, so the
    // parts' cells, sorted as `simulate` sorts them, are the whole sweep's.
    let mut cells: Vec<Vec<MfCell>> = vec![Vec::new(); parts[0].points.len()];
    let mut parts = parts.into_iter();
    let mut whole = parts
        .next()
        .ok_or_else(|| ShardError::Shape("no parts to merge".into()))?;
    let take_cells = |part: &mut MfSweepFile, cells: &mut Vec<Vec<MfCell>>| {
        let place = format!(
            "shard {}",
            part.shard.map_or_else(String::new, |s| s.to_string())
        );
        for (record, merged) in part.points.iter_mut().zip(cells.iter_mut()) {
            record.check_cells(&shard_seeds(&record.options.seeds, part.shard), &place)?;
            merged.append(&mut record.cells);
        }
        Ok::<(), ShardError>(())
    };
    take_cells(&mut whole, &mut cells)?;
    for mut part in parts {
        take_cells(&mut part, &mut cells)?;
    }
    whole.shard = None;
    for (point, mut merged) in whole.points.iter_mut().zip(cells) {
        merged.sort_by_key(|c| (c.size, c.seed));
        point.cells = merged;
    }
    Ok(whole)
}

/// The points of a whole sweep file run for `purpose`, after checking that it was made
/// from `program` and holds every cell of its options.
pub fn into_points(
    file: MfSweepFile,
    program: &MeanFieldProgram,
    purpose: Purpose,
) -> Result<Vec<PointRecord>, ShardError> {
    if let Some(shard) = file.shard {
        return Err(ShardError::Shape(format!(
            "this is shard {shard} of a sweep, not the whole sweep; merge the parts with `tp merge` first"
        )));
    }
    if file.purpose != purpose {
        return Err(ShardError::Shape(format!(
            "this sweep was run for `{}`, whose simulation options differ from `{}`'s; run the shards with `{} --shard K/M --output PART`",
            file.purpose.command(),
            purpose.command(),
            purpose.command()
        )));
    }
    let expected = program_hash(program);
    if file.program_hash != expected {
        return Err(ShardError::OtherProgram {
            found: file.program_hash,
            expected,
        });
    }
    for record in &file.points {
        record.check_cells(&record.options.seeds, "the file")?;
        record.check_shapes(program.dim)?;
    }
    Ok(file.points)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A linear unit on Gaussian data at β = 1/2 (the reference is the quadrature of μ₀)
    /// or β = 1 (a nested particle system coupling the sizes of a seed).
    fn toy(beta: &str) -> MeanFieldProgram {
        let src = format!(
            "particles N\nmeanfield net(particles = N, dim = 1, x_dim = 1, init = gaussian, \
             init_mean = 1, init_std = 1/2, unit = w1 * x1, loss = square, data = teacher, \
             x_law = gaussian, target = 1/2 * x1, label_noise = 1/2, batch = 1, \
             gamma = 1/10, alpha = 0, beta = {beta}, horizon = 1)\n"
        );
        match crate::compile_any("toy.tp", &src, &[]) {
            Ok(crate::Compiled::MeanField(p)) => p,
            Ok(_) => panic!("not a mean-field program"),
            Err(e) => panic!("{e}"),
        }
    }

    /// Two sizes on one grid (as β = 1 needs), the given seeds, few records.
    fn options(seeds: Vec<u64>, sde: bool) -> SimOptions {
        let size = |size| SizeSchedule {
            size,
            steps: 5,
            step: 0.2,
        };
        let mut o = SimOptions::new(vec![size(16), size(32)], seeds, 0.0, sde);
        o.keep = 8;
        o.record = 3;
        o
    }

    fn file(points: Vec<PointRecord>, shard: Option<Shard>) -> MfSweepFile {
        MfSweepFile::new("toy.tp", &toy("1/2"), Purpose::Simulate, shard, points)
    }

    #[test]
    fn merged_shards_are_the_single_run_byte_for_byte() {
        for (beta, sde) in [("1/2", false), ("1", true)] {
            let prog = toy(beta);
            let opts = options(vec![3, 4, 5, 6, 7], sde);
            let mut whole = file(
                vec![run_point(&prog, vec![], &opts, None, None).unwrap()],
                None,
            );
            whole.program_hash = program_hash(&prog);
            for m in [1, 2, 3, 5] {
                // Parts in reverse order, at different thread counts, each read back from
                // its text.
                let parts: Vec<MfSweepFile> = (1..=m)
                    .rev()
                    .map(|k| {
                        let s = Some(Shard { index: k, count: m });
                        let mut o = opts.clone();
                        o.threads = Some(1 + k % 2);
                        let mut part =
                            file(vec![run_point(&prog, vec![], &o, s, None).unwrap()], s);
                        part.program_hash = program_hash(&prog);
                        from_text(&to_text(&part)).unwrap()
                    })
                    .collect();
                let merged = merge(parts).unwrap();
                assert_eq!(to_text(&merged), to_text(&whole), "beta = {beta}, M = {m}");
            }
            // And a whole file reads back into the sweep a direct run returns.
            let direct = simulate(&prog, &opts, None).unwrap();
            let text = to_text(&whole);
            let points = into_points(from_text(&text).unwrap(), &prog, Purpose::Simulate).unwrap();
            let back = points
                .into_iter()
                .next()
                .unwrap()
                .into_sweep(&prog)
                .unwrap();
            assert_eq!(back.cells, direct.cells);
            assert_eq!(back.reference, direct.reference);
            assert_eq!(back.n_ref, direct.n_ref);
        }
    }

    #[test]
    fn broken_splits_and_foreign_files_are_refused() {
        let prog = toy("1/2");
        let opts = options(vec![0, 1, 2], false);
        let part = |k, m| {
            let s = Some(Shard { index: k, count: m });
            file(vec![run_point(&prog, vec![], &opts, s, None).unwrap()], s)
        };
        let missing = merge(vec![part(1, 3), part(3, 3)]).unwrap_err();
        assert!(
            missing.to_string().contains("missing shard(s): 2/3"),
            "{missing}"
        );
        let twice = merge(vec![part(1, 2), part(1, 2)]).unwrap_err();
        assert!(twice.to_string().contains("given twice"), "{twice}");
        // A part whose cells belong to another shard.
        let mut swapped = part(2, 2);
        swapped.shard = Some(Shard { index: 1, count: 2 });
        let mut other = part(1, 2);
        other.shard = Some(Shard { index: 2, count: 2 });
        assert!(merge(vec![swapped, other]).is_err());
        // Other options.
        let mut changed = part(2, 2);
        changed.points[0].options.record = 4;
        assert_eq!(
            merge(vec![part(1, 2), changed]).unwrap_err(),
            ShardError::Mismatch("their points or simulation options")
        );
        // A partial file, another purpose, another program.
        let whole = merge(vec![part(1, 2), part(2, 2)]).unwrap();
        assert!(into_points(part(1, 2), &prog, Purpose::Simulate).is_err());
        let purpose = into_points(whole.clone(), &prog, Purpose::Check).unwrap_err();
        assert!(
            purpose.to_string().contains("tp check --shard"),
            "{purpose}"
        );
        let mut other_prog = prog.clone();
        other_prog.batch = 5;
        assert!(matches!(
            into_points(whole.clone(), &other_prog, Purpose::Simulate),
            Err(ShardError::OtherProgram { .. })
        ));
        // A cell whose statistics were cut short, or whose schedule was changed.
        let mut cut = whole.clone();
        cut.points[0].cells[1].particle.risk.pop();
        let cut = into_points(cut, &prog, Purpose::Simulate).unwrap_err();
        assert!(
            cut.to_string().contains("4 records of 1 coordinates"),
            "{cut}"
        );
        let mut moved = whole.clone();
        moved.points[0].cells[0].steps += 1;
        assert!(into_points(moved, &prog, Purpose::Simulate).is_err());
        let mut wide = whole.clone();
        wide.points[0].cells[2].sgd.mean.push(0.0);
        assert!(into_points(wide, &prog, Purpose::Simulate).is_err());
        // A cell dropped from a whole file.
        let mut short = whole;
        short.points[0].cells.pop();
        assert!(into_points(short, &prog, Purpose::Simulate).is_err());
        // Another schema.
        let text = to_text(&part(1, 1)).replace(MF_SWEEP_SCHEMA, "tp-mf-sweep/9");
        assert!(matches!(from_text(&text), Err(ShardError::Version { .. })));
        assert!(is_meanfield_text(&to_text(&part(1, 1))));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(64))]

        /// A damaged sweep file (a byte changed, or the text cut short) is refused or read,
        /// never a panic, through every step `--from` takes before judging.
        #[test]
        fn damaged_files_never_panic(position in 0.0f64..1.0, byte in 0u8..128, cut in proptest::bool::ANY) {
            let prog = toy("1/2");
            let opts = options(vec![0, 1], false);
            let text = to_text(&file(vec![run_point(&prog, vec![], &opts, None, None).unwrap()], None));
            let mut bytes = text.into_bytes();
            let at = ((bytes.len() - 1) as f64 * position) as usize;
            if cut {
                bytes.truncate(at);
            } else {
                bytes[at] = byte;
            }
            let damaged = String::from_utf8_lossy(&bytes).to_string();
            if let Ok(file) = from_text(&damaged) {
                if let Ok(points) = into_points(file, &prog, Purpose::Simulate) {
                    for point in points {
                        let _ = point.into_sweep(&prog);
                    }
                }
            }
        }
    }
}
