//! The read model's hash indexes: insert-only sets of `u32` values (slot numbers, string handles) whose keys are
//! computed from the values themselves, so a bucket is 4 bytes. Open addressing with linear probing in a table
//! of any size (a hash is mapped onto it by multiplication, not masked to a power of two), kept at most 7/8 full
//! and grown by half: 4.6–7 bytes per entry, where a general hash map of the same entries takes 10–20.

/// The empty bucket (never a value: slots and handles stay below it).
const EMPTY: u32 = u32::MAX;

#[derive(Debug, Default, Clone)]
pub struct Index {
    buckets: Vec<u32>,
    len: usize,
}

/// The bucket a hash starts probing at (Lemire's multiply-shift range reduction).
fn start(hash: u64, n: usize) -> usize {
    ((u128::from(hash) * n as u128) >> 64) as usize
}

impl Index {
    /// Room for `n` entries without growing.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buckets: vec![EMPTY; n * 8 / 7 + 8],
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The first value stored under `hash` for which `eq` holds.
    pub fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let n = self.buckets.len();
        if n == 0 {
            return None;
        }
        let mut i = start(hash, n);
        loop {
            let v = self.buckets[i];
            if v == EMPTY {
                return None;
            }
            if eq(v) {
                return Some(v);
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
    }

    /// Adds `value` (not already present) under `hash`; `rehash` gives any stored value's hash when the table
    /// grows.
    pub fn insert(&mut self, hash: u64, value: u32, rehash: impl Fn(u32) -> u64) {
        debug_assert_ne!(value, EMPTY);
        if (self.len + 1) * 8 > self.buckets.len() * 7 {
            let bigger = (self.buckets.len() * 3 / 2).max(self.len * 8 / 7 + 16);
            self.resize(bigger, &rehash);
        }
        self.place(hash, value);
        self.len += 1;
    }

    /// Makes the table just big enough for what it holds (after a large catch-up).
    pub fn shrink(&mut self, rehash: impl Fn(u32) -> u64) {
        let fit = self.len * 8 / 7 + 8;
        if fit < self.buckets.len() {
            self.resize(fit, &rehash);
        }
    }

    fn resize(&mut self, n: usize, rehash: &impl Fn(u32) -> u64) {
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; n]);
        for v in old.into_iter().filter(|&v| v != EMPTY) {
            self.place(rehash(v), v);
        }
    }

    fn place(&mut self, hash: u64, value: u32) {
        let n = self.buckets.len();
        let mut i = start(hash, n);
        while self.buckets[i] != EMPTY {
            i = if i + 1 == n { 0 } else { i + 1 };
        }
        self.buckets[i] = value;
    }

    /// Bytes held.
    pub fn allocation_size(&self) -> usize {
        self.buckets.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_inserted_value_is_found_again(values in proptest::collection::hash_set(0u32..1_000_000, 0..2_000)) {
            let hash = |v: u32| u64::from(v).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(v % 7);
            let mut ix = Index::default();
            for &v in &values {
                prop_assert_eq!(ix.find(hash(v), |x| x == v), None);
                ix.insert(hash(v), v, hash);
            }
            prop_assert_eq!(ix.len(), values.len());
            ix.shrink(hash);
            for &v in &values {
                prop_assert_eq!(ix.find(hash(v), |x| x == v), Some(v));
            }
            prop_assert_eq!(ix.find(hash(1_000_001), |x| x == 1_000_001), None);
            prop_assert!(ix.allocation_size() <= (values.len() * 8 / 7 + 16) * 4);
        }
    }
}
