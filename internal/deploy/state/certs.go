package state

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/factory-appliance/appliance/internal/kubeadm/certs"
)

// CertsFile is where deploy certs records what it found (CertsRecord), for
// deploy status to warn from.
const CertsFile = "certs.json"

// maxCertsFile bounds what is read of CertsFile.
const maxCertsFile = 4 << 20

// CertsRecord is CertsFile: the certificates of the site and when they
// were read.
type CertsRecord struct {
	Checked time.Time    `json:"checked"`
	Certs   []certs.Cert `json:"certs"`
	// Errors are the hosts that could not be read, and why.
	Errors []string `json:"errors,omitempty"`
}

// WriteCertsRecord replaces CertsFile with rec.
func (d Dir) WriteCertsRecord(rec CertsRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(d.Path(CertsFile), append(b, '\n'), 0o644)
}

// ReadCertsRecord reads CertsFile (nil, nil when there is none).
func (d Dir) ReadCertsRecord() (*CertsRecord, error) {
	p := d.Path(CertsFile)
	b, err := ReadBounded(p, maxCertsFile)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec CertsRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w; run deploy certs again to rewrite it", p, err)
	}
	return &rec, nil
}
