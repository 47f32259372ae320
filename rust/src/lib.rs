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
//! * A pixel is set when its **centre** is inside the shape.
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
//! * Shapes are OR-ed into their frame. Vertices outside the image are
//!   clipped; a non-finite vertex or parameter is an error naming the shape.

pub mod pack;
pub mod raster;

#[cfg(feature = "python")]
mod py;

pub use pack::pack_bits;
pub use raster::{
    rasterize_into, RasterError, Shapes, KIND_DISC, KIND_ELLIPSE, KIND_POLYGON, KIND_STROKE,
};
