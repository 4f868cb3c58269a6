//! Coordinate-check statistics: for every recorded quantity of a sweep, its size at each
//! width (mean over seeds ± standard error) and the fitted exponents of its size and of
//! its change since step 0.

use super::stats::{fit_scalar_size, fit_slope, summarize, Fit, Summary};
use crate::ir::Kind;
use crate::sim::{Measurement, Quantity, SweepResult};

/// What a sweep says about one quantity.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantityStats {
    /// The quantity (name, kind, family, step, …).
    pub quantity: Quantity,
    /// Per width: the size (RMS of a vector, |value| of a scalar) over seeds.
    pub size: Vec<Summary>,
    /// Per width, scalars only: the signed value over seeds.
    pub value: Option<Vec<Summary>>,
    /// Per width, for v_t with t > 0 whose family has a step-0 member: the size of
    /// Δv_t = v_t − v_0 over seeds.
    pub delta: Option<Vec<Summary>>,
    /// The exponent of the size: for a vector, the mean of the per-seed slopes of its
    /// RMS ([`fit_slope`]); for a scalar, the slope of its root mean square over seeds
    /// ([`fit_scalar_size`]), since one seed's value may cross zero.
    pub size_fit: Fit,
    /// The exponent of the change, when there is one.
    pub delta_fit: Option<Fit>,
}

/// The statistics of every quantity of `result`, in program order.
pub fn coordinate_stats(result: &SweepResult) -> Vec<QuantityStats> {
    result
        .quantities
        .iter()
        .enumerate()
        .map(|(q, quantity)| {
            let per_width = |pick: fn(&Measurement) -> Option<f64>| -> Vec<Summary> {
                (0..result.widths.len())
                    .map(|w| {
                        summarize((0..result.seeds.len()).map(|s| {
                            result
                                .run(w, s)
                                .and_then(|r| r.measurements.get(q))
                                .and_then(pick)
                        }))
                    })
                    .collect()
            };
            let has_delta = quantity.base.is_some();
            let fit = |pick: fn(&Measurement) -> Option<f64>| match quantity.kind {
                Kind::Vector => fit_slope(&result.widths, &result.series(q, pick)),
                Kind::Scalar => fit_scalar_size(&result.widths, &result.series(q, pick)),
            };
            QuantityStats {
                quantity: quantity.clone(),
                size: per_width(|m| m.size),
                value: (quantity.kind == Kind::Scalar).then(|| per_width(|m| m.value)),
                delta: has_delta.then(|| per_width(|m| m.delta)),
                size_fit: fit(|m| m.size),
                delta_fit: has_delta.then(|| fit(|m| m.delta)),
            }
        })
        .collect()
}
