//! Counter-based standard Gaussians: the number at position `c` of stream `key` is a pure
//! function of (key, c).
//!
//! A sequential generator makes a matrix's entries depend on the order they are drawn
//! in; with a counter-based one, entry (i, j) is the same number whatever the width, the
//! order or the thread, so matrices can be filled row by row in memory order (the fastest
//! way to write n² numbers) and are still nested across widths.
//!
//! The 64 random bits of position c are wyrand's output for the Weyl state
//! `key + (c+1)·γ` (Wang Yi's generator: one 64×64→128-bit multiply folded to 64 bits,
//! which passes BigCrush and PractRand); it costs about 30% less than SplitMix64's
//! finalizer here, and drawing dominates the simulation of wide networks. Positions are
//! laid out densely ([`ROW_STRIDE`]) so that the states of neighbouring entries, in a
//! row or in a column, differ by multiples of γ with no zero low bits. The bits become a
//! Gaussian by Marsaglia & Tsang's ziggurat (2000) with 256 layers; the rare rejections
//! (about 1.3%) and tail draws take further bits from a SplitMix64 sequence keyed by
//! the same state, so they too depend only on (key, c). Stream keys are made with
//! SplitMix64's finalizer, whose full avalanche keeps nearby seeds unrelated.

use std::sync::OnceLock;

/// SplitMix64's increment, ⌊2^64/φ⌋ (odd, so `c ↦ c·γ` is a bijection).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
/// wyrand's increment and its multiplier's mask.
const WY_GAMMA: u64 = 0xA076_1D64_78BD_642F;
const WY_MASK: u64 = 0xE703_7ED1_A0B4_28DB;

/// Positions per matrix row: entry (i, j) is position `i·ROW_STRIDE + j`. Larger than any
/// width (so positions are distinct) and odd, so that a column's positions are not
/// multiples of a power of two (which would leave the low bits of their states equal).
pub(crate) const ROW_STRIDE: u64 = (1 << 32) + 15;

/// Number of ziggurat layers (the low 8 bits of a draw pick one).
const LAYERS: usize = 256;
/// Marsaglia & Tsang's start of the tail for 256 layers.
const TAIL_START: f64 = 3.654_152_885_361_009;
/// The common area of every layer, for the unnormalized density e^{-x²/2} (the same
/// paper; it makes the 256 layers end exactly at x = 0).
const LAYER_AREA: f64 = 4.928_673_233_99e-3;

/// SplitMix64's output function: a bijection of 64-bit words with full avalanche.
#[inline(always)]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The key of one random object: its seed and its stream number (kind tag | index).
pub(crate) fn stream_key(seed: u64, stream: u64) -> u64 {
    // Two rounds so that neither nearby seeds nor nearby stream numbers give related
    // keys; each round is a bijection, so distinct streams of one seed never share a key.
    mix64(mix64(seed ^ 0x6A09_E667_F3BC_C909).wrapping_add(stream.wrapping_mul(GAMMA)) ^ stream)
}

/// The ziggurat's layer edges `x[0..=256]` (decreasing, `x[1] = r`, `x[256] = 0`; `x[0]`
/// is the virtual width of the base layer) and `f[i] = e^{-x[i]²/2}`.
struct Tables {
    x: [f64; LAYERS + 1],
    f: [f64; LAYERS + 1],
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let density = |x: f64| (-0.5 * x * x).exp();
        let mut x = [0.0; LAYERS + 1];
        x[0] = LAYER_AREA / density(TAIL_START);
        x[1] = TAIL_START;
        for i in 1..LAYERS - 1 {
            // Layer i spans heights f(x[i])..f(x[i+1]) over [0, x[i]] with area v.
            let top = density(x[i]) + LAYER_AREA / x[i];
            x[i + 1] = (-2.0 * top.ln()).max(0.0).sqrt();
        }
        x[LAYERS] = 0.0;
        let mut f = [0.0; LAYERS + 1];
        for (fi, xi) in f.iter_mut().zip(&x) {
            *fi = density(*xi);
        }
        Tables { x, f }
    })
}

/// A stream of standard Gaussians addressed by position.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gaussians {
    key: u64,
    tables: &'static Tables,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ziggurat tables")
    }
}

impl Gaussians {
    /// The stream of one object.
    pub fn new(key: u64) -> Self {
        Gaussians {
            key,
            tables: tables(),
        }
    }

    /// The standard Gaussian at position `c`.
    #[inline(always)]
    pub fn at(&self, c: u64) -> f64 {
        let state = self
            .key
            .wrapping_add(c.wrapping_add(1).wrapping_mul(WY_GAMMA));
        let product = u128::from(state) * u128::from(state ^ WY_MASK);
        let bits = ((product >> 64) as u64) ^ (product as u64);
        let layer = (bits & 0xff) as usize;
        // A uniform in (-1, 1) from the top 53 bits, symmetric and never exactly 0. The
        // value fits in an i64, whose conversion to f64 is one instruction (u64's is not).
        let u = ((bits >> 11) as i64 as f64 + 0.5) * (2.0 / (1u64 << 53) as f64) - 1.0;
        let x = u * self.tables.x[layer];
        if x.abs() < self.tables.x[layer + 1] {
            return x;
        }
        self.slow(state, layer, x)
    }

