//! Rasteriser of MD.ai annotation geometry into DICOM SEG frames.
//!
//! This crate only turns geometry into bits; everything DICOM lives in the
//! Python package `mdai_fastexport`.
//!
//! # Convention
//!
//! * Coordinates are MD.ai / DICOM SCOORD pixel coordinates: `x` = column,
//!   `y` = row, the image's top-left **corner** is `(0, 0)`, so pixel
//!   `(row r, column c)` has its centre at `(c + 0.5, r + 0.5)`.
//! * A pixel is set when its **centre** is inside the shape (all kinds but
//!   [`KIND_MASK`]).
//! * [`KIND_POLYGON`]: every non-hole ring is filled with the **even-odd**
//!   rule, the fills of the non-hole rings are united, then the union of the
//!   hole rings (each filled even-odd) is removed. A centre exactly on an edge
//!   follows the half-open scanline rule: left/top edges are inside,
//!   right/bottom edges outside (a bbox `x, y, w, h` covers exactly the
//!   centres with `x <= cx < x + w` and `y <= cy < y + h`). Rings with fewer
//!   than 3 vertices fill nothing.
//! * [`KIND_STROKE`]: centres within distance `param / 2` (inclusive) of the
//!   open polyline through the first ring's vertices (one vertex: a disc).
//! * [`KIND_DISC`]: centres within distance `param` (inclusive) of the first
//!   ring's first vertex.
//! * [`KIND_ELLIPSE`]: the first ring holds `(cx, cy)` and `(rx, ry)`; centres
//!   with `((x-cx)/rx)^2 + ((y-cy)/ry)^2 <= 1`; `rx <= 0` or `ry <= 0` fills
//!   nothing.
//! * [`KIND_MASK`]: MD.ai `mask` contours (`cv2.findContours(RETR_TREE,
//!   CHAIN_APPROX_NONE)`), non-hole rings = `foreground`, hole rings =
//!   `background`. Vertices are pixel **indices** (pixel `(r, c)` is the
//!   point `x = c, y = r`), rounded to the nearest integer (halves away from
//!   zero). A pixel is set when it is *strictly inside* (even-odd, not on the
//!   ring's outline) an odd number of the shape's rings, or on the outline
//!   (the lattice points of the closed polyline: with `CHAIN_APPROX_NONE`,
//!   exactly its vertices) of a foreground ring. A brushed mask round-trips
//!   bit for bit: boundary pixels, 1-px lines and single pixels are kept,
//!   hole interiors cleared, islands in holes kept. See [`mask`].
//! * Shapes are OR-ed into their frame. Vertices outside the image are
//!   clipped; a non-finite vertex or parameter is an error naming the shape.
//!
//! # Output
//!
//! [`rasterize_into`] fills a dense `(n_frames, rows, cols)` byte volume.
//! [`rasterize_packed`] / [`rasterize_packed_into`] never build one: frames
//! are painted one at a time, in ascending id, into a reused scratch frame and
//! appended straight to DICOM BINARY pixel data (bit `k % 8` of byte `k / 8`,
//! LSB first, no padding between frames), optionally leaving out empty
//! frames, and report how many pixels each shape covers on its own.

pub mod frames;
pub mod mask;
pub mod pack;
pub mod raster;

#[cfg(feature = "python")]
mod py;

pub use frames::{
    packed_len_bound, rasterize_packed, rasterize_packed_into, PackedFrames, PackedInfo,
};
pub use pack::{pack_bits, BitSink};
pub use raster::{
    rasterize_into, RasterError, Shapes, KIND_DISC, KIND_ELLIPSE, KIND_MASK, KIND_POLYGON,
    KIND_STROKE,
};
