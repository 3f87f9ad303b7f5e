//! Rows of an `[N × V]` tensor split into chunks that each fit one buffer: a binding holds at most
//! the device's `max_storage_buffer_binding_size` (128 MiB on lavapipe, 2–4 GiB on large GPUs),
//! far less than a real model's logits (4,096 × 131,072 f32 is 2 GiB). Each chunk has buffers of
//! its own, so no offset alignment applies, and kernels run per chunk on whole rows.

/// Rows `row0 .. row0 + rows` of every `[N × V]` tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowChunk {
    pub row0: usize,
    pub rows: usize,
}

/// Chunks of whole rows of `v` elements of `elem_bytes` each: at most `max_bytes` and `max_rows`
/// per chunk, and fewer than 2³² elements (the shaders index in u32); all chunks but the last are
/// full. Errors (the reason) when one row is over `max_bytes`.
pub(crate) fn row_chunks(
    n: usize,
    v: usize,
    elem_bytes: usize,
    max_bytes: u64,
    max_rows: usize,
) -> Result<Vec<RowChunk>, String> {
    if n == 0 || v == 0 {
        return Ok(Vec::new());
    }
    let row_bytes = v.saturating_mul(elem_bytes) as u64;
    if row_bytes > max_bytes {
        return Err(format!(
            "a row of {v} classes takes {row_bytes} bytes; this device binds at most {max_bytes} \
             bytes per buffer"
        ));
    }
    let by_bytes = usize::try_from(max_bytes / row_bytes).unwrap_or(usize::MAX);
    let by_index = (u32::MAX as usize) / v;
    let per = n.min(by_bytes).min(by_index).min(max_rows).max(1);
    Ok((0..n.div_ceil(per))
        .map(|c| RowChunk {
            row0: c * per,
            rows: per.min(n - c * per),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_rows_in_whole_rows_within_the_limit() {
        // 13 rows of 300 f32 (1,200 bytes): 5 rows fit 6,000 bytes, so 5 + 5 + 3.
        let c = row_chunks(13, 300, 4, 6_000, usize::MAX).unwrap();
        let rows: Vec<usize> = c.iter().map(|c| c.rows).collect();
        assert_eq!(rows, [5, 5, 3]);
        assert_eq!(c[2].row0, 10);
        // One byte short of 5 rows: 4 + 4 + 4 + 1 (a last chunk of one row).
        let c = row_chunks(13, 300, 4, 5_999, usize::MAX).unwrap();
        let rows: Vec<usize> = c.iter().map(|c| c.rows).collect();
        assert_eq!(rows, [4, 4, 4, 1]);
        // Exactly one row per binding.
        assert_eq!(row_chunks(3, 300, 4, 1_200, usize::MAX).unwrap().len(), 3);
        // The row cap and f16's 2 bytes.
        let c = row_chunks(13, 300, 2, 6_000, 2).unwrap();
        assert_eq!(c.len(), 7);
        assert_eq!(c[6], RowChunk { row0: 12, rows: 1 });
        // Everything in one chunk when it fits.
        let c = row_chunks(13, 300, 4, 1 << 30, usize::MAX).unwrap();
        assert_eq!(c, [RowChunk { row0: 0, rows: 13 }]);
        // 4,096 × 131,072 f32 under lavapipe's 128 MiB: 16 chunks of 256 rows.
        let c = row_chunks(4096, 131_072, 4, 128 << 20, usize::MAX).unwrap();
        assert_eq!(c.len(), 16);
        assert!(c.iter().all(|c| c.rows == 256));
        // u32 indices: never 2³² elements in a chunk, whatever the byte limit.
        let c = row_chunks(70_000, 131_072, 4, u64::MAX, usize::MAX).unwrap();
        assert!(c.iter().all(|c| c.rows * 131_072 <= u32::MAX as usize));
        assert_eq!(c.iter().map(|c| c.rows).sum::<usize>(), 70_000);
    }

    #[test]
    fn a_row_over_the_limit_is_refused_with_both_sizes() {
        let e = row_chunks(2, 1_000, 4, 3_999, usize::MAX).unwrap_err();
        assert!(e.contains("4000 bytes") && e.contains("3999 bytes"), "{e}");
    }
}
