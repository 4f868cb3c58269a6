//! Sweeps larger than one machine: a width sweep split into shards of independent
//! (width, seed) cells, each written to a sweep file, and merged back.
//!
//! A cell's numbers depend only on (program, width, seed) (see [`super::sweep`]), so the
//! K-th of M shards runs the cells whose position in the canonical order is K − 1 modulo
//! M — round robin, so every shard gets a share of the large widths — and a merge puts
//! every cell back at its position. Numbers are written in shortest round-trip form and
//! read back exactly, so the merged file is byte for byte the file of a single run.
//!
//! The canonical order is the grid (width-major, seeds in order), then the law cells:
//! the extra seeds of `tp check`'s law verdicts, run at the largest width only.
//!
//! A sweep file carries a hash of the elaborated program (after `--set`), so parts of
//! different programs are not merged and `tp check --from` refuses a file made from
//! another program.

use super::exec::BlowUpKind;
use super::sweep::{job_work, quantities, run_cells, ProgressFn, Run, SweepBlowUp, SweepResult};
use super::{estimate_bytes, Measurement, SimError};
use crate::ir::{Program, ValueId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The schema of a sweep file.
pub const SWEEP_SCHEMA: &str = "tp-sweep/1";

/// The K-th of M shards (1 ≤ K ≤ M), as `--shard K/M` writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// K, from 1.
    pub index: usize,
    /// M.
    pub count: usize,
}

impl Shard {
    /// Whether the cell at `position` of the canonical order belongs to this shard.
    pub fn owns(self, position: usize) -> bool {
        position % self.count == self.index - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// Parses `K/M` with 1 ≤ K ≤ M.
    fn from_str(text: &str) -> Result<Self, String> {
        let (k, m) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not of the form K/M, e.g. 2/8"))?;
        let parse = |t: &str| t.trim().parse::<usize>().ok();
        match (parse(k), parse(m)) {
            (Some(index), Some(count)) if index >= 1 && index <= count => {
                Ok(Shard { index, count })
            }
            _ => Err(format!(
                "`{text}`: K/M needs whole numbers with 1 <= K <= M, e.g. 2/8"
            )),
        }
    }
}

/// The cells of a sweep: the grid `widths` × `seeds` and the law seeds at the largest
/// width.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    /// The widths, as given.
    pub widths: Vec<usize>,
    /// The seeds of the grid.
    pub seeds: Vec<u64>,
    /// More seeds, run at the largest width only (for `tp check`'s law verdicts).
    pub law_seeds: Vec<u64>,
}

impl Grid {
    /// Every seed: the grid's, then the law seeds.
    fn all_seeds(&self) -> Vec<u64> {
        self.seeds.iter().chain(&self.law_seeds).copied().collect()
    }

    /// The index of the largest width.
    fn largest(&self) -> Option<usize> {
        (0..self.widths.len()).max_by_key(|&w| (self.widths[w], std::cmp::Reverse(w)))
    }

    /// The (width, seed) of every cell, in canonical order: what a whole sweep file holds
    /// position by position.
    fn labels(&self) -> Vec<(usize, u64)> {
        let seeds = self.all_seeds();
        self.cells()
            .into_iter()
            .map(|(w, s)| (self.widths[w], seeds[s]))
            .collect()
    }

    /// The cells in canonical order, as (width index, index into the seeds followed by
    /// the law seeds).
    pub fn cells(&self) -> Vec<(usize, usize)> {
        let grid = (0..self.widths.len()).flat_map(|w| (0..self.seeds.len()).map(move |s| (w, s)));
        let law = self
            .largest()
            .into_iter()
            .flat_map(|w| (0..self.law_seeds.len()).map(move |j| (w, self.seeds.len() + j)));
        grid.chain(law).collect()
    }
}

/// A blow-up of one cell, as stored in a sweep file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlowUpRecord {
    /// The instruction's index in the program.
    pub value: usize,
    /// Its name.
    pub name: String,
    /// Its SGD step.
    pub step: Option<usize>,
    /// `nan` or `infinite`.
    pub kind: String,
    /// How many coordinates were not finite.
    pub bad_entries: usize,
}

