package state

import (
	"encoding/json"
	"os"
	"time"
)

// HarborRecord is what /harbor/load leaves in the state directory
// (HarborRecordFile).
type HarborRecord struct {
	URL      string    `json:"url"`     // as nodes reach it
	Address  string    `json:"address"` // as the deploy node reaches it
	Images   int       `json:"images"`
	Projects []string  `json:"projects"`
	Time     time.Time `json:"time"`
}

// WriteHarborRecord writes HarborRecordFile (mode 0600), atomically.
func (d Dir) WriteHarborRecord(rec HarborRecord) error {
	b, _ := json.MarshalIndent(rec, "", "  ")
	return WriteFile(d.Path(HarborRecordFile), append(b, '\n'), 0o600)
}

// ReadHarborRecord reads HarborRecordFile; nil when there is none or it
// does not parse (Harbor was not loaded).
func (d Dir) ReadHarborRecord() *HarborRecord {
	b, err := os.ReadFile(d.Path(HarborRecordFile))
	if err != nil {
		return nil
	}
	var rec HarborRecord
	if json.Unmarshal(b, &rec) != nil {
		return nil
	}
	return &rec
}
