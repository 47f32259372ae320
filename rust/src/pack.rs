//! DICOM BINARY Segmentation pixel packing.

/// Pack 0/1 values into DICOM BINARY pixel data.
///
/// Value `k` goes to bit `k % 8` (least significant first) of byte `k / 8`;
/// frames follow each other with no padding between them, so `rows * cols`
/// need not be a multiple of 8. Only the very end is padded with zero bits to
/// a whole byte. Any non-zero value counts as 1.
pub fn pack_bits(values: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; values.len().div_ceil(8)];
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    for (byte, chunk) in out.iter_mut().zip(chunks) {
        let mut b = 0u8;
        for (bit, &v) in chunk.iter().enumerate() {
            b |= u8::from(v != 0) << bit;
        }
        *byte = b;
    }
    if !tail.is_empty() {
        let last = out.len() - 1;
        for (bit, &v) in tail.iter().enumerate() {
            out[last] |= u8::from(v != 0) << bit;
        }
    }
    out
}

/// Pack values yielded by an iterator (for non-contiguous arrays).
pub fn pack_bits_iter<I: IntoIterator<Item = u8>>(values: I, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len.div_ceil(8)];
    for (k, v) in values.into_iter().enumerate().take(len) {
        if v != 0 {
            out[k >> 3] |= 1 << (k & 7);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsb_first() {
        assert_eq!(pack_bits(&[1, 0, 0, 0, 0, 0, 0, 0]), vec![0b0000_0001]);
        assert_eq!(pack_bits(&[0, 0, 0, 0, 0, 0, 0, 1]), vec![0b1000_0000]);
        assert_eq!(pack_bits(&[0, 1, 0, 0, 0, 0, 0, 0, 1]), vec![0b10, 0b1]);
    }

    #[test]
    fn frames_are_not_padded_individually() {
        // two 3x3 frames = 18 bits -> 3 bytes, the second frame starts at bit 9
        let mut v = vec![0u8; 18];
        v[9] = 1;
        v[17] = 255;
        assert_eq!(pack_bits(&v), vec![0, 0b10, 0b10]);
    }

    #[test]
    fn iterator_version_agrees() {
        let v: Vec<u8> = (0..37).map(|i| u8::from(i % 3 == 0)).collect();
        assert_eq!(pack_bits(&v), pack_bits_iter(v.iter().copied(), v.len()));
        assert!(pack_bits(&[]).is_empty());
    }
}
