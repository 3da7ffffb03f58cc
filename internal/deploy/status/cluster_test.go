package status

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"strings"
	"testing"
)

// TestDecodeReleaseBound: a release Secret that unpacks to more than
// maxRelease (a gzip bomb from the cluster) is refused, not unpacked whole.
func TestDecodeReleaseBound(t *testing.T) {
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zw.Write([]byte(`{"name":"x","padding":"`))
	zero := make([]byte, 1<<20)
	for range maxRelease>>20 + 1 {
		zw.Write(zero)
	}
	zw.Close()
	_, err := decodeRelease([]byte(base64.StdEncoding.EncodeToString(z.Bytes())))
	if err == nil || !strings.Contains(err.Error(), "larger than 64 MiB") {
		t.Errorf("a release of %d packed bytes unpacking past 64 MiB: %v", z.Len(), err)
	}
}
