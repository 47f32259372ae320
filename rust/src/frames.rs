//! Shapes → bit-packed DICOM BINARY Segmentation frames, one frame at a time.
//!
//! No dense `(n_frames, rows, cols)` volume is ever built: shapes are bucketed
//! by frame (input order kept within a frame), each frame is painted into one
//! reused `rows * cols` scratch frame and appended to the packed output with
//! [`BitSink`]. Peak memory is one frame's bytes plus the packed output.

use crate::pack::BitSink;
use crate::raster::{frame_len, Painter, RasterError, Shapes};

/// Frames rasterised straight into DICOM BINARY pixel data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedFrames {
    /// The kept frames, concatenated: pixel `k` is bit `k % 8` (LSB first) of
    /// byte `k / 8`, no padding between frames, zero bits only to complete
    /// the last byte.
    pub data: Vec<u8>,
    /// Frame ids written, ascending.
    pub kept: Vec<u32>,
    /// `shape_pixels[i]`: pixels shape `i` covers on its own (clipped to the
    /// image, holes removed), regardless of the other shapes on its frame.
    pub shape_pixels: Vec<u64>,
}

/// What [`rasterize_packed_into`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedInfo {
    /// Bytes of the output used (`ceil(kept.len() * rows * cols / 8)`).
    pub n_bytes: usize,
    /// Frame ids written, ascending.
    pub kept: Vec<u32>,
    /// Pixels each shape covers on its own.
    pub shape_pixels: Vec<u64>,
}

/// Shape indices grouped by frame, ascending; input order kept within a frame.
fn by_frame(shapes: &Shapes) -> Vec<u32> {
    let mut order: Vec<u32> = (0..shapes.n_shapes() as u32).collect();
    order.sort_by_key(|&i| shapes.shape_frame[i as usize]); // stable
    order
}

fn check_frames(n_frames: usize, n_shapes: usize) -> Result<(), RasterError> {
    if n_frames > u32::MAX as usize + 1 {
        return Err(RasterError::Layout(format!(
            "n_frames {n_frames} does not fit frame ids of 32 bits"
        )));
    }
    if n_shapes > u32::MAX as usize {
        return Err(RasterError::Layout(format!(
            "{n_shapes} shapes is too many"
        )));
    }
    Ok(())
}

/// Number of frames that can be written: `n_frames`, or with `omit_empty`
/// the number of distinct frames holding a shape (sorted `order`).
fn frames_bound(shapes: &Shapes, order: &[u32], n_frames: usize, omit_empty: bool) -> usize {
    if !omit_empty {
        return n_frames;
    }
    let frame = |k: usize| shapes.shape_frame[order[k] as usize];
    (0..order.len())
        .filter(|&k| k == 0 || frame(k) != frame(k - 1))
        .count()
}

fn bytes_for(frames: usize, frame_len: usize) -> Result<usize, RasterError> {
    frames
        .checked_mul(frame_len)
        .map(|bits| bits.div_ceil(8))
        .ok_or_else(|| RasterError::Layout("n_frames * rows * cols overflows".into()))
}

/// Validate the shapes and return the number of bytes
/// [`rasterize_packed_into`] needs: every frame (`omit_empty = false`) or
/// every frame holding a shape, packed. The bytes actually written can be
/// fewer when a frame's shapes fill nothing.
pub fn packed_len_bound(
    rows: usize,
    cols: usize,
    n_frames: usize,
    shapes: &Shapes,
    omit_empty: bool,
) -> Result<usize, RasterError> {
    let frame_len = frame_len(rows, cols)?;
    shapes.validate(n_frames)?;
    check_frames(n_frames, shapes.n_shapes())?;
    let order = by_frame(shapes);
    bytes_for(
        frames_bound(shapes, &order, n_frames, omit_empty),
        frame_len,
    )
}

