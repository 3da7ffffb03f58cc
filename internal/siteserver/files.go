package siteserver

import (
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// Top-level trees of the bundle served as plain files.
var fileTrees = []string{"/repos/", "/files/", "/charts/"}

// serveFile answers /repos/..., /files/... and /charts/... with the bundle
// entry of the same path, or a plain-text listing for a directory.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "read-only: only GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	dir := strings.HasSuffix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if !fs.ValidPath(p) {
		http.Error(w, "not a bundle path", http.StatusBadRequest)
		return
	}
	if !dir {
		if size, digest, ok := s.content.Stat(p); ok {
			s.sendEntry(w, r, entry{path: p, size: size, digest: digest, contentType: fileContentType(p)})
			return
		}
	}
	s.serveListing(w, r, p+"/")
}

// serveListing answers a directory with the names directly under it, one a
// line ("name/" for a subdirectory).
func (s *Server) serveListing(w http.ResponseWriter, r *http.Request, prefix string) {
	all := s.content.List(prefix)
	if len(all) == 0 {
		http.Error(w, strings.TrimSuffix(prefix, "/")+" is not in the bundle", http.StatusNotFound)
		return
	}
	if !strings.HasSuffix(r.URL.Path, "/") {
		http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
		return
	}
	var b strings.Builder
	prev := ""
	for _, p := range all {
		name := strings.TrimPrefix(p, prefix)
		if i := strings.IndexByte(name, '/'); i >= 0 {
			name = name[:i+1]
		}
		if name != prev {
			b.WriteString(name + "\n")
			prev = name
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", itoa(int64(b.Len())))
	if r.Method == http.MethodGet {
		w.Write([]byte(b.String()))
	}
}

func fileContentType(p string) string {
	switch path.Ext(p) {
	case ".rpm":
		return "application/x-rpm"
	case ".xml":
		return "application/xml"
	case ".gz", ".tgz":
		return "application/gzip"
	case ".zst":
		return "application/zstd"
	}
	if t := mime.TypeByExtension(path.Ext(p)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// serveCACert answers /ca.crt with the site CA certificate, the only key
// material the server ever hands out.
func (s *Server) serveCACert(w http.ResponseWriter, r *http.Request) {
	if len(s.caCert) == 0 {
		http.Error(w, "this server has no site CA (plain HTTP)", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Length", itoa(int64(len(s.caCert))))
	if r.Method == http.MethodGet {
		w.Write(s.caCert)
	}
}
