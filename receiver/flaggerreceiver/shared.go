package flaggerreceiver // import "github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver"

import (
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/receiver"
)

// receivers keeps one receiver per component ID, so that a logs and a metrics pipeline
// naming the same receiver share its watches and its webhook listener.
type receivers struct {
	mu   sync.Mutex
	byID map[component.ID]*flaggerReceiver
}

var shared = &receivers{byID: map[component.ID]*flaggerReceiver{}}

func (rs *receivers) getOrCreate(set receiver.Settings, cfg *Config) (*flaggerReceiver, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if r, ok := rs.byID[set.ID]; ok {
		return r, nil
	}
	r, err := newReceiver(set, cfg)
	if err != nil {
		return nil, err
	}
	rs.byID[set.ID] = r
	return r, nil
}

func (rs *receivers) remove(id component.ID) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	delete(rs.byID, id)
}
