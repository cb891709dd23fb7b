package flaggerreceiver // import "github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver"

import (
	"context"
	"strings"
	"sync"
	"time"
)

// aggregatedPrefix is what the Kubernetes event correlator puts before the message of an
// Event that stands for several similar ones.
const aggregatedPrefix = "(combined from similar events): "

const (
	// matchTolerance is how far apart the two sources' timestamps of one event may be.
	// Kubernetes keeps whole seconds, the webhook milliseconds; both come from Flagger's clock.
	matchTolerance = 2 * time.Second
	// dedupRetention is how long an emitted event is remembered, so that a late copy from
	// the other source (after a watch is re-established, say) is still recognised.
	dedupRetention = 10 * time.Minute
	// maxPerKey bounds the memory kept for one repeated message.
	maxPerKey = 64
)

// occurrence is one arrival of an event from one source.
type occurrence struct {
	ev      *flaggerEvent
	arrived time.Time
	// matched is set once the other source delivered the same event.
	matched bool
	// emitted is set once the occurrence was handed to the pipeline (or given up).
	emitted bool
	// partner is the other source's copy, set when matched while still held.
	partner *flaggerEvent
	// timer holds a Kubernetes occurrence; woken signals a held webhook occurrence.
	timer *time.Timer
	woken chan struct{}
}

// deduplicator makes one record of an event that both sources deliver. An arrival is held up
// to window for its copy from the other source; the copy then only marks it as seen by both.
//
// Note: copies are matched by canary, message and timestamp; two identical messages for one
// Canary within matchTolerance are taken as one event.
type deduplicator struct {
	window time.Duration
	emit   func(ev *flaggerEvent) error
	// onDuplicate counts a copy that arrived after its event was emitted.
	onDuplicate func()
	now         func() time.Time

	mu      sync.Mutex
	byKey   map[string][]*occurrence
	stopped bool
}

func newDeduplicator(window time.Duration, emit func(*flaggerEvent) error, onDuplicate func()) *deduplicator {
	return &deduplicator{
		window:      window,
		emit:        emit,
		onDuplicate: onDuplicate,
		now:         time.Now,
		byKey:       map[string][]*occurrence{},
	}
}

func matchKey(ev *flaggerEvent) string {
	return ev.Namespace + "/" + ev.Name + "\x00" + ev.Message
}

// normaliseMessage strips the event correlator's prefix.
func normaliseMessage(msg string) string {
	return strings.TrimPrefix(msg, aggregatedPrefix)
}

// findPartner returns the unmatched occurrence of the other source that ev copies. The
// caller holds d.mu.
func (d *deduplicator) findPartner(key string, ev *flaggerEvent) *occurrence {
	for _, o := range d.byKey[key] {
		if o.matched || o.ev.Source == ev.Source {
			continue
		}
		diff := o.ev.Time.Sub(ev.Time)
		if diff < 0 {
			diff = -diff
		}
		if diff <= matchTolerance {
			return o
		}
	}
	return nil
}

// add remembers an occurrence and forgets the old ones. The caller holds d.mu.
func (d *deduplicator) add(key string, o *occurrence) {
	cutoff := o.arrived.Add(-dedupRetention)
	for k, list := range d.byKey {
		kept := list[:0]
		for _, old := range list {
			if old.arrived.After(cutoff) || !old.emitted {
				kept = append(kept, old)
			}
		}
		if len(kept) == 0 {
			delete(d.byKey, k)
			continue
		}
		d.byKey[k] = kept
	}
	list := append(d.byKey[key], o)
	if len(list) > maxPerKey {
		list = list[len(list)-maxPerKey:]
	}
	d.byKey[key] = list
}

// both merges two copies of one event: the Kubernetes side keeps its count, the webhook side
// its metadata and, when it has them, its phase and revision.
func both(k8s, hook *flaggerEvent) *flaggerEvent {
	merged := *hook
	merged.Source = sourceBoth
	merged.Count = k8s.Count
	merged.Type = k8s.Type
	if merged.Phase == "" {
		merged.Phase = k8s.Phase
	}
	if k8s.Revision != "" {
		merged.Revision = k8s.Revision
	}
	return &merged
}

// fromKubernetes takes an event read from the API. It never blocks.
func (d *deduplicator) fromKubernetes(ev *flaggerEvent) {
	key := matchKey(ev)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	if o := d.findPartner(key, ev); o != nil {
		o.matched = true
		if o.emitted {
			d.onDuplicate()
			return
		}
		// A webhook request is waiting for this copy: it emits both.
		o.partner = ev
		close(o.woken)
		return
	}
	o := &occurrence{ev: ev, arrived: d.now()}
	d.add(key, o)
	d.hold(o)
}

// hold starts the wait of a Kubernetes occurrence. The caller holds d.mu.
func (d *deduplicator) hold(o *occurrence) {
	o.timer = time.AfterFunc(d.window, func() {
		d.mu.Lock()
		if o.matched || o.emitted || d.stopped {
			d.mu.Unlock()
			return
		}
		o.emitted = true
		d.mu.Unlock()
		_ = d.emit(o.ev)
	})
}

// fromWebhook takes an event posted to the webhook and returns once it is emitted, so the
// caller can tell Flagger whether the pipeline took it.
func (d *deduplicator) fromWebhook(ctx context.Context, ev *flaggerEvent) error {
	key := matchKey(ev)
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return errStopped
	}
	if o := d.findPartner(key, ev); o != nil {
		o.matched = true
		if o.emitted {
			d.mu.Unlock()
			d.onDuplicate()
			return nil
		}
		o.timer.Stop()
		o.emitted = true
		d.mu.Unlock()
		return d.emitBoth(o, o.ev, ev)
	}
	o := &occurrence{ev: ev, arrived: d.now(), woken: make(chan struct{})}
	d.add(key, o)
	d.mu.Unlock()

	timer := time.NewTimer(d.window)
	defer timer.Stop()
	select {
	case <-o.woken:
	case <-timer.C:
	case <-ctx.Done():
	}
	d.mu.Lock()
	o.emitted = true
	partner := o.partner
	d.mu.Unlock()
	if partner == nil {
		return d.emit(ev)
	}
	err := d.emit(both(partner, ev))
	if err != nil {
		// Put the Kubernetes copy back on hold, for a retried request to match.
		d.fromKubernetes(partner)
	}
	return err
}

// emitBoth emits a held Kubernetes occurrence together with its webhook copy. When the
// pipeline refuses, the Kubernetes copy goes back on hold so a retried request can match it.
func (d *deduplicator) emitBoth(o *occurrence, k8s, hook *flaggerEvent) error {
	err := d.emit(both(k8s, hook))
	if err != nil {
		d.mu.Lock()
		o.matched, o.emitted = false, false
		if !d.stopped {
			d.hold(o)
		}
		d.mu.Unlock()
	}
	return err
}

// stop emits the Kubernetes occurrences still on hold and then nothing more.
func (d *deduplicator) stop() {
	d.mu.Lock()
	d.stopped = true
	var held []*flaggerEvent
	for _, list := range d.byKey {
		for _, o := range list {
			if o.timer != nil && o.timer.Stop() && !o.matched && !o.emitted {
				o.emitted = true
				held = append(held, o.ev)
			}
		}
	}
	d.mu.Unlock()
	for _, ev := range held {
		_ = d.emit(ev)
	}
}
