//! Shapes → byte masks. See the crate documentation for the convention.

use std::fmt;

/// Closed rings filled even-odd; non-hole rings united, hole rings removed.
pub const KIND_POLYGON: u8 = 0;
/// Open polyline stroked with width `param`.
pub const KIND_STROKE: u8 = 1;
/// Disc of radius `param` around the first vertex.
pub const KIND_DISC: u8 = 2;
/// Filled axis-aligned ellipse: vertices `(cx, cy)`, `(rx, ry)`.
pub const KIND_ELLIPSE: u8 = 3;
/// MD.ai `mask` contours (`cv2.findContours`), vertices are pixel **indices**;
/// see [`crate::mask`].
pub const KIND_MASK: u8 = 4;

/// Flat geometry of many shapes (borrowed from the caller's arrays).
///
/// Shape `i` goes to frame `shape_frame[i]` and owns rings
/// `shape_ring_offsets[i]..shape_ring_offsets[i + 1]`; ring `j` owns vertices
/// `ring_vertex_offsets[j]..ring_vertex_offsets[j + 1]`, stored as
/// `vertices[2 * k]` = x, `vertices[2 * k + 1]` = y.
#[derive(Debug, Clone, Copy)]
pub struct Shapes<'a> {
    pub shape_frame: &'a [u32],
    pub shape_kind: &'a [u8],
    pub shape_param: &'a [f64],
    pub shape_ring_offsets: &'a [u64],
    pub ring_vertex_offsets: &'a [u64],
    pub ring_is_hole: &'a [bool],
    pub vertices: &'a [f64],
}

/// Why shapes could not be rasterised.
#[derive(Debug, Clone, PartialEq)]
pub enum RasterError {
    /// The arrays do not describe shapes (lengths, offsets).
    Layout(String),
    /// Shape `index` is invalid (non-finite vertex, unknown kind, frame out of range).
    Shape { index: usize, message: String },
}

impl fmt::Display for RasterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RasterError::Layout(m) => write!(f, "invalid geometry arrays: {m}"),
            RasterError::Shape { index, message } => write!(f, "shape {index}: {message}"),
        }
    }
}

impl std::error::Error for RasterError {}

fn shape_err(index: usize, message: impl Into<String>) -> RasterError {
    RasterError::Shape {
        index,
        message: message.into(),
    }
}

fn check_offsets(
    name: &str,
    offsets: &[u64],
    items: usize,
    limit: usize,
) -> Result<(), RasterError> {
    if offsets.len() != items + 1 {
        return Err(RasterError::Layout(format!(
            "{name} has {} entries, expected {}",
            offsets.len(),
            items + 1
        )));
    }
    if offsets[0] != 0 || offsets.windows(2).any(|w| w[0] > w[1]) {
        return Err(RasterError::Layout(format!(
            "{name} must start at 0 and never decrease"
        )));
    }
    if offsets[items] as usize != limit || offsets[items] > usize::MAX as u64 {
        return Err(RasterError::Layout(format!(
            "{name} ends at {}, expected {limit}",
            offsets[items]
        )));
    }
    Ok(())
}

