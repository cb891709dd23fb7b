package flaggerreceiver // import "github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver"

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// checkpointKey is the storage key of the receiver's checkpoint.
const checkpointKey = "flagger.checkpoint.v1"

// checkpoint is what a restarted receiver needs to neither repeat nor skip a change.
type checkpoint struct {
	// Written is when the checkpoint was taken: changes older than it were reported.
	Written time.Time `json:"written"`
	// Canaries are the last reported states, by namespace/name.
	Canaries map[string]*canaryState `json:"canaries"`
	// Events are the occurrence counts reported, by Event UID.
	Events map[string]int64 `json:"events"`
}

// openStorage returns the storage client for the receiver's checkpoints.
func openStorage(ctx context.Context, host component.Host, id, storageID component.ID) (storage.Client, error) {
	ext, found := host.GetExtensions()[storageID]
	if !found {
		return nil, fmt.Errorf("storage: extension %q not found", storageID)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("storage: extension %q is not a storage extension", storageID)
	}
	client, err := se.GetClient(ctx, component.KindReceiver, id, "")
	if err != nil {
		return nil, fmt.Errorf("storage: failed to get a client from %q: %w", storageID, err)
	}
	return client, nil
}

func loadCheckpoint(ctx context.Context, client storage.Client) (*checkpoint, error) {
	raw, err := client.Get(ctx, checkpointKey)
	if err != nil {
		return nil, fmt.Errorf("failed to read checkpoint: %w", err)
	}
	if raw == nil {
		return nil, nil
	}
	var cp checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil {
		return nil, fmt.Errorf("failed to decode checkpoint: %w", err)
	}
	return &cp, nil
}

func saveCheckpoint(ctx context.Context, client storage.Client, cp *checkpoint) error {
	raw, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("failed to encode checkpoint: %w", err)
	}
	if err := client.Set(ctx, checkpointKey, raw); err != nil {
		return fmt.Errorf("failed to write checkpoint: %w", err)
	}
	return nil
}