/// One (width, seed) cell of a sweep file: per quantity `[size, value, delta]` (see
/// [`Measurement`]; `null` where not computed) and its blow-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    /// The width.
    pub width: usize,
    /// The seed.
    pub seed: u64,
    /// `measurements[q]` is quantity `q` of the file's `quantities`.
    pub measurements: Vec<[Option<f64>; 3]>,
    /// The first blow-up of the run.
    pub blowup: Option<BlowUpRecord>,
}

/// A whole or partial width sweep as written to disk (`tp simulate --output`, `--shard`,
/// `tp merge`), read back by `tp merge` and `tp check --from`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepFile {
    /// [`SWEEP_SCHEMA`].
    pub schema: String,
    /// The version of tp that ran it: parts of different versions are not merged.
    pub tp_version: String,
    /// The program file, as given on the command line.
    pub program: String,
    /// A hash of the elaborated program ([`program_hash`]).
    pub program_hash: String,
    /// The widths.
    pub widths: Vec<usize>,
    /// The grid's seeds.
    pub seeds: Vec<u64>,
    /// The law seeds, run at the largest width only.
    pub law_seeds: Vec<u64>,
    /// The recorded quantities, in program order.
    pub quantities: Vec<String>,
    /// Which shard this is; `null` for a whole sweep.
    pub shard: Option<Shard>,
    /// The cells this file holds, in canonical order.
    pub cells: Vec<CellRecord>,
}

impl SweepFile {
    /// The cells the file's sweep has (whether or not this file holds all of them).
    fn grid(&self) -> Grid {
        Grid {
            widths: self.widths.clone(),
            seeds: self.seeds.clone(),
            law_seeds: self.law_seeds.clone(),
        }
    }
}

/// The error of a cell found where another belongs.
fn misplaced(cell: &CellRecord, (width, seed): (usize, u64), place: &str) -> ShardError {
    ShardError::Shape(format!(
        "{place} holds width {} seed {} where width {width} seed {seed} belongs",
        cell.width, cell.seed
    ))
}

/// What can be wrong with sweep files.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ShardError {
    /// Not a sweep file.
    #[error("not a tp sweep file ({0})")]
    NotASweep(String),
    /// A schema or tp version this build does not read.
    #[error("written as `{found}`, this tp reads `{expected}`")]
    Version {
        /// What the file says.
        found: String,
        /// What this build writes.
        expected: String,
    },
    /// Two parts disagree on what was swept.
    #[error("the parts are not shards of one sweep: they differ in {0}")]
    Mismatch(&'static str),
    /// A whole sweep among the parts, or a partial one where a whole one is needed.
    #[error("{0}")]
    Shape(String),
    /// The file was made from another program (or other `--set` values).
    #[error("the sweep was made from another program (hash {found}; this program hashes to {expected}), or with other --set values")]
    OtherProgram {
        /// The file's hash.
        found: String,
        /// This program's.
        expected: String,
    },
}

/// A hash of the elaborated program: FNV-1a (64 bits) of its JSON rendering, which holds
/// every instruction, coefficient, exponent and source — everything a cell depends on
/// besides its width and seed.
pub fn program_hash(program: &Program) -> String {
    fnv1a(&crate::ir::program_to_json(program).to_string())
}

