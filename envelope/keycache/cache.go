package keycache

import (
	"container/list"
	"sync"
	"time"

	"github.com/keyport/keyport/envelope"
)

// DefaultCapacity is the number of entries of a Cache made with capacity 0.
const DefaultCapacity = 1000

// pruneTail is how many of the least recently used entries every operation of
// a Cache checks for expiry (the ESDK's "entry pruning tail size").
const pruneTail = 2

// Cache holds data keys for caching keyrings (NewKeyring): an in-memory cache
// of bounded size that evicts the least recently used entry first and never
// returns an entry past its age. It is safe for concurrent use, and several
// keyrings may share one (each in its own partition). Every data key it holds
// is wiped (zeroed) when its entry leaves the cache: evicted, expired, used up
// or purged.
type Cache struct {
	mu       sync.Mutex
	capacity int
	entries  map[[entryIDLen]byte]*list.Element
	lru      list.List // of *entry, most recently used first
	now      func() time.Time
}

// entry is one cached data key: for encryption, with the encrypted data keys
// that wrap it and how much it has encrypted.
type entry struct {
	id       [entryIDLen]byte
	dataKey  []byte
	edks     []envelope.EncryptedDataKey // encryption entries
	expires  time.Time
	messages uint64
	bytes    uint64
}

// New returns a Cache of at most capacity entries (DefaultCapacity if 0).
func New(capacity int) *Cache {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Cache{capacity: capacity, entries: make(map[[entryIDLen]byte]*list.Element), now: time.Now}
}

// Len returns the number of entries in the cache, expired ones included until
// they are pruned.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Purge removes every entry, wiping its data key.
func (c *Cache) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.lru.Front(); el != nil; el = c.lru.Front() {
		c.remove(el)
	}
}

// remove takes an entry out and wipes its data key. c.mu is held.
func (c *Cache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*entry)
	delete(c.entries, e.id)
	clear(e.dataKey)
}

// prune removes the expired entries among the least recently used. c.mu is held.
func (c *Cache) prune(now time.Time) {
	el := c.lru.Back()
	for i := 0; i < pruneTail && el != nil; i++ {
		prev := el.Prev()
		if !now.Before(el.Value.(*entry).expires) {
			c.remove(el)
		}
		el = prev
	}
}

// use finds the live entry id and, under the cache's lock, calls f with it: f
// copies what it needs and says whether the entry stays (false removes it,
// wiping its key). It reports whether an entry was found and kept.
func (c *Cache) use(id *[entryIDLen]byte, f func(*entry) (keep bool)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.prune(now)
	el, ok := c.entries[*id]
	if !ok {
		return false
	}
	e := el.Value.(*entry)
	if !now.Before(e.expires) || !f(e) {
		c.remove(el)
		return false
	}
	c.lru.MoveToFront(el)
	return true
}

// put adds e (which the cache now owns), replacing an entry of the same id and
// evicting the least recently used entries beyond the capacity.
func (c *Cache) put(e *entry, maxAge time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.prune(now)
	e.expires = now.Add(maxAge)
	if el, ok := c.entries[e.id]; ok {
		c.remove(el)
	}
	c.entries[e.id] = c.lru.PushFront(e)
	for c.lru.Len() > c.capacity {
		c.remove(c.lru.Back())
	}
}
