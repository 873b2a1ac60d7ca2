package verifier

import "sync"

// memo is a bounded map safe for concurrent use, for answers that do not change once known
// (an anchor receipt by digest) or that the service itself invalidates (counters, when it saves
// one). A full memo (memoMax entries) starts over.
type memo[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

// memoMax bounds a memo: 4,096 anchor receipts are a few MiB.
const memoMax = 4096

func (c *memo[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *memo[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= memoMax {
		c.m = map[K]V{}
	}
	c.m[k] = v
}

func (c *memo[K, V]) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}