    /// Fills `out[j]` with `scale` times the Gaussian at position `first + j`.
    pub fn fill(&self, first: u64, scale: f64, out: &mut [f64]) {
        for (c, slot) in (first..).zip(out.iter_mut()) {
            *slot = self.at(c) * scale;
        }
    }

    /// The rejection step for a draw outside the layer's inner rectangle: accept `x` with
    /// the right probability, or draw again, with further bits derived from `state`.
    #[cold]
    fn slow(&self, state: u64, mut layer: usize, mut x: f64) -> f64 {
        let t = self.tables;
        // A SplitMix64 sequence of its own, started from a key no first draw uses.
        let mut extra = mix64(state ^ 0x5851_F42D_4C95_7F2D);
        let mut next = move || {
            extra = extra.wrapping_add(GAMMA);
            mix64(extra)
        };
        // Uniform in (0, 1], never 0 (its logarithm is taken).
        let open01 = |bits: u64| ((bits >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        loop {
            if layer == 0 {
                // The tail beyond r (Marsaglia 1964): exponential proposals.
                loop {
                    let a = -open01(next()).ln() / TAIL_START;
                    let b = -open01(next()).ln();
                    if 2.0 * b >= a * a {
                        return if x < 0.0 {
                            -(TAIL_START + a)
                        } else {
                            TAIL_START + a
                        };
                    }
                }
            }
            let height = t.f[layer] + (t.f[layer + 1] - t.f[layer]) * open01(next());
            if height < (-0.5 * x * x).exp() {
                return x;
            }
            // Rejected: a fresh draw from the whole ziggurat.
            let bits = next();
            layer = (bits & 0xff) as usize;
            let u = ((bits >> 11) as i64 as f64 + 0.5) * (2.0 / (1u64 << 53) as f64) - 1.0;
            x = u * t.x[layer];
            if x.abs() < t.x[layer + 1] {
                return x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_close_exactly_at_the_top() {
        let t = tables();
        // The last layer [0, x255] × [f(x255), 1] must have the common area too.
        let top = t.x[LAYERS - 1] * (1.0 - t.f[LAYERS - 1]);
        assert!(
            (top / LAYER_AREA - 1.0).abs() < 1e-6,
            "top layer area {top}"
        );
        assert!(t.x.windows(2).all(|w| w[0] > w[1]));
    }

    /// Φ(x) from the crate's erf.
    fn normal_cdf(x: f64) -> f64 {
        0.5 * (1.0 + crate::ir::Func::Erf.apply(x / std::f64::consts::SQRT_2))
    }

    #[test]
    fn draws_are_standard_gaussian() {
        let g = Gaussians::new(stream_key(3, 7));
        let m = 400_000u64;
        let xs: Vec<f64> = (0..m).map(|c| g.at(c)).collect();
        let mean = xs.iter().sum::<f64>() / m as f64;
        let var = xs.iter().map(|x| x * x).sum::<f64>() / m as f64;
        let kurt = xs.iter().map(|x| x.powi(4)).sum::<f64>() / m as f64;
        // Standard errors: 1/√m ≈ 0.0016, √(2/m) ≈ 0.0022, √(96/m) ≈ 0.015.
        assert!(mean.abs() < 0.008, "mean {mean}");
        assert!((var - 1.0).abs() < 0.011, "variance {var}");
        assert!((kurt - 3.0).abs() < 0.08, "fourth moment {kurt}");
        // Kolmogorov–Smirnov distance; the 0.1% critical value is 1.95/√m ≈ 0.0031.
        let mut sorted = xs.clone();
        sorted.sort_by(f64::total_cmp);
        let ks = sorted
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let cdf = normal_cdf(x);
                (cdf - i as f64 / m as f64)
                    .abs()
                    .max((cdf - (i + 1) as f64 / m as f64).abs())
            })
            .fold(0.0, f64::max);
        assert!(ks < 0.0031, "KS distance {ks}");
        // The tail beyond r ≈ 3.654 (probability 2.58e-4, about 103 draws) is sampled.
        let tail = xs.iter().filter(|x| x.abs() > TAIL_START).count();
        assert!((60..160).contains(&tail), "{tail} draws beyond r");
        let beyond = xs.iter().filter(|x| x.abs() > 4.5).count();
        assert!(beyond <= 10, "{beyond} draws beyond 4.5");
    }

    #[test]
    fn positions_and_keys_are_independent() {
        let g = Gaussians::new(stream_key(1, 0));
        let h = Gaussians::new(stream_key(1, 1));
        let k = Gaussians::new(stream_key(2, 0));
        let m = 100_000u64;
        let dot = |a: &Gaussians, b: &Gaussians, shift: u64| {
            (0..m).map(|c| a.at(c) * b.at(c + shift)).sum::<f64>() / m as f64
        };
        // Correlations have standard error 1/√m ≈ 0.003.
        let neighbours = [
            (&g, &h, 0),
            (&g, &k, 0),
            (&g, &g, 1),
            (&g, &g, ROW_STRIDE),
            (&g, &g, ROW_STRIDE + 1),
        ];
        for (a, b, shift) in neighbours {
            let r = dot(a, b, shift);
            assert!(r.abs() < 0.015, "correlation {r}");
        }
        // Same position, same number.
        assert_eq!(g.at(12345).to_bits(), g.at(12345).to_bits());
    }
}
