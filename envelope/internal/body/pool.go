package body

import "sync"

// PoolCap is the capacity of the buffers streams with workers share: a batch of
// 1 MiB of plaintext, its frames' overhead and a footer fit.
const PoolCap = 1<<20 + 128<<10

// bufs keeps the batch buffers of finished streams for the next ones. Without
// it every stream with workers takes its batches (a few MiB) from fresh memory,
// and the page faults of two cores touching fresh memory at once serialize them:
// measured on two cores, encrypt streams on all cores ran at 1.1x one core with
// fresh buffers and at 1.7x with GOGC=25 (which recycles them sooner).
var bufs sync.Pool

// GetBuf returns an empty buffer of capacity at least n: one of the pool's when n
// is in its size class (more than half PoolCap, at most PoolCap: the batches of
// streams with workers), else one of its own, so that a sequential stream's
// 256 KiB batches or a short last batch never hold a pool buffer.
func GetBuf(n int) []byte {
	if n <= PoolCap/2 || n > PoolCap {
		return make([]byte, 0, n)
	}
	if v, ok := bufs.Get().(*[]byte); ok {
		return (*v)[:0]
	}
	return make([]byte, 0, PoolCap)
}

// PutBuf gives b to the pool when it came from GetBuf's pool (its capacity is
// PoolCap). The caller has wiped any plaintext in it and no longer uses it.
func PutBuf(b []byte) {
	if cap(b) == PoolCap {
		b = b[:0]
		bufs.Put(&b)
	}
}