impl Shapes<'_> {
    pub(crate) fn n_shapes(&self) -> usize {
        self.shape_kind.len()
    }

    /// Check array lengths, offsets, kinds, frames and finiteness.
    pub fn validate(&self, n_frames: usize) -> Result<(), RasterError> {
        let n = self.n_shapes();
        if self.shape_frame.len() != n || self.shape_param.len() != n {
            return Err(RasterError::Layout(format!(
                "shape_frame ({}), shape_kind ({n}) and shape_param ({}) differ in length",
                self.shape_frame.len(),
                self.shape_param.len()
            )));
        }
        if self.vertices.len() % 2 != 0 {
            return Err(RasterError::Layout("vertices must be (n, 2)".into()));
        }
        let n_rings = self.ring_is_hole.len();
        check_offsets("shape_ring_offsets", self.shape_ring_offsets, n, n_rings)?;
        check_offsets(
            "ring_vertex_offsets",
            self.ring_vertex_offsets,
            n_rings,
            self.vertices.len() / 2,
        )?;
        for i in 0..n {
            if self.shape_frame[i] as usize >= n_frames {
                return Err(shape_err(
                    i,
                    format!("frame {} >= n_frames {n_frames}", self.shape_frame[i]),
                ));
            }
            let kind = self.shape_kind[i];
            if kind > KIND_MASK {
                return Err(shape_err(i, format!("unknown kind {kind}")));
            }
            let p = self.shape_param[i];
            if !p.is_finite() {
                return Err(shape_err(i, format!("non-finite parameter {p}")));
            }
            for r in self.rings_of(i) {
                for v in self.ring(r).chunks_exact(2) {
                    if !(v[0].is_finite() && v[1].is_finite()) {
                        return Err(shape_err(
                            i,
                            format!("non-finite vertex ({}, {})", v[0], v[1]),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn rings_of(&self, i: usize) -> std::ops::Range<usize> {
        self.shape_ring_offsets[i] as usize..self.shape_ring_offsets[i + 1] as usize
    }

    pub(crate) fn ring(&self, r: usize) -> &[f64] {
        let a = self.ring_vertex_offsets[r] as usize;
        let b = self.ring_vertex_offsets[r + 1] as usize;
        &self.vertices[2 * a..2 * b]
    }
}

/// A rectangle of rows `r0..r1` and columns `c0..c1` inside the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) r0: usize,
    pub(crate) r1: usize,
    pub(crate) c0: usize,
    pub(crate) c1: usize,
}

impl Window {
    pub(crate) fn width(&self) -> usize {
        self.c1 - self.c0
    }
    pub(crate) fn height(&self) -> usize {
        self.r1 - self.r0
    }
    pub(crate) fn area(&self) -> usize {
        self.height() * self.width()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.r0 >= self.r1 || self.c0 >= self.c1
    }
}

/// First index `k` in `0..=limit` whose pixel centre `k + 0.5` is `>= t`.
fn first_centre_at_or_after(t: f64, limit: usize) -> usize {
    let k = (t - 0.5).ceil();
    if k <= 0.0 {
        0
    } else if k >= limit as f64 {
        limit
    } else {
        k as usize
    }
}

/// First index in `0..=limit` whose centre is `> t` (for inclusive upper bounds).
fn first_centre_after(t: f64, limit: usize) -> usize {
    let k = (t - 0.5).floor() + 1.0;
    if k <= 0.0 {
        0
    } else if k >= limit as f64 {
        limit
    } else {
        k as usize
    }
}

fn bounds(ring: &[f64]) -> (f64, f64, f64, f64) {
    let mut b = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for v in ring.chunks_exact(2) {
        b.0 = b.0.min(v[0]);
        b.1 = b.1.min(v[1]);
        b.2 = b.2.max(v[0]);
        b.3 = b.3.max(v[1]);
    }
    b
}

/// Window of pixels whose centres can lie in `[xmin, xmax] x [ymin, ymax]`.
fn window(b: (f64, f64, f64, f64), rows: usize, cols: usize) -> Window {
    Window {
        r0: first_centre_at_or_after(b.1, rows),
        r1: first_centre_after(b.3, rows),
        c0: first_centre_at_or_after(b.0, cols),
        c1: first_centre_after(b.2, cols),
    }
}

/// Even-odd fill of one closed ring into `buf` (a `win`-sized bitmap), XOR-free:
/// sets (value 1) the pixels whose centres are inside.
fn fill_ring(ring: &[f64], win: Window, buf: &mut [u8], crossings: &mut Vec<Vec<f64>>) {
    let n = ring.len() / 2;
    if n < 3 || win.is_empty() {
        return;
    }
    let height = win.r1 - win.r0;
    if crossings.len() < height {
        crossings.resize_with(height, Vec::new);
    }
    for row in crossings.iter_mut().take(height) {
        row.clear();
    }
    for i in 0..n {
        let j = if i + 1 == n { 0 } else { i + 1 };
        let (x0, y0) = (ring[2 * i], ring[2 * i + 1]);
        let (x1, y1) = (ring[2 * j], ring[2 * j + 1]);
        if y0 == y1 {
            continue;
        }
        // rows whose centre py satisfies min(y0, y1) <= py < max(y0, y1)
        let (ylo, yhi) = if y0 < y1 { (y0, y1) } else { (y1, y0) };
        let ra = first_centre_at_or_after(ylo, win.r1).max(win.r0);
        let rb = first_centre_at_or_after(yhi, win.r1);
        for r in ra..rb {
            let py = r as f64 + 0.5;
            // the textbook crossing-number expression, operation for operation, so a centre
            // lying exactly on an edge is decided the same way as by reference implementations
            crossings[r - win.r0].push(x0 + (py - y0) * (x1 - x0) / (y1 - y0));
        }
    }
    let w = win.width();
    for (k, xs) in crossings.iter_mut().take(height).enumerate() {
        if xs.len() < 2 {
            continue;
        }
        xs.sort_unstable_by(f64::total_cmp);
        let line = &mut buf[k * w..(k + 1) * w];
        for pair in xs.chunks_exact(2) {
            // centres px with pair[0] <= px < pair[1]
            let a = first_centre_at_or_after(pair[0], win.c1).max(win.c0);
            let b = first_centre_at_or_after(pair[1], win.c1);
            if a < b {
                line[a - win.c0..b - win.c0].fill(1);
            }
        }
    }
}

/// OR the `win`-sized bitmap `buf` into `frame` and return how many pixels `buf` sets.
fn or_window(frame: &mut [u8], cols: usize, win: Window, buf: &[u8]) -> u64 {
    let w = win.width();
    let mut count = 0u64;
    for (k, r) in (win.r0..win.r1).enumerate() {
        let dst = &mut frame[r * cols + win.c0..r * cols + win.c1];
        let src = &buf[k * w..(k + 1) * w];
        for (d, &s) in dst.iter_mut().zip(src) {
            *d |= s;
            count += u64::from(s);
        }
    }
    count
}

/// Reusable buffers: one shape is painted into `out` (the size of its window),
/// then OR-ed into its frame.
#[derive(Default)]
pub(crate) struct Scratch {
    pub(crate) out: Vec<u8>,
    part: Vec<u8>,
    hole: Vec<u8>,
    crossings: Vec<Vec<f64>>,
    pub(crate) mask: crate::mask::MaskScratch,
}

/// Zero `buf` and size it for `win`.
pub(crate) fn reset(buf: &mut Vec<u8>, win: Window) {
    buf.clear();
    buf.resize(win.area(), 0);
}

fn fill_polygon(
    shapes: &Shapes,
    i: usize,
    rows: usize,
    cols: usize,
    s: &mut Scratch,
) -> Option<Window> {
    let mut b = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for r in shapes.rings_of(i) {
        if !shapes.ring_is_hole[r] {
            let rb = bounds(shapes.ring(r));
            b = (b.0.min(rb.0), b.1.min(rb.1), b.2.max(rb.2), b.3.max(rb.3));
        }
    }
    if !b.0.is_finite() {
        return None;
    }
    let win = window(b, rows, cols);
    if win.is_empty() {
        return None;
    }
    reset(&mut s.out, win);
    let mut has_hole = false;
    for r in shapes.rings_of(i) {
        if shapes.ring_is_hole[r] {
            has_hole = true;
            continue;
        }
        reset(&mut s.part, win);
        fill_ring(shapes.ring(r), win, &mut s.part, &mut s.crossings);
        for (d, &p) in s.out.iter_mut().zip(&s.part) {
            *d |= p;
        }
    }
    if has_hole {
        reset(&mut s.hole, win);
        for r in shapes.rings_of(i) {
            if shapes.ring_is_hole[r] {
                reset(&mut s.part, win);
                fill_ring(shapes.ring(r), win, &mut s.part, &mut s.crossings);
                for (d, &p) in s.hole.iter_mut().zip(&s.part) {
                    *d |= p;
                }
            }
        }
        for (d, &h) in s.out.iter_mut().zip(&s.hole) {
            *d &= 1 - h;
        }
    }
    Some(win)
}

/// Squared distance from `(px, py)` to the segment `a`–`b`.
fn dist2_to_segment(px: f64, py: f64, ax: f64, ay: f64, bx: f64, by: f64) -> f64 {
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (ax + t * dx - px, ay + t * dy - py);
    qx * qx + qy * qy
}

fn fill_stroke(
    ring: &[f64],
    half: f64,
    rows: usize,
    cols: usize,
    out: &mut Vec<u8>,
) -> Option<Window> {
    let n = ring.len() / 2;
    if n == 0 || half.is_nan() || half < 0.0 {
        return None;
    }
    let b = bounds(ring);
    let win = window((b.0 - half, b.1 - half, b.2 + half, b.3 + half), rows, cols);
    if win.is_empty() {
        return None;
    }
    reset(out, win);
    let w = win.width();
    let r2 = half * half;
    let segs = if n == 1 { 1 } else { n - 1 };
    for k in 0..segs {
        let (ax, ay) = (ring[2 * k], ring[2 * k + 1]);
        let (bx, by) = if n == 1 {
            (ax, ay)
        } else {
            (ring[2 * k + 2], ring[2 * k + 3])
        };
        // the segment's own window lies inside `win` (same bounds, fewer vertices)
        let seg = window(
            (
                ax.min(bx) - half,
                ay.min(by) - half,
                ax.max(bx) + half,
                ay.max(by) + half,
            ),
            rows,
            cols,
        );
        for r in seg.r0..seg.r1 {
            let py = r as f64 + 0.5;
            let line = &mut out[(r - win.r0) * w..(r - win.r0 + 1) * w];
            for c in seg.c0..seg.c1 {
                if dist2_to_segment(c as f64 + 0.5, py, ax, ay, bx, by) <= r2 {
                    line[c - win.c0] = 1;
                }
            }
        }
    }
    Some(win)
}

fn fill_ellipse(
    (cx, cy, rx, ry): (f64, f64, f64, f64),
    rows: usize,
    cols: usize,
    out: &mut Vec<u8>,
) -> Option<Window> {
    if !(rx > 0.0 && ry > 0.0) {
        return None;
    }
    let win = window((cx - rx, cy - ry, cx + rx, cy + ry), rows, cols);
    if win.is_empty() {
        return None;
    }
    reset(out, win);
    let w = win.width();
    for r in win.r0..win.r1 {
        let dy = (r as f64 + 0.5 - cy) / ry;
        let line = &mut out[(r - win.r0) * w..(r - win.r0 + 1) * w];
        for c in win.c0..win.c1 {
            let dx = (c as f64 + 0.5 - cx) / rx;
            if dx * dx + dy * dy <= 1.0 {
                line[c - win.c0] = 1;
            }
        }
    }
    Some(win)
}

/// Paints validated shapes one at a time, reusing its buffers.
pub(crate) struct Painter<'s, 'a> {
    shapes: &'s Shapes<'a>,
    rows: usize,
    cols: usize,
    scratch: Scratch,
}

impl<'s, 'a> Painter<'s, 'a> {
    /// `shapes` must have passed [`Shapes::validate`].
    pub(crate) fn new(shapes: &'s Shapes<'a>, rows: usize, cols: usize) -> Self {
        Painter {
            shapes,
            rows,
            cols,
            scratch: Scratch::default(),
        }
    }

    /// Paint shape `i` alone into `scratch.out`; `None` when it covers no pixel window.
    fn paint(&mut self, i: usize) -> Option<Window> {
        let (shapes, rows, cols) = (self.shapes, self.rows, self.cols);
        let s = &mut self.scratch;
        let first_ring = shapes.rings_of(i).next().map(|r| shapes.ring(r));
        match shapes.shape_kind[i] {
            KIND_POLYGON => fill_polygon(shapes, i, rows, cols, s),
            KIND_STROKE => first_ring.and_then(|ring| {
                fill_stroke(ring, shapes.shape_param[i] / 2.0, rows, cols, &mut s.out)
            }),
            KIND_DISC => first_ring.filter(|r| r.len() >= 2).and_then(|ring| {
                fill_stroke(&ring[..2], shapes.shape_param[i], rows, cols, &mut s.out)
            }),
            KIND_ELLIPSE => first_ring.filter(|r| r.len() >= 4).and_then(|ring| {
                fill_ellipse((ring[0], ring[1], ring[2], ring[3]), rows, cols, &mut s.out)
            }),
            _ => crate::mask::fill_mask(shapes, i, rows, cols, &mut s.out, &mut s.mask),
        }
    }

    /// OR shape `i` into `frame` (`rows * cols` bytes); returns the number of
    /// pixels the shape covers on its own.
    pub(crate) fn draw(&mut self, i: usize, frame: &mut [u8]) -> u64 {
        match self.paint(i) {
            Some(win) => or_window(frame, self.cols, win, &self.scratch.out),
            None => 0,
        }
    }
}

/// Fill every shape into `out`, a zeroed `(n_frames, rows, cols)` C-order buffer.
pub fn rasterize_into(
    out: &mut [u8],
    rows: usize,
    cols: usize,
    n_frames: usize,
    shapes: &Shapes,
) -> Result<(), RasterError> {
    let frame_len = frame_len(rows, cols)?;
    let total = frame_len
        .checked_mul(n_frames)
        .ok_or_else(|| RasterError::Layout("n_frames * rows * cols overflows".into()))?;
    if out.len() != total {
        return Err(RasterError::Layout(format!(
            "output has {} bytes, expected {total}",
            out.len()
        )));
    }
    shapes.validate(n_frames)?;
    if frame_len == 0 {
        return Ok(());
    }
    let mut painter = Painter::new(shapes, rows, cols);
    for i in 0..shapes.n_shapes() {
        let f = shapes.shape_frame[i] as usize;
        painter.draw(i, &mut out[f * frame_len..(f + 1) * frame_len]);
    }
    Ok(())
}

/// `rows * cols`, or a layout error when it overflows.
pub(crate) fn frame_len(rows: usize, cols: usize) -> Result<usize, RasterError> {
    rows.checked_mul(cols)
        .ok_or_else(|| RasterError::Layout("rows * cols overflows".into()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) struct Owned {
        pub(crate) frame: Vec<u32>,
        pub(crate) kind: Vec<u8>,
        pub(crate) param: Vec<f64>,
        pub(crate) sro: Vec<u64>,
        pub(crate) rvo: Vec<u64>,
        pub(crate) hole: Vec<bool>,
        pub(crate) verts: Vec<f64>,
    }

    impl Owned {
        pub(crate) fn new() -> Self {
            Owned {
                frame: vec![],
                kind: vec![],
                param: vec![],
                sro: vec![0],
                rvo: vec![0],
                hole: vec![],
                verts: vec![],
            }
        }
        pub(crate) fn shape(
            mut self,
            frame: u32,
            kind: u8,
            param: f64,
            rings: &[(&[(f64, f64)], bool)],
        ) -> Self {
            self.frame.push(frame);
            self.kind.push(kind);
            self.param.push(param);
            for (ring, hole) in rings {
                for &(x, y) in ring.iter() {
                    self.verts.push(x);
                    self.verts.push(y);
                }
                self.rvo.push((self.verts.len() / 2) as u64);
                self.hole.push(*hole);
            }
            self.sro.push(self.hole.len() as u64);
            self
        }
        pub(crate) fn shapes(&self) -> Shapes<'_> {
            Shapes {
                shape_frame: &self.frame,
                shape_kind: &self.kind,
                shape_param: &self.param,
                shape_ring_offsets: &self.sro,
                ring_vertex_offsets: &self.rvo,
                ring_is_hole: &self.hole,
                vertices: &self.verts,
            }
        }
        pub(crate) fn raster(
            &self,
            rows: usize,
            cols: usize,
            n: usize,
        ) -> Result<Vec<u8>, RasterError> {
            let mut out = vec![0; rows * cols * n];
            rasterize_into(&mut out, rows, cols, n, &self.shapes())?;
            Ok(out)
        }
    }

    pub(crate) fn grid(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .flat_map(|l| l.bytes().map(|b| u8::from(b == b'#')))
            .collect()
    }

    fn poly(pts: &[(f64, f64)]) -> Owned {
        Owned::new().shape(0, KIND_POLYGON, 0.0, &[(pts, false)])
    }

    #[test]
    fn bbox_half_open() {
        // x 1..3, y 1..4: centres 1.5, 2.5 in x; 1.5, 2.5, 3.5 in y
        let o = poly(&[(1.0, 1.0), (3.0, 1.0), (3.0, 4.0), (1.0, 4.0)]);
        assert_eq!(
            o.raster(5, 5, 1).unwrap(),
            grid("..... .##.. .##.. .##.. .....")
        );
    }

    #[test]
    fn bbox_on_centres_is_half_open() {
        // edges through centres: x from 0.5 to 2.5 -> centres 0.5, 1.5 (not 2.5)
        let o = poly(&[(0.5, 0.5), (2.5, 0.5), (2.5, 1.5), (0.5, 1.5)]);
        assert_eq!(o.raster(3, 4, 1).unwrap(), grid("##.. .... ...."));
    }

    #[test]
    fn triangle() {
        let o = poly(&[(0.0, 0.0), (4.0, 0.0), (0.0, 4.0)]);
        assert_eq!(o.raster(4, 4, 1).unwrap(), grid("###. ##.. #... ...."));
    }

    #[test]
    fn bowtie_and_pentagram_even_odd() {
        // crossings on row centres fall on pixel centres: the half-open rule decides
        let o = poly(&[(0.0, 0.0), (8.0, 8.0), (8.0, 0.0), (0.0, 8.0)]);
        let out = o.raster(8, 8, 1).unwrap();
        assert_eq!(&out[0..8], &grid(".......#")[..]);
        assert_eq!(&out[3 * 8..4 * 8], &grid("###.####")[..]);
        assert_eq!(&out[4 * 8..5 * 8], &grid("###.####")[..]);
        // pentagram: the centre is covered twice -> a hole under even-odd
        let pts: Vec<(f64, f64)> = (0..5)
            .map(|k| {
                let a = std::f64::consts::PI * (0.5 + 0.8 * k as f64);
                (10.0 + 9.0 * a.cos(), 10.0 - 9.0 * a.sin())
            })
            .collect();
        let out = poly(&pts).raster(20, 20, 1).unwrap();
        assert_eq!(out[9 * 20 + 9], 0, "pentagram centre is outside (even-odd)");
        assert_eq!(out[4 * 20 + 9], 1, "a point of the star is inside");
    }

    #[test]
    fn holes_are_removed_and_rings_united() {
        let outer: &[(f64, f64)] = &[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0)];
        let inner: &[(f64, f64)] = &[(1.0, 1.0), (3.0, 1.0), (3.0, 3.0), (1.0, 3.0)];
        let extra: &[(f64, f64)] = &[(5.0, 0.0), (6.0, 0.0), (6.0, 1.0), (5.0, 1.0)];
        let o = Owned::new().shape(
            0,
            KIND_POLYGON,
            0.0,
            &[(outer, false), (inner, true), (extra, false)],
        );
        assert_eq!(
            o.raster(4, 6, 1).unwrap(),
            grid("####.# #..#.. #..#.. ####..")
        );
    }

    #[test]
    fn degenerate_rings_fill_nothing() {
        for pts in [
            vec![(1.0, 1.0)],
            vec![(1.0, 1.0), (3.0, 3.0)],
            vec![(0.0, 0.0), (2.0, 2.0), (4.0, 4.0)],
            vec![(0.0, 1.0), (4.0, 1.0), (2.0, 1.0)],
        ] {
            assert!(poly(&pts).raster(5, 5, 1).unwrap().iter().all(|&v| v == 0));
        }
    }

    #[test]
    fn clipping_and_huge_coordinates() {
        let o = poly(&[(-1e9, -1e9), (1e9, -1e9), (1e9, 1e9), (-1e9, 1e9)]);
        assert!(o.raster(3, 5, 1).unwrap().iter().all(|&v| v == 1));
        let far = poly(&[(1e12, 1e12), (2e12, 1e12), (2e12, 2e12)]);
        assert!(far.raster(3, 5, 1).unwrap().iter().all(|&v| v == 0));
        let o = poly(&[(-2.0, -2.0), (2.0, -2.0), (2.0, 2.0), (-2.0, 2.0)]);
        assert_eq!(o.raster(3, 3, 1).unwrap(), grid("##. ##. ..."));
    }

    #[test]
    fn non_finite_is_an_error_naming_the_shape() {
        let o = poly(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]).shape(
            0,
            KIND_POLYGON,
            0.0,
            &[(&[(0.0, 0.0), (f64::NAN, 0.0), (1.0, 1.0)], false)],
        );
        let err = o.raster(2, 2, 1).unwrap_err();
        assert_eq!(err.to_string(), "shape 1: non-finite vertex (NaN, 0)");
        let o = Owned::new().shape(0, KIND_STROKE, f64::INFINITY, &[(&[(0.0, 0.0)], false)]);
        assert!(o
            .raster(2, 2, 1)
            .unwrap_err()
            .to_string()
            .starts_with("shape 0:"));
    }

    #[test]
    fn layout_errors() {
        let o = poly(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]);
        assert!(o.raster(2, 2, 0).is_err(), "frame out of range");
        let mut bad = poly(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]);
        bad.rvo = vec![0, 5];
        assert!(matches!(bad.raster(2, 2, 1), Err(RasterError::Layout(_))));
        let mut bad = poly(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]);
        bad.kind = vec![9];
        assert!(bad.raster(2, 2, 1).is_err());
    }

    #[test]
    fn stroke_disc_ellipse() {
        // horizontal line along y = 2.5 (through centres), width 1 -> one row
        let o = Owned::new().shape(0, KIND_STROKE, 1.0, &[(&[(0.5, 2.5), (3.5, 2.5)], false)]);
        assert_eq!(o.raster(4, 5, 1).unwrap(), grid("..... ..... ####. ....."));
        // disc radius 1 at a pixel corner (2, 2): the 4 touching centres (distance 0.707)
        let o = Owned::new().shape(0, KIND_DISC, 1.0, &[(&[(2.0, 2.0)], false)]);
        assert_eq!(o.raster(4, 4, 1).unwrap(), grid(".... .##. .##. ...."));
        // ellipse centred on a centre, rx 2 ry 1
        let o = Owned::new().shape(0, KIND_ELLIPSE, 0.0, &[(&[(2.5, 1.5), (2.0, 1.0)], false)]);
        assert_eq!(o.raster(3, 5, 1).unwrap(), grid("..#.. ##### ..#.."));
        let o = Owned::new().shape(0, KIND_ELLIPSE, 0.0, &[(&[(2.5, 1.5), (0.0, 1.0)], false)]);
        assert!(o.raster(3, 5, 1).unwrap().iter().all(|&v| v == 0));
    }

    #[test]
    fn shapes_go_to_their_frames_and_or() {
        let sq: &[(f64, f64)] = &[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)];
        let sq2: &[(f64, f64)] = &[(1.0, 1.0), (2.0, 1.0), (2.0, 2.0), (1.0, 2.0)];
        let o = Owned::new()
            .shape(1, KIND_POLYGON, 0.0, &[(sq, false)])
            .shape(1, KIND_POLYGON, 0.0, &[(sq2, false)]);
        assert_eq!(o.raster(2, 2, 2).unwrap(), vec![0, 0, 0, 0, 1, 0, 0, 1]);
        assert!(o.raster(0, 7, 2).unwrap().is_empty());
    }

    fn pts(v: &[(i32, i32)]) -> Vec<(f64, f64)> {
        v.iter()
            .map(|&(x, y)| (f64::from(x), f64::from(y)))
            .collect()
    }

    fn mask(rings: &[(Vec<(f64, f64)>, bool)]) -> Owned {
        let rings: Vec<(&[(f64, f64)], bool)> = rings.iter().map(|(r, h)| (&r[..], *h)).collect();
        Owned::new().shape(0, KIND_MASK, 0.0, &rings)
    }

    #[test]
    #[rustfmt::skip]
    fn mask_round_trips_cv2_contours() {
        // cv2.findContours(RETR_TREE, CHAIN_APPROX_NONE) of this mask, depth parity split
        let expected = grid(
            "#######.. #.....#.. #.###.#.# #.#.#.#.. #.###.#.. #.....#.# #######.# ......... ##.#...##",
        );
        let frame_fg = pts(&[
            (0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (0, 6), (1, 6), (2, 6), (3, 6),
            (4, 6), (5, 6), (6, 6), (6, 5), (6, 4), (6, 3), (6, 2), (6, 1), (6, 0), (5, 0),
            (4, 0), (3, 0), (2, 0), (1, 0),
        ]);
        // the hole's ring runs through the frame's pixels, cutting the corners
        let frame_bg = pts(&[
            (0, 1), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 1), (6, 2), (6, 3), (6, 4),
            (6, 5), (5, 6), (4, 6), (3, 6), (2, 6), (1, 6), (0, 5), (0, 4), (0, 3), (0, 2),
        ]);
        let island = pts(&[(2, 2), (2, 3), (2, 4), (3, 4), (4, 4), (4, 3), (4, 2), (3, 2)]);
        let island_hole = pts(&[(2, 3), (3, 2), (4, 3), (3, 4)]);
        let o = mask(&[
            (pts(&[(7, 8), (8, 8)]), false),
            (pts(&[(3, 8)]), false),
            (pts(&[(0, 8), (1, 8)]), false),
            (pts(&[(8, 5), (8, 6)]), false),
            (pts(&[(8, 2)]), false),
            (frame_fg, false),
            (frame_bg, true),
            (island, false),
            (island_hole, true),
        ]);
        assert_eq!(o.raster(9, 9, 1).unwrap(), expected);
    }

    #[test]
    fn mask_simple_chain_and_rounding() {
        // CHAIN_APPROX_SIMPLE keeps only the corners: the edges' lattice points are the outline
        let o = mask(&[(pts(&[(1, 0), (3, 0), (3, 2), (1, 2)]), false)]);
        assert_eq!(o.raster(4, 5, 1).unwrap(), grid(".###. .###. .###. ....."));
        // a diagonal 1-px line as 2 end points; non-integer vertices round to the nearest index
        let o = mask(&[(vec![(0.4, 0.6), (2.5, 3.49)], false)]);
        assert_eq!(o.raster(4, 4, 1).unwrap(), grid(".... #... .... ...#"));
    }

    #[test]
    fn mask_holes_islands_and_clipping() {
        let outer = pts(&[(0, 0), (4, 0), (4, 4), (0, 4)]);
        let hole = pts(&[(1, 2), (2, 1), (3, 2), (2, 3)]);
        // the hole ring runs through foreground pixels: they stay, its interior (2, 2) goes
        let o = mask(&[(outer.clone(), false), (hole.clone(), true)]);
        assert_eq!(
            o.raster(5, 5, 1).unwrap(),
            grid("##### ##### ##.## ##### #####")
        );
        // a background ring outside every foreground ring fills its interior (parity)
        let o = mask(&[(hole.clone(), true)]);
        assert_eq!(
            o.raster(5, 5, 1).unwrap(),
            grid("..... ..... ..#.. ..... .....")
        );
        // clipped: a square from (-3, -3) to (1, 1) -> pixels of rows/cols 0..=1
        let o = mask(&[(pts(&[(-3, -3), (1, -3), (1, 1), (-3, 1)]), false)]);
        assert_eq!(o.raster(3, 3, 1).unwrap(), grid("##. ##. ..."));
        // far away, huge and empty rings
        let o = mask(&[
            (vec![(1e300, 1e300), (-1e300, 1e300)], false),
            (vec![], false),
            (pts(&[(9, 9)]), false),
        ]);
        assert!(o.raster(3, 3, 1).unwrap().iter().all(|&v| v == 0));
        let o = mask(&[(
            vec![
                (-1e300, -1e300),
                (1e300, -1e300),
                (1e300, 1e300),
                (-1e300, 1e300),
            ],
            false,
        )]);
        assert!(o.raster(3, 3, 1).unwrap().iter().all(|&v| v == 1));
    }
}
