// Package faults is the queue of injected failures that keyport's protocol test
// servers (internal/gcpkmstest, internal/azurekvtest) share: a test queues a
// fault for an operation, and the server answers the next calls of that
// operation with it instead of doing the work.
package faults

import "strings"

// Queue holds the faults of type F a test has queued, in order, and counts the
// calls of each operation. The zero Queue is empty and ready to use. A Queue is
// not safe for concurrent use: its server calls it under its own lock.
type Queue[F any] struct {
	queued []*queued[F]
	calls  map[string]int
}

type queued[F any] struct {
	op    string
	times int
	f     F
}

// Add queues f for the next times calls of op, or of every operation when op is
// ""; times 0 means 1.
func (q *Queue[F]) Add(op string, times int, f F) {
	q.queued = append(q.queued, &queued[F]{op: op, times: max(times, 1), f: f})
}

// Next counts a call of op and returns the first queued fault for it, if any.
// Operations match case-insensitively. A fault is dropped once it has hit as
// many calls as it was queued for.
func (q *Queue[F]) Next(op string) (F, bool) {
	if q.calls == nil {
		q.calls = map[string]int{}
	}
	q.calls[op]++
	for i, e := range q.queued {
		if e.op == "" || strings.EqualFold(e.op, op) {
			if e.times--; e.times == 0 {
				q.queued = append(q.queued[:i:i], q.queued[i+1:]...)
			}
			return e.f, true
		}
	}
	var none F
	return none, false
}

// Calls returns how many calls of op Next has counted.
func (q *Queue[F]) Calls(op string) int { return q.calls[op] }
