//! Python bindings (PyO3 + numpy): `mdai_fastexport._rust`.

use numpy::ndarray::Array3;
use numpy::{
    IntoPyArray, PyArray1, PyArray3, PyArrayDyn, PyArrayMethods, PyReadonlyArray1,
    PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::frames::{packed_len_bound, rasterize_packed_into};
use crate::pack::{pack_bits as pack, pack_bits_iter};
use crate::raster::{rasterize_into, RasterError, Shapes};

fn to_py(e: RasterError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Borrow the geometry arrays as [`Shapes`] and run `f` on them.
#[allow(clippy::too_many_arguments)]
fn with_shapes<'py, R>(
    shape_frame: &PyReadonlyArray1<'py, u32>,
    shape_kind: &PyReadonlyArray1<'py, u8>,
    shape_param: &PyReadonlyArray1<'py, f64>,
    shape_ring_offsets: &PyReadonlyArray1<'py, u64>,
    ring_vertex_offsets: &PyReadonlyArray1<'py, u64>,
    ring_is_hole: &PyReadonlyArray1<'py, bool>,
    vertices: &PyReadonlyArray2<'py, f64>,
    f: impl FnOnce(&Shapes) -> PyResult<R>,
) -> PyResult<R> {
    if vertices.shape()[1] != 2 {
        return Err(PyValueError::new_err("vertices must have shape (n, 2)"));
    }
    // as_slice() also accepts Fortran order; the (n, 2) layout must be x, y per row
    let owned: Vec<f64>;
    let verts: &[f64] = if vertices.is_c_contiguous() {
        vertices.as_slice()?
    } else {
        owned = vertices.as_array().iter().copied().collect();
        &owned
    };
    let shapes = Shapes {
        shape_frame: shape_frame.as_slice()?,
        shape_kind: shape_kind.as_slice()?,
        shape_param: shape_param.as_slice()?,
        shape_ring_offsets: shape_ring_offsets.as_slice()?,
        ring_vertex_offsets: ring_vertex_offsets.as_slice()?,
        ring_is_hole: ring_is_hole.as_slice()?,
        vertices: verts,
    };
    f(&shapes)
}

/// Fill shapes into `(n_frames, rows, cols)` uint8 masks (see the module docs).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn rasterize<'py>(
    py: Python<'py>,
    rows: usize,
    cols: usize,
    n_frames: usize,
    shape_frame: PyReadonlyArray1<'py, u32>,
    shape_kind: PyReadonlyArray1<'py, u8>,
    shape_param: PyReadonlyArray1<'py, f64>,
    shape_ring_offsets: PyReadonlyArray1<'py, u64>,
    ring_vertex_offsets: PyReadonlyArray1<'py, u64>,
    ring_is_hole: PyReadonlyArray1<'py, bool>,
    vertices: PyReadonlyArray2<'py, f64>,
) -> PyResult<Bound<'py, PyArray3<u8>>> {
    let total = n_frames
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .ok_or_else(|| PyValueError::new_err("n_frames * rows * cols overflows"))?;
    let out = with_shapes(
        &shape_frame,
        &shape_kind,
        &shape_param,
        &shape_ring_offsets,
        &ring_vertex_offsets,
        &ring_is_hole,
        &vertices,
        |shapes| {
            py.detach(|| {
                let mut out = vec![0u8; total];
                rasterize_into(&mut out, rows, cols, n_frames, shapes).map(|()| out)
            })
            .map_err(to_py)
        },
    )?;
    let arr = Array3::from_shape_vec((n_frames, rows, cols), out)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(arr.into_pyarray(py))
}

type Packed<'py> = (
    Bound<'py, PyBytes>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u64>>,
);

/// Fill shapes frame by frame straight into DICOM BINARY pixel data:
/// `(bytes, kept frame ids, pixels per shape)` (see the module docs).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn rasterize_packed<'py>(
    py: Python<'py>,
    rows: usize,
    cols: usize,
    n_frames: usize,
    shape_frame: PyReadonlyArray1<'py, u32>,
    shape_kind: PyReadonlyArray1<'py, u8>,
    shape_param: PyReadonlyArray1<'py, f64>,
    shape_ring_offsets: PyReadonlyArray1<'py, u64>,
    ring_vertex_offsets: PyReadonlyArray1<'py, u64>,
    ring_is_hole: PyReadonlyArray1<'py, bool>,
    vertices: PyReadonlyArray2<'py, f64>,
    omit_empty: bool,
) -> PyResult<Packed<'py>> {
    with_shapes(
        &shape_frame,
        &shape_kind,
        &shape_param,
        &shape_ring_offsets,
        &ring_vertex_offsets,
        &ring_is_hole,
        &vertices,
        |shapes| {
            let bound = py
                .detach(|| packed_len_bound(rows, cols, n_frames, shapes, omit_empty))
                .map_err(to_py)?;
            // write straight into the bytes object (no copy) unless some frame holding a
            // shape turns out empty, in which case the used prefix is copied once
            let mut info = None;
            let mut data = PyBytes::new_with(py, bound, |buf| {
                let r = py
                    .detach(|| rasterize_packed_into(buf, rows, cols, n_frames, shapes, omit_empty))
                    .map_err(to_py)?;
                info = Some(r);
                Ok(())
            })?;
            let info = info.expect("set by new_with's closure");
            if info.n_bytes < bound {
                data = PyBytes::new(py, &data.as_bytes()[..info.n_bytes]);
            }
            Ok((
                data,
                info.kept.into_pyarray(py),
                info.shape_pixels.into_pyarray(py),
            ))
        },
    )
}

/// Pack 0/1 masks (uint8 or bool, any shape, C order) into DICOM BINARY pixel data.
#[pyfunction]
fn pack_bits<'py>(py: Python<'py>, masks: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let packed = if let Ok(a) = masks.cast::<PyArrayDyn<u8>>() {
        let ro = a.readonly();
        // as_slice() also accepts Fortran order; DICOM needs the logical (C) order
        match ro.as_slice() {
            Ok(s) if ro.is_c_contiguous() => py.detach(|| pack(s)),
            _ => pack_bits_iter(ro.as_array().iter().copied(), ro.len()),
        }
    } else if let Ok(a) = masks.cast::<PyArrayDyn<bool>>() {
        let ro = a.readonly();
        pack_bits_iter(ro.as_array().iter().map(|&b| u8::from(b)), ro.len())
    } else {
        return Err(PyValueError::new_err(
            "pack_bits expects a numpy array of dtype uint8 or bool",
        ));
    };
    Ok(PyBytes::new(py, &packed))
}

#[pymodule]
fn _rust(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("KIND_POLYGON", crate::KIND_POLYGON)?;
    m.add("KIND_STROKE", crate::KIND_STROKE)?;
    m.add("KIND_DISC", crate::KIND_DISC)?;
    m.add("KIND_ELLIPSE", crate::KIND_ELLIPSE)?;
    m.add("KIND_MASK", crate::KIND_MASK)?;
    m.add_function(wrap_pyfunction!(rasterize, m)?)?;
    m.add_function(wrap_pyfunction!(rasterize_packed, m)?)?;
    m.add_function(wrap_pyfunction!(pack_bits, m)?)?;
    Ok(())
}
