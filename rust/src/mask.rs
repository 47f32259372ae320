//! [`KIND_MASK`](crate::KIND_MASK): MD.ai `mask` contours back into the brushed mask.
//!
//! MD.ai stores a brushed mask as the output of
//! `cv2.findContours(mask, RETR_TREE, CHAIN_APPROX_NONE)`: every ring lists
//! the `(column, row)` **indices** of boundary pixels, rings at even nesting
//! depth are `foreground`, rings at odd depth `background` (holes, whose own
//! vertices are the foreground pixels around the hole), and a hole may hold a
//! foreground island. The rule implemented here recovers the mask bit for bit:
//!
//! * Work in index coordinates: pixel `(r, c)` is the lattice point
//!   `(x = c, y = r)`. Vertices are rounded to the nearest integer (halves away
//!   from zero) and clamped to `±2^61`; all further arithmetic is exact.
//! * The **outline** of a ring is the set of lattice points on the closed
//!   polyline through its vertices (vertices and edges). With
//!   `CHAIN_APPROX_NONE` consecutive vertices are 8-neighbours, so the outline
//!   is exactly the vertex pixels; with `CHAIN_APPROX_SIMPLE` (straight runs
//!   kept as their end points) it is again exactly the boundary pixels.
//! * A pixel is **strictly inside** a ring when it is inside the ring's
//!   polygon by the even-odd rule and not on its outline (so the crossing
//!   parity is well defined: the point is on no edge).
//! * A pixel is set when it is strictly inside an **odd** number of the
//!   shape's rings (foreground or background: nesting parity), **or** it is on
//!   the outline of a foreground ring. Background outlines set nothing by
//!   themselves (their pixels are strictly inside the enclosing foreground
//!   ring), rings of 1 or 2 vertices have no interior, and a background ring
//!   outside every foreground ring would fill its own interior (parity; MD.ai
//!   never writes one).
//! * Pixels outside the image are dropped (the fill is clipped).

use crate::raster::{reset, Shapes, Window};

/// Vertex coordinates are clamped to this magnitude before the exact
/// integer arithmetic (products of two stay far inside `i128`).
const LIMIT: f64 = (1u64 << 61) as f64;

/// Reusable buffers of the mask fill.
#[derive(Default)]
pub(crate) struct MaskScratch {
    points: Vec<(i64, i64)>,
    ring: Vec<u8>,
    keys: Vec<Vec<i64>>,
}

/// The lattice index nearest to `v` (halves away from zero), clamped to `±2^61`.
fn to_index(v: f64) -> i64 {
    v.round().clamp(-LIMIT, LIMIT) as i64
}

fn load(shapes: &Shapes, r: usize, points: &mut Vec<(i64, i64)>) {
    points.clear();
    points.extend(
        shapes
            .ring(r)
            .chunks_exact(2)
            .map(|v| (to_index(v[0]), to_index(v[1]))),
    );
}

/// `clamp(v, 0, limit)` as an index.
fn clip(v: i128, limit: usize) -> usize {
    v.clamp(0, limit as i128) as usize
}

