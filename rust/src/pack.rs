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

/// Gather eight 0/1 bytes into one LSB-first byte.
///
/// Byte `k` of `x` (little-endian) is bit `8k`; multiplying by
/// `sum(2^(7j), j = 1..=8)` moves it to bit `56 + k` with no carries (every
/// product term lands on its own bit), so the top byte is the packed value.
#[inline]
fn gather8(chunk: &[u8]) -> u8 {
    let mut b = [0u8; 8];
    b.copy_from_slice(chunk);
    (u64::from_le_bytes(b).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

/// Writes 0/1 values as consecutive bits (LSB first) into a caller's buffer,
/// the DICOM BINARY layout of [`pack_bits`], with no padding between pushes.
///
/// Every byte it reaches is assigned (the buffer need not be zeroed); the
/// bits of the last, partial byte above [`BitSink::bits`] are zero.
pub struct BitSink<'o> {
    out: &'o mut [u8],
    bits: usize,
}

impl<'o> BitSink<'o> {
    /// A sink writing from the first bit of `out`.
    pub fn new(out: &'o mut [u8]) -> Self {
        BitSink { out, bits: 0 }
    }

    /// Bits written so far.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Bytes touched so far (`ceil(bits / 8)`).
    pub fn bytes(&self) -> usize {
        self.bits.div_ceil(8)
    }

    /// Append `values`, each **0 or 1** (other values corrupt neighbouring bits).
    ///
    /// Panics when `out` is too short.
    pub fn push(&mut self, mut values: &[u8]) {
        let s = self.bits % 8;
        if s != 0 {
            // complete the partial byte left by the previous push
            let take = (8 - s).min(values.len());
            let byte = &mut self.out[self.bits / 8];
            for (k, &v) in values[..take].iter().enumerate() {
                *byte |= v << (s + k);
            }
            self.bits += take;
            values = &values[take..];
        }
        if values.is_empty() {
            return;
        }
        // byte-aligned from here
        let start = self.bits / 8;
        let dst = &mut self.out[start..start + values.len().div_ceil(8)];
        let chunks = values.chunks_exact(8);
        let tail = chunks.remainder();
        for (d, chunk) in dst.iter_mut().zip(chunks) {
            *d = gather8(chunk);
        }
        if !tail.is_empty() {
            let mut b = 0u8;
            for (k, &v) in tail.iter().enumerate() {
                b |= v << k;
            }
            dst[dst.len() - 1] = b;
        }
        self.bits += values.len();
    }

    /// Append `n` zero bits.
    ///
    /// Panics when `out` is too short.
    pub fn push_zeros(&mut self, n: usize) {
        let s = self.bits % 8;
        let mut n = n;
        if s != 0 {
            // the partial byte's high bits are already zero
            let take = (8 - s).min(n);
            self.bits += take;
            n -= take;
        }
        if n == 0 {
            return;
        }
        let start = self.bits / 8;
        self.out[start..start + n.div_ceil(8)].fill(0);
        self.bits += n;
    }
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
    fn gather8_matches_the_loop() {
        for x in 0..=255u8 {
            let chunk: Vec<u8> = (0..8).map(|k| (x >> k) & 1).collect();
            assert_eq!(gather8(&chunk), x);
        }
    }

    #[test]
    fn sink_matches_pack_bits_across_unaligned_pushes() {
        // pushes of every length 0..=19 in a row, mixing values and zeros, on a dirty buffer
        let mut all = Vec::new();
        let mut out = vec![0xAAu8; 64];
        let mut sink = BitSink::new(&mut out);
        for (len, seed) in (0..20usize).zip(1u32..) {
            if seed % 3 == 0 {
                sink.push_zeros(len);
                all.extend(std::iter::repeat_n(0u8, len));
            } else {
                let v: Vec<u8> = (0..len)
                    .map(|k| u8::from((k as u32 * 7 + seed) % 3 == 0))
                    .collect();
                sink.push(&v);
                all.extend(v);
            }
            assert_eq!(sink.bits(), all.len());
        }
        let n = sink.bytes();
        assert_eq!(&out[..n], &pack_bits(&all)[..]);
        assert_eq!(out[n], 0xAA, "nothing written past the last byte");
    }

    #[test]
    fn iterator_version_agrees() {
        let v: Vec<u8> = (0..37).map(|i| u8::from(i % 3 == 0)).collect();
        assert_eq!(pack_bits(&v), pack_bits_iter(v.iter().copied(), v.len()));
        assert!(pack_bits(&[]).is_empty());
    }
}