/// Rasterise frames in ascending id straight into packed bits in `out`.
///
/// `out` must hold at least [`packed_len_bound`] bytes (it need not be
/// zeroed; bytes past [`PackedInfo::n_bytes`] are left alone). With
/// `omit_empty` a frame with no set pixel is left out; otherwise every frame
/// `0..n_frames` is written.
pub fn rasterize_packed_into(
    out: &mut [u8],
    rows: usize,
    cols: usize,
    n_frames: usize,
    shapes: &Shapes,
    omit_empty: bool,
) -> Result<PackedInfo, RasterError> {
    let frame_len = frame_len(rows, cols)?;
    shapes.validate(n_frames)?;
    check_frames(n_frames, shapes.n_shapes())?;
    let order = by_frame(shapes);
    let need = bytes_for(
        frames_bound(shapes, &order, n_frames, omit_empty),
        frame_len,
    )?;
    if out.len() < need {
        return Err(RasterError::Layout(format!(
            "output has {} bytes, needs {need}",
            out.len()
        )));
    }
    let mut shape_pixels = vec![0u64; shapes.n_shapes()];
    let mut kept = Vec::new();
    let mut sink = BitSink::new(out);
    // the scratch frame exists only when something is drawn
    let mut frame = vec![0u8; if order.is_empty() { 0 } else { frame_len }];
    let mut dirty = false;
    let mut painter = Painter::new(shapes, rows, cols);
    let mut next = 0usize; // first frame id not yet decided
    let mut k = 0usize;
    while k < order.len() {
        let f = shapes.shape_frame[order[k] as usize] as usize;
        if !omit_empty {
            for empty in next..f {
                kept.push(empty as u32);
                sink.push_zeros(frame_len);
            }
        }
        if dirty {
            frame.fill(0);
            dirty = false;
        }
        while k < order.len() && shapes.shape_frame[order[k] as usize] as usize == f {
            let i = order[k] as usize;
            if frame_len > 0 {
                shape_pixels[i] = painter.draw(i, &mut frame);
                dirty |= shape_pixels[i] > 0;
            }
            k += 1;
        }
        // the frame has a set pixel iff one of its shapes covers one
        if dirty {
            kept.push(f as u32);
            sink.push(&frame);
        } else if !omit_empty {
            kept.push(f as u32);
            sink.push_zeros(frame_len);
        }
        next = f + 1;
    }
    if !omit_empty {
        for empty in next..n_frames {
            kept.push(empty as u32);
            sink.push_zeros(frame_len);
        }
    }
    Ok(PackedInfo {
        n_bytes: sink.bytes(),
        kept,
        shape_pixels,
    })
}