/// FNV-1a (64 bits) of a text, as 16 hex digits: a fingerprint of what a sweep was made
/// from, not a cryptographic hash.
pub fn fnv1a(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Checks that `shards` (the `shard` field of each part, in any order) are the shards
/// 1/M … M/M of one split, each once, and returns M. `what` names a part in messages.
pub fn complete_split(shards: &[Option<Shard>], what: &str) -> Result<usize, ShardError> {
    let shards: Vec<Shard> = shards
        .iter()
        .map(|s| {
            s.ok_or_else(|| {
                ShardError::Shape(format!(
                    "a part of {what} is already a whole sweep (no shard); merge only the outputs of --shard"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let Some(first) = shards.first().copied() else {
        return Err(ShardError::Shape("no parts to merge".into()));
    };
    let count = first.count;
    if shards.iter().any(|s| s.count != count) {
        return Err(ShardError::Mismatch("their shard counts M"));
    }
    let mut indices: Vec<usize> = shards.iter().map(|s| s.index).collect();
    indices.sort_unstable();
    if indices != (1..=count).collect::<Vec<_>>() {
        let missing: Vec<String> = (1..=count)
            .filter(|k| !indices.contains(k))
            .map(|k| format!("{k}/{count}"))
            .collect();
        let repeated = indices.windows(2).find(|w| w[0] == w[1]).map(|w| w[0]);
        return Err(ShardError::Shape(match repeated {
            Some(k) => format!("shard {k}/{count} is given twice"),
            None => format!("missing shard(s): {}", missing.join(", ")),
        }));
    }
    Ok(count)
}

/// Refuses a file of another schema or another version of tp.
pub fn check_version(schema: &str, expected: &str, tp_version: &str) -> Result<(), ShardError> {
    if schema != expected {
        return Err(ShardError::Version {
            found: schema.to_string(),
            expected: expected.to_string(),
        });
    }
    if tp_version != env!("CARGO_PKG_VERSION") {
        return Err(ShardError::Version {
            found: format!("tp {tp_version}"),
            expected: format!("tp {}", env!("CARGO_PKG_VERSION")),
        });
    }
    Ok(())
}

/// Runs the cells of `grid` that `shard` owns (all of them with `None`) and returns them
/// as a sweep file; `name` is the program file as given.
pub fn run_shard(
    program: &Program,
    name: &str,
    grid: &Grid,
    shard: Option<Shard>,
    threads: Option<usize>,
    progress: Option<ProgressFn<'_>>,
) -> Result<SweepFile, SimError> {
    let seeds = grid.all_seeds();
    let cells: Vec<(usize, usize)> = grid
        .cells()
        .into_iter()
        .enumerate()
        .filter(|(position, _)| shard.map_or(true, |s| s.owns(*position)))
        .map(|(_, cell)| cell)
        .collect();
    let runs = run_cells(
        program,
        &grid.widths,
        &seeds,
        &cells,
        threads,
        progress,
        super::default_memory_limit(),
    )?;
    Ok(SweepFile {
        schema: SWEEP_SCHEMA.to_string(),
        tp_version: env!("CARGO_PKG_VERSION").to_string(),
        program: name.to_string(),
        program_hash: program_hash(program),
        widths: grid.widths.clone(),
        seeds: grid.seeds.clone(),
        law_seeds: grid.law_seeds.clone(),
        quantities: quantities(program).into_iter().map(|q| q.name).collect(),
        shard,
        cells: runs.iter().map(cell_record).collect(),
    })
}

fn cell_record(run: &Run) -> CellRecord {
    CellRecord {
        width: run.width,
        seed: run.seed,
        measurements: run
            .measurements
            .iter()
            .map(|m| [m.size, m.value, m.delta])
            .collect(),
        blowup: run.blowup.as_ref().map(|b| BlowUpRecord {
            value: b.value.0,
            name: b.name.clone(),
            step: b.step,
            kind: match b.kind {
                BlowUpKind::NaN => "nan",
                BlowUpKind::Infinite => "infinite",
            }
            .to_string(),
            bad_entries: b.bad_entries,
        }),
    }
}

/// The file as text: compact JSON, one line.
pub fn to_text(file: &SweepFile) -> String {
    file_text(file)
}

/// Reads a sweep file's text, refusing other schemas and tp versions.
pub fn from_text(text: &str) -> Result<SweepFile, ShardError> {
    parse_file(text, SWEEP_SCHEMA, |f: &SweepFile| {
        (&f.schema, &f.tp_version)
    })
}

/// Any sweep file as text: compact JSON on one line, numbers in shortest round-trip
/// form (so the text of a merge and of a single run can be compared byte for byte).
pub fn file_text<T: Serialize>(file: &T) -> String {
    let mut text = serde_json::to_string(file).unwrap_or_default();
    text.push('\n');
    text
}

/// Parses any sweep file, refusing a schema other than `expected` and another version of
/// tp; `header` reads the file's (schema, tp version).
pub fn parse_file<T: serde::de::DeserializeOwned>(
    text: &str,
    expected: &str,
    header: impl Fn(&T) -> (&String, &String),
) -> Result<T, ShardError> {
    let file: T = serde_json::from_str(text).map_err(|e| ShardError::NotASweep(e.to_string()))?;
    let (schema, version) = header(&file);
    check_version(schema, expected, version)?;
    Ok(file)
}

/// Combines the M shards of one sweep (in any order) into the whole sweep, with every
/// cell at its canonical position: the result is what a single run writes.
pub fn merge(mut parts: Vec<SweepFile>) -> Result<SweepFile, ShardError> {
    let what = parts.first().map_or(String::new(), |p| p.program.clone());
    let shards: Vec<Option<Shard>> = parts.iter().map(|p| p.shard).collect();
    let count = complete_split(&shards, &what)?;
    parts.sort_by_key(|p| p.shard.map_or(0, |s| s.index));
    let reference = &parts[0];
    for part in &parts[1..] {
        let differs = [
            (
                part.program_hash != reference.program_hash,
                "their programs",
            ),
            (part.widths != reference.widths, "their widths"),
            (part.seeds != reference.seeds, "their seeds"),
            (part.law_seeds != reference.law_seeds, "their law seeds"),
            (part.quantities != reference.quantities, "their quantities"),
        ];
        if let Some((_, what)) = differs.iter().find(|(d, _)| *d) {
            return Err(ShardError::Mismatch(what));
        }
    }
    let labels = reference.grid().labels();
    let mut cells = Vec::with_capacity(labels.len());
    let mut taken = vec![0usize; count];
    for (position, &label) in labels.iter().enumerate() {
        let k = position % count;
        let cell = parts[k].cells.get(taken[k]).ok_or_else(|| {
            ShardError::Shape(format!(
                "shard {}/{count} has {} cells, fewer than its share of the sweep",
                k + 1,
                parts[k].cells.len()
            ))
        })?;
        if (cell.width, cell.seed) != label {
            return Err(misplaced(cell, label, &format!("shard {}/{count}", k + 1)));
        }
        cells.push(cell.clone());
        taken[k] += 1;
    }
    if let Some(k) = (0..count).find(|&k| taken[k] != parts[k].cells.len()) {
        return Err(ShardError::Shape(format!(
            "shard {}/{count} has {} cells, more than its share ({})",
            k + 1,
            parts[k].cells.len(),
            taken[k]
        )));
    }
    let mut whole = parts.swap_remove(0);
    whole.shard = None;
    whole.cells = cells;
    Ok(whole)
}

/// A whole sweep file as the sweep `tp check` judges and the law runs at the largest
/// width (`None` without law seeds), after checking that it was made from `program`.
pub fn into_results(
    file: SweepFile,
    program: &Program,
) -> Result<(SweepResult, Option<SweepResult>), ShardError> {
    if let Some(shard) = file.shard {
        return Err(ShardError::Shape(format!(
            "this is shard {shard} of a sweep, not the whole sweep; merge the parts with `tp merge` first"
        )));
    }
    let expected = program_hash(program);
    if file.program_hash != expected {
        return Err(ShardError::OtherProgram {
            found: file.program_hash,
            expected,
        });
    }
    let quantities = quantities(program);
    let names: Vec<&str> = quantities.iter().map(|q| q.name.as_str()).collect();
    if file
        .quantities
        .iter()
        .map(String::as_str)
        .ne(names.iter().copied())
    {
        return Err(ShardError::Mismatch("the quantities of the program"));
    }
    let grid = file.grid();
    let labels = grid.labels();
    if file.cells.len() != labels.len() {
        return Err(ShardError::Shape(format!(
            "{} cells where the sweep has {}",
            file.cells.len(),
            labels.len()
        )));
    }
    if let Some((cell, &label)) = file
        .cells
        .iter()
        .zip(&labels)
        .find(|(c, &l)| (c.width, c.seed) != l)
    {
        return Err(misplaced(cell, label, "the file"));
    }
    let mut runs = file
        .cells
        .into_iter()
        .map(|c| run_from(c, quantities.len()))
        .collect::<Result<Vec<Run>, ShardError>>()?;
    let law_runs = runs.split_off(grid.widths.len() * grid.seeds.len());
    let largest = grid.largest();
    let main = SweepResult {
        widths: grid.widths.clone(),
        seeds: grid.seeds,
        quantities: quantities.clone(),
        runs,
    };
    let law = match largest {
        Some(w) if !law_runs.is_empty() => Some(SweepResult {
            widths: vec![grid.widths[w]],
            seeds: grid.law_seeds,
            quantities,
            runs: law_runs,
        }),
        _ => None,
    };
    Ok((main, law))
}

fn run_from(cell: CellRecord, quantities: usize) -> Result<Run, ShardError> {
    if cell.measurements.len() != quantities {
        return Err(ShardError::Shape(format!(
            "width {} seed {} has {} measurements for {quantities} quantities",
            cell.width,
            cell.seed,
            cell.measurements.len()
        )));
    }
    let blowup = match cell.blowup {
        None => None,
        Some(b) => Some(SweepBlowUp {
            value: ValueId(b.value),
            name: b.name,
            step: b.step,
            width: cell.width,
            seed: cell.seed,
            kind: match b.kind.as_str() {
                "nan" => BlowUpKind::NaN,
                "infinite" => BlowUpKind::Infinite,
                other => {
                    return Err(ShardError::NotASweep(format!(
                        "unknown blow-up kind `{other}`"
                    )))
                }
            },
            bad_entries: b.bad_entries,
        }),
    };
    Ok(Run {
        width: cell.width,
        seed: cell.seed,
        measurements: cell
            .measurements
            .iter()
            .map(|&[size, value, delta]| Measurement { size, value, delta })
            .collect(),
        blowup,
    })
}

/// What one cell of a width costs: its memory and its estimated time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellCost {
    /// The width.
    pub width: usize,
    /// Bytes one cell holds at once ([`estimate_bytes`]).
    pub bytes: u64,
    /// Estimated seconds of one cell on one thread.
    pub seconds: f64,
}

/// The cost of one cell at every width of `widths`: memory from [`estimate_bytes`];
/// time by timing four real cells at `calibration` on one thread and scaling their mean by the work model (n²
/// per matrix draw and product, n per other instruction). The estimate is only as good
/// as the model: caches make widths far from `calibration` faster or slower per unit.
pub fn cell_costs(
    program: &Program,
    widths: &[usize],
    calibration: usize,
) -> Result<Vec<CellCost>, SimError> {
    // Four seeds in one call, as a sweep runs them: the sample drawn for the first is
    // reused by the next, as in a sweep, so allocation is not counted four times.
    let cells: Vec<(usize, usize)> = (0..4).map(|s| (0, s)).collect();
    let start = std::time::Instant::now();
    run_cells(
        program,
        &[calibration],
        &[0, 1, 2, 3],
        &cells,
        Some(1),
        None,
        super::default_memory_limit(),
    )?;
    let fastest = start.elapsed().as_secs_f64() / cells.len() as f64;
    let per_unit = fastest / job_work(program, calibration).max(1) as f64;
    Ok(widths
        .iter()
        .map(|&width| CellCost {
            width,
            bytes: estimate_bytes(program, width),
            seconds: per_unit * job_work(program, width) as f64,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_parses_only_k_of_m() {
        assert_eq!("2/8".parse::<Shard>(), Ok(Shard { index: 2, count: 8 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    /// A synthetic whole sweep file of `grid`: every cell's numbers encode its position,
    /// so a cell put back at the wrong place is seen.
    fn synthetic(grid: &Grid) -> SweepFile {
        let seeds = grid.all_seeds();
        SweepFile {
            schema: SWEEP_SCHEMA.into(),
            tp_version: env!("CARGO_PKG_VERSION").into(),
            program: "p.tp".into(),
            program_hash: "0".into(),
            widths: grid.widths.clone(),
            seeds: grid.seeds.clone(),
            law_seeds: grid.law_seeds.clone(),
            quantities: vec!["a".into(), "b".into()],
            shard: None,
            cells: grid
                .cells()
                .iter()
                .enumerate()
                .map(|(p, &(w, s))| CellRecord {
                    width: grid.widths[w],
                    seed: seeds[s],
                    measurements: vec![[Some(p as f64 + 0.1), None, Some(1.0 / (p + 1) as f64)]; 2],
                    blowup: None,
                })
                .collect(),
        }
    }

    /// The parts `--shard K/M` would write of `whole`.
    fn split(whole: &SweepFile, count: usize) -> Vec<SweepFile> {
        (1..=count)
            .map(|index| {
                let shard = Shard { index, count };
                let mut part = whole.clone();
                part.shard = Some(shard);
                part.cells = whole
                    .cells
                    .iter()
                    .enumerate()
                    .filter(|(p, _)| shard.owns(*p))
                    .map(|(_, c)| c.clone())
                    .collect();
                part
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn merging_the_shards_in_any_order_gives_the_whole_file(
            widths in 1usize..5,
            seeds in 1usize..6,
            law in 0usize..4,
            count in 1usize..9,
            rotation in 0usize..9,
        ) {
            let grid = Grid {
                widths: (0..widths).map(|k| 8 << k).collect(),
                seeds: (0..seeds as u64).collect(),
                law_seeds: (seeds as u64..(seeds + law) as u64).collect(),
            };
            let whole = synthetic(&grid);
            let mut parts = split(&whole, count);
            parts.rotate_left(rotation % count);
            let merged = merge(parts).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(to_text(&merged), to_text(&whole));
            // And the text reads back to the same file, bit for bit.
            proptest::prop_assert_eq!(from_text(&to_text(&whole)), Ok(whole));
        }
    }

    #[test]
    fn a_tampered_part_is_refused() {
        let grid = Grid {
            widths: vec![8, 16],
            seeds: vec![0, 1, 2],
            law_seeds: vec![],
        };
        let whole = synthetic(&grid);
        let mut parts = split(&whole, 2);
        parts[1].cells.pop();
        assert!(matches!(merge(parts), Err(ShardError::Shape(_))));
        let mut parts = split(&whole, 2);
        parts[0].cells.swap(0, 1);
        assert!(matches!(merge(parts), Err(ShardError::Shape(m)) if m.contains("belongs")));
        let mut parts = split(&whole, 2);
        parts[1].program_hash = "1".into();
        assert_eq!(merge(parts), Err(ShardError::Mismatch("their programs")));
        assert!(matches!(merge(vec![whole]), Err(ShardError::Shape(_))));
    }

    #[test]
    fn shards_partition_the_cells() {
        let grid = Grid {
            widths: vec![4, 8, 16],
            seeds: vec![0, 1, 2, 3, 4],
            law_seeds: vec![5, 6],
        };
        let cells = grid.cells();
        assert_eq!(cells.len(), 3 * 5 + 2);
        // The law cells are at the largest width, with the seeds after the grid's.
        assert_eq!(cells[15..], [(2, 5), (2, 6)]);
        for count in 1..=6 {
            let mut owners = vec![0; cells.len()];
            for index in 1..=count {
                for (p, o) in owners.iter_mut().enumerate() {
                    if (Shard { index, count }).owns(p) {
                        *o += 1;
                    }
                }
            }
            assert!(owners.iter().all(|&o| o == 1), "M = {count}: {owners:?}");
        }
    }
}