/// Pixels of the lattice bounding box of `points`, clipped to the image.
fn lattice_window(points: &[(i64, i64)], rows: usize, cols: usize) -> Option<Window> {
    let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    for &(x, y) in points {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if points.is_empty() {
        return None;
    }
    let win = Window {
        r0: clip(y0 as i128, rows),
        r1: clip(y1 as i128 + 1, rows),
        c0: clip(x0 as i128, cols),
        c1: clip(x1 as i128 + 1, cols),
    };
    (!win.is_empty()).then_some(win)
}

/// `ceil(num / den)` for `den > 0`.
fn ceil_div(num: i128, den: i128) -> i128 {
    -((-num).div_euclid(den))
}

/// Even-odd interior of the ring through `points` (lattice pixels, on-edge
/// pixels decided arbitrarily — the caller clears the outline) into the
/// `win`-sized bitmap `buf`.
fn fill_interior(points: &[(i64, i64)], win: Window, buf: &mut [u8], keys: &mut Vec<Vec<i64>>) {
    let n = points.len();
    if n < 3 {
        return; // one or two vertices enclose nothing
    }
    let height = win.height();
    if keys.len() < height {
        keys.resize_with(height, Vec::new);
    }
    for row in keys.iter_mut().take(height) {
        row.clear();
    }
    let (r0, r1) = (win.r0 as i128, win.r1 as i128);
    let (c0, c1) = (win.c0 as i128, win.c1 as i128);
    for i in 0..n {
        let (x0, y0) = points[i];
        let (x1, y1) = points[if i + 1 == n { 0 } else { i + 1 }];
        if y0 == y1 {
            continue;
        }
        let (x0, y0, x1, y1) = (x0 as i128, y0 as i128, x1 as i128, y1 as i128);
        // half-open in y: rows r with min(y0, y1) <= r < max(y0, y1)
        let (ylo, yhi) = (y0.min(y1), y0.max(y1));
        let (mut dx, mut dy) = (x1 - x0, y1 - y0);
        if dy < 0 {
            (dx, dy) = (-dx, -dy);
        }
        for r in ylo.max(r0)..yhi.min(r1) {
            // the crossing is at x = x0 + (r - y0) * dx / dy; column c has it strictly to
            // its right iff c < ceil(x), so the pixels inside are [k1, k2), [k3, k4), ...
            let k = ceil_div(x0 * dy + (r - y0) * dx, dy).clamp(c0, c1);
            keys[(r - r0) as usize].push(k as i64);
        }
    }
    let w = win.width();
    for (row, ks) in keys.iter_mut().take(height).enumerate() {
        if ks.len() < 2 {
            continue;
        }
        ks.sort_unstable();
        let line = &mut buf[row * w..(row + 1) * w];
        for pair in ks.chunks_exact(2) {
            let (a, b) = (pair[0] as usize - win.c0, pair[1] as usize - win.c0);
            line[a..b].fill(1);
        }
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Range of `k >= 0` with `lo <= p + k * step < hi` (empty when none).
fn steps_within(p: i128, step: i128, lo: i128, hi: i128) -> (i128, i128) {
    match step.cmp(&0) {
        std::cmp::Ordering::Equal => {
            if lo <= p && p < hi {
                (0, i128::MAX)
            } else {
                (1, 0)
            }
        }
        std::cmp::Ordering::Greater => (ceil_div(lo - p, step), (hi - 1 - p).div_euclid(step)),
        std::cmp::Ordering::Less => (ceil_div(p - (hi - 1), -step), (p - lo).div_euclid(-step)),
    }
}

/// Call `f(row, col)` for every pixel of `win` on the closed polyline through `points`.
fn for_outline(points: &[(i64, i64)], win: Window, mut f: impl FnMut(usize, usize)) {
    let n = points.len();
    let (r0, r1) = (win.r0 as i128, win.r1 as i128);
    let (c0, c1) = (win.c0 as i128, win.c1 as i128);
    for i in 0..n {
        let (x0, y0) = points[i];
        let (x1, y1) = points[if i + 1 == n { 0 } else { i + 1 }];
        let (x0, y0) = (x0 as i128, y0 as i128);
        let (dx, dy) = (x1 as i128 - x0, y1 as i128 - y0);
        let g = gcd(dx.unsigned_abs(), dy.unsigned_abs()) as i128;
        let (sx, sy, last) = if g == 0 {
            (0, 0, 0)
        } else {
            (dx / g, dy / g, g)
        };
        let (ax, bx) = steps_within(x0, sx, c0, c1);
        let (ay, by) = steps_within(y0, sy, r0, r1);
        let (ka, kb) = (ax.max(ay).max(0), bx.min(by).min(last));
        for k in ka..=kb {
            f((y0 + k * sy) as usize, (x0 + k * sx) as usize);
        }
    }
}

/// Paint the mask shape `i` into `out` (sized to the returned window).
pub(crate) fn fill_mask(
    shapes: &Shapes,
    i: usize,
    rows: usize,
    cols: usize,
    out: &mut Vec<u8>,
    s: &mut MaskScratch,
) -> Option<Window> {
    // the shape's window: the lattice bounding box of all its rings
    let mut win: Option<Window> = None;
    for r in shapes.rings_of(i) {
        load(shapes, r, &mut s.points);
        if let Some(rw) = lattice_window(&s.points, rows, cols) {
            win = Some(match win {
                None => rw,
                Some(w) => Window {
                    r0: w.r0.min(rw.r0),
                    r1: w.r1.max(rw.r1),
                    c0: w.c0.min(rw.c0),
                    c1: w.c1.max(rw.c1),
                },
            });
        }
    }
    let win = win?;
    reset(out, win);
    let w = win.width();
    // parity of "strictly inside" over all rings
    for r in shapes.rings_of(i) {
        load(shapes, r, &mut s.points);
        let Some(rw) = lattice_window(&s.points, rows, cols) else {
            continue;
        };
        if s.points.len() < 3 {
            continue;
        }
        reset(&mut s.ring, rw);
        fill_interior(&s.points, rw, &mut s.ring, &mut s.keys);
        let rw_w = rw.width();
        for_outline(&s.points, rw, |row, col| {
            s.ring[(row - rw.r0) * rw_w + col - rw.c0] = 0;
        });
        for (k, row) in (rw.r0..rw.r1).enumerate() {
            let dst = &mut out[(row - win.r0) * w + rw.c0 - win.c0..][..rw_w];
            for (d, &p) in dst.iter_mut().zip(&s.ring[k * rw_w..(k + 1) * rw_w]) {
                *d ^= p;
            }
        }
    }
    // plus the outlines of the foreground rings
    for r in shapes.rings_of(i) {
        if shapes.ring_is_hole[r] {
            continue;
        }
        load(shapes, r, &mut s.points);
        for_outline(&s.points, win, |row, col| {
            out[(row - win.r0) * w + col - win.c0] = 1;
        });
    }
    Some(win)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_and_clamping() {
        assert_eq!(to_index(2.5), 3);
        assert_eq!(to_index(-2.5), -3);
        assert_eq!(to_index(2.49), 2);
        assert_eq!(to_index(1e300), 1 << 61);
        assert_eq!(to_index(-1e300), -(1 << 61));
    }

    #[test]
    fn ceil_div_is_exact() {
        assert_eq!(ceil_div(7, 2), 4);
        assert_eq!(ceil_div(-7, 2), -3);
        assert_eq!(ceil_div(6, 3), 2);
        assert_eq!(ceil_div(-6, 3), -2);
    }

    fn outline(points: &[(i64, i64)], win: Window) -> Vec<(usize, usize)> {
        let mut v = vec![];
        for_outline(points, win, |r, c| v.push((r, c)));
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn outline_follows_edges_and_is_clipped() {
        let win = Window {
            r0: 0,
            r1: 4,
            c0: 0,
            c1: 5,
        };
        // a 2-vertex "ring" from (0, 0) to (4, 2): lattice points (0,0), (2,1), (4,2)
        assert_eq!(
            outline(&[(0, 0), (4, 2)], win),
            vec![(0, 0), (1, 2), (2, 4)]
        );
        // a single vertex, inside and outside the window
        assert_eq!(outline(&[(3, 1)], win), vec![(1, 3)]);
        assert!(outline(&[(5, 1)], win).is_empty());
        // a long edge far outside on both ends, crossing row 2
        assert_eq!(
            outline(&[(-1_000_000_000_000, 2), (1_000_000_000_000, 2)], win),
            (0..5).map(|c| (2, c)).collect::<Vec<_>>()
        );
        // a steep edge of slope 3, clipped
        assert_eq!(outline(&[(1, -3), (3, 3)], win), vec![(0, 2), (3, 3)]);
    }
}
