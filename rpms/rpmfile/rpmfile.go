package rpmfile

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/factory-appliance/appliance/internal/countio"
	"github.com/factory-appliance/appliance/rpms/rpm"
)

// rpmFile is an RPM whose lead and headers have been read; the payload has
// not.
type rpmFile struct {
	what string
	sig  *header
	main *header
	pkg  *rpm.Package
	// n is how many bytes of the file were read so far.
	n int64
}

// openRPM reads the lead, the signature header, its padding and the main
// header from r, and decodes the main header into a Package. what names the
// package in errors.
func openRPM(r io.Reader, what string) (*rpmFile, error) {
	cr := &countio.Reader{R: r}
	lead := make([]byte, leadSize)
	if _, err := io.ReadFull(cr, lead); err != nil {
		return nil, &FormatError{What: what, Reason: "reading lead: " + noEOF(err).Error()}
	}
	if !bytes.Equal(lead[:4], leadMagic) {
		return nil, fmt.Errorf("%s: %w", what, ErrNotRPM)
	}
	sig, err := readHeader(cr)
	if err != nil {
		return nil, &FormatError{What: what, Reason: "signature header: " + err.Error()}
	}
	if pad := (8 - len(sig.Raw)%8) % 8; pad > 0 {
		if _, err := io.CopyN(io.Discard, cr, int64(pad)); err != nil {
			return nil, &FormatError{What: what, Reason: "signature padding: " + noEOF(err).Error()}
		}
	}
	start := cr.N
	main, err := readHeader(cr)
	if err != nil {
		return nil, &FormatError{What: what, Reason: "main header: " + err.Error()}
	}
	pkg, err := packageFromHeader(main, sig)
	if err != nil {
		return nil, &FormatError{What: what, Reason: err.Error()}
	}
	pkg.HeaderStart, pkg.HeaderEnd = start, cr.N
	return &rpmFile{what: what, sig: sig, main: main, pkg: pkg, n: cr.N}, nil
}

// ReadPackage reads a whole RPM stream and returns its package description,
// with Checksum (sha256 of the whole stream) and PackageSize set. It checks
// the structure of the headers and, when the header records one, the payload
// digest; it does not check signatures (see VerifyPackage). Memory use is
// bounded by the size of the headers.
func ReadPackage(r io.Reader, what string) (*rpm.Package, error) {
	return readPackage(r, what, nil)
}

// ReadPackageFile is ReadPackage on a file; the package is named by its path.
func ReadPackageFile(path string) (*rpm.Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := readerPool.Get().(*bufio.Reader)
	defer readerPool.Put(br)
	br.Reset(f)
	defer br.Reset(nil)
	return ReadPackage(br, filepath.Base(path))
}

// Pools that keep reading many small packages (repodata for a directory)
// from allocating a buffer per package.
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}
	copyPool   = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
)

// onlyReader hides WriterTo/ReaderFrom so io.CopyBuffer uses its buffer.
type onlyReader struct{ io.Reader }

func readPackage(r io.Reader, what string, v *sigVerifier) (*rpm.Package, error) {
	whole := sha256.New()
	rf, err := openRPM(io.TeeReader(r, whole), what)
	if err != nil {
		return nil, err
	}
	payload, err := rf.payloadHash()
	if err != nil {
		return nil, err
	}
	sinks := []io.Writer{whole}
	if payload != nil {
		sinks = append(sinks, payload)
	}
	if v != nil {
		if err := v.start(rf); err != nil {
			return nil, err
		}
		defer v.abort(errStopped)
		sinks = append(sinks, v)
	}
	buf := copyPool.Get().(*[]byte)
	defer copyPool.Put(buf)
	n, err := io.CopyBuffer(io.MultiWriter(sinks...), onlyReader{r}, *buf)
	if err != nil {
		return nil, fmt.Errorf("%s: reading payload: %w", what, err)
	}
	rf.pkg.PackageSize = rf.n + n
	rf.pkg.Checksum = rpm.Checksum{Type: "sha256", Value: hex.EncodeToString(whole.Sum(nil))}
	payloadOK := payload != nil
	if payloadOK && hex.EncodeToString(payload.Sum(nil)) != rf.pkg.PayloadDigest {
		return nil, &SignatureError{Package: what, Reason: "payload digest mismatch: the package was altered after it was built"}
	}
	if v != nil {
		if err := v.finish(payloadOK); err != nil {
			return nil, err
		}
	}
	return rf.pkg, nil
}

// payloadHash returns a hash for the header's payload digest, or nil when the
// header records none.
func (rf *rpmFile) payloadHash() (hash.Hash, error) {
	if rf.pkg.PayloadDigest == "" {
		return nil, nil
	}
	h := newPGPHash(rf.pkg.PayloadDigestAlgo)
	if h == nil {
		return nil, &FormatError{What: rf.what, Reason: fmt.Sprintf("unknown payload digest algorithm %d", rf.pkg.PayloadDigestAlgo)}
	}
	return h, nil
}

func newPGPHash(algo int) hash.Hash {
	switch algo {
	case pgpHashMD5:
		return md5.New()
	case pgpHashSHA1:
		return sha1.New()
	case pgpHashSHA256:
		return sha256.New()
	case pgpHashSHA384:
		return sha512.New384()
	case pgpHashSHA512:
		return sha512.New()
	}
	return nil
}

var errStopped = errors.New("reading stopped")

var errNoName = errors.New("header has no name, version, release or arch")