/// [`rasterize_packed_into`] into a vector of exactly the bytes written.
pub fn rasterize_packed(
    rows: usize,
    cols: usize,
    n_frames: usize,
    shapes: &Shapes,
    omit_empty: bool,
) -> Result<PackedFrames, RasterError> {
    let mut data = vec![0u8; packed_len_bound(rows, cols, n_frames, shapes, omit_empty)?];
    let info = rasterize_packed_into(&mut data, rows, cols, n_frames, shapes, omit_empty)?;
    data.truncate(info.n_bytes);
    Ok(PackedFrames {
        data,
        kept: info.kept,
        shape_pixels: info.shape_pixels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::pack_bits;
    use crate::raster::tests::{grid, Owned};
    use crate::{KIND_DISC, KIND_MASK, KIND_POLYGON};

    const SQ: &[(f64, f64)] = &[(0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0)];

    /// Dense raster + pack_bits of the kept frames, for comparison.
    fn reference(o: &Owned, rows: usize, cols: usize, n: usize, omit: bool) -> PackedFrames {
        let dense = o.raster(rows, cols, n).unwrap();
        let fl = rows * cols;
        let kept: Vec<u32> = (0..n as u32)
            .filter(|&f| !omit || dense[f as usize * fl..(f as usize + 1) * fl].contains(&1))
            .collect();
        let bytes: Vec<u8> = kept
            .iter()
            .flat_map(|&f| dense[f as usize * fl..(f as usize + 1) * fl].to_vec())
            .collect();
        let shape_pixels = (0..o.kind.len())
            .map(|i| {
                let alone = Owned::new();
                let rings: Vec<(Vec<(f64, f64)>, bool)> = (o.sro[i]..o.sro[i + 1])
                    .map(|r| {
                        let (a, b) = (o.rvo[r as usize] as usize, o.rvo[r as usize + 1] as usize);
                        let v = (a..b)
                            .map(|k| (o.verts[2 * k], o.verts[2 * k + 1]))
                            .collect();
                        (v, o.hole[r as usize])
                    })
                    .collect();
                let rings: Vec<(&[(f64, f64)], bool)> =
                    rings.iter().map(|(v, h)| (&v[..], *h)).collect();
                let alone = alone.shape(0, o.kind[i], o.param[i], &rings);
                alone
                    .raster(rows, cols, 1)
                    .unwrap()
                    .iter()
                    .map(|&v| u64::from(v))
                    .sum()
            })
            .collect();
        PackedFrames {
            data: pack_bits(&bytes),
            kept,
            shape_pixels,
        }
    }

    fn packed(o: &Owned, rows: usize, cols: usize, n: usize, omit: bool) -> PackedFrames {
        rasterize_packed(rows, cols, n, &o.shapes(), omit).unwrap()
    }

    fn sample() -> Owned {
        // frames 3 and 1 out of order, an empty frame 0, frame 4 with a shape that fills nothing
        let far: &[(f64, f64)] = &[(50.0, 50.0), (60.0, 50.0), (60.0, 60.0)];
        let tri: &[(f64, f64)] = &[(0.5, 0.0), (3.0, 2.5), (0.0, 3.0)];
        Owned::new()
            .shape(3, KIND_POLYGON, 0.0, &[(SQ, false)])
            .shape(1, KIND_DISC, 1.2, &[(&[(1.5, 1.5)], false)])
            .shape(3, KIND_POLYGON, 0.0, &[(tri, false)])
            .shape(4, KIND_POLYGON, 0.0, &[(far, false)])
            .shape(1, KIND_MASK, 0.0, &[(&[(2.0, 0.0)], false)])
    }

    #[test]
    fn packs_across_unaligned_frame_boundaries() {
        let o = sample();
        for (rows, cols) in [(3, 3), (3, 5), (1, 1), (2, 4), (7, 13), (4, 1)] {
            for omit in [true, false] {
                let got = packed(&o, rows, cols, 6, omit);
                assert_eq!(
                    got,
                    reference(&o, rows, cols, 6, omit),
                    "{rows}x{cols} {omit}"
                );
            }
        }
        // 3x3 frames 1 and 3 kept: frame 3 starts at bit 9, mid-byte
        let got = packed(&o, 3, 3, 6, true);
        assert_eq!(got.kept, vec![1, 3]);
        assert_eq!(got.data.len(), 3);
        assert_eq!(packed(&o, 3, 3, 6, false).kept, vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn shape_pixels_count_each_shape_alone() {
        let o = sample();
        let got = packed(&o, 3, 3, 6, true);
        // square 2x2 = 4; disc radius 1.2 at (1.5, 1.5): 5 centres; the far triangle: 0;
        // the one-pixel mask: 1 (though inside the disc on the same frame)
        assert_eq!(got.shape_pixels[0], 4);
        assert_eq!(got.shape_pixels[1], 5);
        assert_eq!(got.shape_pixels[3], 0);
        assert_eq!(got.shape_pixels[4], 1);
        let dense = o.raster(3, 3, 6).unwrap();
        assert_eq!(
            &dense[9..18],
            &grid(".## ### .#.")[..],
            "disc plus the mask pixel"
        );
        let outside: &[(f64, f64)] = &[(-5.0, -5.0), (-1.0, -5.0), (-1.0, -1.0)];
        let hole_all = Owned::new()
            .shape(0, KIND_POLYGON, 0.0, &[(SQ, false), (SQ, true)])
            .shape(0, KIND_POLYGON, 0.0, &[(outside, false)]);
        let got = packed(&hole_all, 3, 3, 1, true);
        assert_eq!(got.shape_pixels, vec![0, 0]);
        assert!(got.kept.is_empty() && got.data.is_empty());
    }

    #[test]
    fn empty_sizes_and_no_shapes() {
        let o = sample();
        let got = packed(&o, 0, 5, 6, true);
        assert!(got.data.is_empty() && got.kept.is_empty());
        assert_eq!(got.shape_pixels, vec![0; 5]);
        let got = packed(&o, 5, 0, 6, false);
        assert!(got.data.is_empty());
        assert_eq!(got.kept, (0..6).collect::<Vec<_>>());
        let none = Owned::new();
        assert_eq!(packed(&none, 3, 3, 2, false).data, vec![0, 0, 0]);
        assert!(packed(&none, 3, 3, 2, true).kept.is_empty());
    }

    #[test]
    fn into_a_dirty_buffer_and_errors() {
        let o = sample();
        let bound = packed_len_bound(3, 5, 6, &o.shapes(), true).unwrap();
        assert_eq!(bound, 6, "frames 1, 3 and 4 hold shapes: ceil(45 / 8)");
        let mut out = vec![0xFFu8; bound];
        let info = rasterize_packed_into(&mut out, 3, 5, 6, &o.shapes(), true).unwrap();
        assert_eq!(info.n_bytes, 4, "frame 4 fills nothing: ceil(30 / 8)");
        assert_eq!(&out[..4], &packed(&o, 3, 5, 6, true).data[..]);
        let err = rasterize_packed_into(&mut out[..3], 3, 5, 6, &o.shapes(), true).unwrap_err();
        assert!(matches!(err, RasterError::Layout(_)));
        let err = rasterize_packed(3, 5, 4, &o.shapes(), true).unwrap_err();
        assert_eq!(err.to_string(), "shape 3: frame 4 >= n_frames 4");
        assert!(rasterize_packed(usize::MAX, 2, 1, &o.shapes(), true).is_err());
    }
}
