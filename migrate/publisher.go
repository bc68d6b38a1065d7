package migrate

import (
	"context"
	"fmt"

	"github.com/keyport/keyport/migrate/internal/journal"
	"github.com/keyport/keyport/migrate/internal/store"
)

// staged is a written, verified object waiting to be published.
type staged struct {
	e journal.Entry
	w store.Writer
}

// publisher publishes the objects of a local directory in batches (durability
// paid per batch: the store syncs every file of the batch, renames each, and
// syncs each directory once). A batch is whatever the workers staged while the
// previous one was being published, up to maxBatch.
type publisher struct {
	r    *runner
	ctx  context.Context
	in   chan staged
	done chan struct{}
}

const maxBatch = 256

func (r *runner) startPublisher(ctx context.Context) *publisher {
	p := &publisher{r: r, ctx: ctx, in: make(chan staged, maxBatch), done: make(chan struct{})}
	go p.loop()
	return p
}

func (p *publisher) submit(s staged) { p.in <- s }

// close publishes what is staged and stops.
func (p *publisher) close() {
	close(p.in)
	<-p.done
}

func (p *publisher) loop() {
	defer close(p.done)
	batch := make([]staged, 0, maxBatch)
	for s := range p.in {
		batch = append(batch[:0], s)
	more:
		for len(batch) < maxBatch {
			select {
			case s, ok := <-p.in:
				if !ok {
					break more
				}
				batch = append(batch, s)
			default:
				break more
			}
		}
		p.flush(batch)
	}
}

// flush publishes one batch: in place, the journal first records each new
// object's digest (Replacing), in one transaction.
func (p *publisher) flush(batch []staged) {
	r := p.r
	ws := make([]store.Writer, len(batch))
	for i, s := range batch {
		ws[i] = s.w
	}
	if r.inPlace {
		intents := make([]journal.Entry, len(batch))
		for i, s := range batch {
			intents[i] = s.e
			intents[i].State = journal.Replacing
		}
		if err := r.j.Apply(p.ctx, intents); err != nil {
			for i, s := range batch {
				ws[i].Abort()
				r.record(failed(s.e, ReasonError, fmt.Errorf("journal: %w", err)))
			}
			return
		}
	}
	for _, s := range batch {
		beforePublish(s.e.Key)
	}
	errs := r.dst.Publish(p.ctx, ws)
	for i, s := range batch {
		r.record(r.published(p.ctx, s.e, errs[i]))
	}
}
