package seekable

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// benchData returns 32 MiB of random or text-like data.
func benchData(kind string) []byte {
	b := make([]byte, 32<<20)
	rng := rand.New(rand.NewPCG(9, 9))
	if kind == "random" {
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	words := strings.Fields("apiVersion kind metadata name namespace spec containers image " +
		"resources limits cpu memory ports containerPort env value volumeMounts mountPath " +
		"Requires: libc.so.6 glibc >= 2.17 /usr/bin/containerd <package> </package> <version/>")
	var sb strings.Builder
	for sb.Len() < len(b) {
		sb.WriteString(words[rng.IntN(len(words))])
		if rng.IntN(8) == 0 {
			sb.WriteString(fmt.Sprintf(": %d\n", rng.IntN(100000)))
		} else {
			sb.WriteByte(' ')
		}
	}
	return []byte(sb.String()[:len(b)])
}

// BenchmarkLevels compares SpeedFastest and SpeedDefault on incompressible
// and text-like data, 4 MiB frames; it reports throughput and the ratio.
// Run: go test -run=^$ -bench=Levels ./internal/seekable
func BenchmarkLevels(b *testing.B) {
	for _, kind := range []string{"random", "text"} {
		data := benchData(kind)
		for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
			b.Run(kind+"/"+level.String(), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				var out countWriter
				for b.Loop() {
					out = 0
					w, _ := NewWriter(&out, WithLevel(level))
					for off := 0; off < len(data); off += 4 << 20 {
						w.WriteFrame(data[off : off+4<<20])
					}
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(data))/float64(out), "ratio")
			})
		}
	}
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)
