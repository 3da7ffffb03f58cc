// Package kubeconfig reads the cluster-admin kubeconfig that kubeadm writes
// on the first master (/etc/kubernetes/admin.conf), and nothing else.
//
// That file comes from a master, or from a state directory someone may
// hand over, so it is hostile input. client-go's loader (clientcmd) would
// run an exec credential plugin or an auth-provider it names, read the
// token, certificate and key files it names, and send requests through the
// proxy it names: root on a master would become root on the deploy node.
// This package accepts only kubeadm's shape: one cluster (an https server
// and the CA inline), one user (a client certificate and key inline), one
// context joining them. Every other field is refused by name. The client
// configuration is built from the parsed fields (Admin.RESTConfig), never
// by clientcmd from the file.
package kubeconfig

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
	"k8s.io/client-go/rest"
)

// MaxSize bounds a kubeconfig: kubeadm's admin.conf is about 6 KiB.
const MaxSize = 256 << 10

// maxName bounds the names of the cluster, the user and the context.
const maxName = 253

// Admin is a cluster-admin kubeconfig of kubeadm's shape.
type Admin struct {
	// Server is the API server: https://HOST:PORT, nothing more.
	Server string
	// CAData is the PEM of the certificates the server's is checked
	// against; CertData and KeyData are the client's certificate and key
	// (PEM), a matching pair.
	CAData, CertData, KeyData []byte
	// The names of the cluster, the user and the context.
	Cluster, User, Context string
}

// Error is a refused kubeconfig: File (the path, or a name for data read
// elsewhere), the Field (a path such as users[0].user.exec, "" for the
// whole file), its Line (0 when unknown) and why.
type Error struct {
	File  string
	Field string
	Line  int
	Why   string
}

func (e *Error) Error() string {
	at := ""
	switch {
	case e.Field != "" && e.Line > 0:
		at = fmt.Sprintf(" %s (line %d)", e.Field, e.Line)
	case e.Field != "":
		at = " " + e.Field
	}
	return fmt.Sprintf("kubeconfig %s:%s: %s", e.File, at, e.Why)
}

// shape is what a refusal of an unexpected field ends with.
const shape = "deploy accepts only what kubeadm writes in admin.conf: one cluster (server, certificate-authority-data), " +
	"one user (client-certificate-data, client-key-data) and one context; copy /etc/kubernetes/admin.conf from the first master again, or let deploy --resume fetch it"

// refusedFields say why a known field is refused.
var refusedFields = map[string]string{
	"exec":                     "an exec credential plugin runs a program on the deploy node; refused",
	"auth-provider":            "an auth-provider plugin runs on the deploy node; refused",
	"tokenFile":                "a token file makes deploy read a file the kubeconfig names; refused",
	"token":                    "a bearer token is not what kubeadm writes; refused",
	"username":                 "basic authentication is not what kubeadm writes; refused",
	"password":                 "basic authentication is not what kubeadm writes; refused",
	"client-certificate":       "a file path makes deploy read a file the kubeconfig names; the certificate must be inline (client-certificate-data)",
	"client-key":               "a file path makes deploy read a file the kubeconfig names; the key must be inline (client-key-data)",
	"certificate-authority":    "a file path makes deploy read a file the kubeconfig names; the CA must be inline (certificate-authority-data)",
	"proxy-url":                "a proxy would carry deploy's requests (and the cluster-admin's credentials) through a host the kubeconfig names; refused",
	"insecure-skip-tls-verify": "it turns off the check of the API server's certificate; refused",
	"tls-server-name":          "it changes the name the API server's certificate is checked against; refused",
	"as":                       "impersonation is not what kubeadm writes; refused",
	"as-uid":                   "impersonation is not what kubeadm writes; refused",
	"as-groups":                "impersonation is not what kubeadm writes; refused",
	"as-user-extra":            "impersonation is not what kubeadm writes; refused",
	"extensions":               "extensions are not what kubeadm writes; refused",
}

// Load reads the kubeconfig at path (a regular file of at most MaxSize
// bytes) and parses it (Parse).
func Load(path, endpoint string) (*Admin, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{File: path, Why: "not a regular file"}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return Parse(path, data, endpoint)
}

// Parse parses a kubeconfig of kubeadm's shape; file names it in errors.
// Every field other than kubeadm's is refused, naming it; so are anchors,
// aliases, tags and repeated keys, more than one cluster, user or context,
// and data that does not decode: the CA must be certificates, the client
// certificate and key a matching pair. The server must be https://HOST:PORT
// and, when endpoint (HOST:PORT) is not "", that endpoint: the one deploy
// configured, so a master cannot point deploy elsewhere.
func Parse(file string, data []byte, endpoint string) (*Admin, error) {
	p := parser{file: file}
	if len(data) > MaxSize {
		return nil, p.fail("", 0, fmt.Sprintf("larger than %d KiB; kubeadm's admin.conf is a few KiB", MaxSize>>10))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, p.fail("", 0, "not YAML: "+err.Error())
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, p.fail("", 0, "empty, or more than one YAML document")
	}
	a, err := p.admin(doc.Content[0])
	if err != nil {
		return nil, err
	}
	if err := checkServer(a.Server, endpoint); err != nil {
		return nil, p.fail("clusters[0].cluster.server", 0, err.Error())
	}
	return a, nil
}

type parser struct {
	file string
}

func (p *parser) fail(field string, line int, why string) error {
	return &Error{File: p.file, Field: field, Line: line, Why: why}
}

// mapping returns the keys of a mapping node and their values, refusing
// anything but plain keys listed in allowed.
func (p *parser) mapping(n *yaml.Node, field string, allowed ...string) (map[string]*yaml.Node, error) {
	if err := p.plain(n, field); err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, p.fail(field, n.Line, "not a mapping")
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := join(field, k.Value)
		if err := p.plain(k, name); err != nil {
			return nil, err
		}
		if k.Kind != yaml.ScalarNode {
			return nil, p.fail(field, k.Line, "a key that is not a string")
		}
		if why, ok := refusedFields[k.Value]; ok {
			return nil, p.fail(name, k.Line, why)
		}
		if !contains(allowed, k.Value) {
			return nil, p.fail(name, k.Line, "not a field kubeadm writes; "+shape)
		}
		if _, dup := out[k.Value]; dup {
			return nil, p.fail(name, k.Line, "given twice")
		}
		if err := p.plain(v, name); err != nil {
			return nil, err
		}
		out[k.Value] = v
	}
	return out, nil
}

// plain refuses anchors, aliases and explicit tags: kubeadm writes none,
// and they are how one YAML file means different things to two parsers.
func (p *parser) plain(n *yaml.Node, field string) error {
	switch {
	case n.Kind == yaml.AliasNode:
		return p.fail(field, n.Line, "a YAML alias; kubeadm writes none")
	case n.Anchor != "":
		return p.fail(field, n.Line, "a YAML anchor; kubeadm writes none")
	case n.Style&yaml.TaggedStyle != 0:
		return p.fail(field, n.Line, "an explicit YAML tag; kubeadm writes none")
	}
	return nil
}

func (p *parser) str(m map[string]*yaml.Node, key, field string, required bool) (string, error) {
	n, ok := m[key]
	name := join(field, key)
	if !ok {
		if required {
			return "", p.fail(name, 0, "missing; "+shape)
		}
		return "", nil
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" && n.Tag != "!!int" {
		return "", p.fail(name, n.Line, "not a string")
	}
	return n.Value, nil
}

// only returns the single entry of the list at key.
func (p *parser) only(m map[string]*yaml.Node, key string) (*yaml.Node, error) {
	n, ok := m[key]
	if !ok {
		return nil, p.fail(key, 0, "missing; "+shape)
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.fail(key, n.Line, "not a list")
	}
	if len(n.Content) != 1 {
		return nil, p.fail(key, n.Line, fmt.Sprintf("%d entries; kubeadm writes exactly one", len(n.Content)))
	}
	return n.Content[0], nil
}

func (p *parser) admin(root *yaml.Node) (*Admin, error) {
	top, err := p.mapping(root, "", "apiVersion", "kind", "clusters", "users", "contexts", "current-context", "preferences")
	if err != nil {
		return nil, err
	}
	for key, want := range map[string]string{"apiVersion": "v1", "kind": "Config"} {
		if v, err := p.str(top, key, "", false); err != nil {
			return nil, err
		} else if v != "" && v != want {
			return nil, p.fail(key, top[key].Line, fmt.Sprintf("%q, not %q", v, want))
		}
	}
	if pref, ok := top["preferences"]; ok {
		if m, err := p.mapping(pref, "preferences"); err != nil {
			return nil, err
		} else if len(m) > 0 {
			return nil, p.fail("preferences", pref.Line, "not empty")
		}
	}
	a := &Admin{}
	if err := p.cluster(top, a); err != nil {
		return nil, err
	}
	if err := p.user(top, a); err != nil {
		return nil, err
	}
	if err := p.context(top, a); err != nil {
		return nil, err
	}
	return a, nil
}

// named reads an entry {name: NAME, KEY: {...}} of the list at list.
func (p *parser) named(top map[string]*yaml.Node, list, key string, fields ...string) (name string, m map[string]*yaml.Node, err error) {
	n, err := p.only(top, list)
	if err != nil {
		return "", nil, err
	}
	field := list + "[0]"
	entry, err := p.mapping(n, field, "name", key)
	if err != nil {
		return "", nil, err
	}
	if name, err = p.str(entry, "name", field, true); err != nil {
		return "", nil, err
	}
	if err := checkName(name); err != nil {
		return "", nil, p.fail(join(field, "name"), entry["name"].Line, err.Error())
	}
	inner, ok := entry[key]
	if !ok {
		return "", nil, p.fail(join(field, key), n.Line, "missing; "+shape)
	}
	m, err = p.mapping(inner, join(field, key), fields...)
	return name, m, err
}

func (p *parser) cluster(top map[string]*yaml.Node, a *Admin) error {
	name, m, err := p.named(top, "clusters", "cluster", "server", "certificate-authority-data")
	if err != nil {
		return err
	}
	const field = "clusters[0].cluster"
	a.Cluster = name
	if a.Server, err = p.str(m, "server", field, true); err != nil {
		return err
	}
	if a.CAData, err = p.data(m, "certificate-authority-data", field); err != nil {
		return err
	}
	if err := checkCA(a.CAData); err != nil {
		return p.fail(field+".certificate-authority-data", m["certificate-authority-data"].Line, err.Error())
	}
	return nil
}

func (p *parser) user(top map[string]*yaml.Node, a *Admin) error {
	name, m, err := p.named(top, "users", "user", "client-certificate-data", "client-key-data")
	if err != nil {
		return err
	}
	const field = "users[0].user"
	a.User = name
	if a.CertData, err = p.data(m, "client-certificate-data", field); err != nil {
		return err
	}
	if a.KeyData, err = p.data(m, "client-key-data", field); err != nil {
		return err
	}
	if _, err := tls.X509KeyPair(a.CertData, a.KeyData); err != nil {
		return p.fail(field, 0, "the client certificate and key are not a pair: "+err.Error())
	}
	return nil
}

func (p *parser) context(top map[string]*yaml.Node, a *Admin) error {
	name, m, err := p.named(top, "contexts", "context", "cluster", "user")
	if err != nil {
		return err
	}
	const field = "contexts[0].context"
	a.Context = name
	for key, want := range map[string]string{"cluster": a.Cluster, "user": a.User} {
		v, err := p.str(m, key, field, true)
		if err != nil {
			return err
		}
		if v != want {
			return p.fail(join(field, key), m[key].Line, fmt.Sprintf("%q is not the kubeconfig's %s (%q)", v, key, want))
		}
	}
	cur, err := p.str(top, "current-context", "", false)
	if err != nil {
		return err
	}
	if cur != "" && cur != name {
		return p.fail("current-context", top["current-context"].Line, fmt.Sprintf("%q is not the kubeconfig's context (%q)", cur, name))
	}
	return nil
}

// data decodes the base64 field key of m, which must be there.
func (p *parser) data(m map[string]*yaml.Node, key, field string) ([]byte, error) {
	s, err := p.str(m, key, field, true)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, p.fail(join(field, key), m[key].Line, "not base64: "+err.Error())
	}
	return b, nil
}

// checkCA requires PEM holding certificates only, at least one.
func checkCA(b []byte) error {
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				return errors.New("holds something other than PEM certificates")
			}
			break
		}
		if blk.Type != "CERTIFICATE" {
			return fmt.Errorf("holds a PEM %q block; it must hold certificates only", blk.Type)
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("a certificate does not parse: %w", err)
		}
		n++
	}
	if n == 0 {
		return errors.New("holds no certificate")
	}
	return nil
}

func checkName(s string) error {
	if s == "" || len(s) > maxName {
		return fmt.Errorf("must be 1 to %d characters", maxName)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("holds the character %q", r)
		}
	}
	return nil
}

// checkServer requires https://HOST:PORT, and that endpoint when it is not
// "" (IP addresses compared in their canonical form).
func checkServer(server, endpoint string) error {
	u, err := url.Parse(server)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", server, err)
	}
	if u.Scheme != "https" || u.Opaque != "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Port() == "" {
		return fmt.Errorf("%q is not https://HOST:PORT, which kubeadm writes", server)
	}
	if endpoint == "" {
		return nil
	}
	if canonical(u.Host) != canonical(endpoint) {
		return fmt.Errorf("%q is not the API server deploy configured (https://%s); a master's admin.conf must name the site's endpoint", server, endpoint)
	}
	return nil
}

func canonical(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().String()
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// RESTConfig is a client configuration built from a's fields alone: the
// server, its CA and the client certificate, all inline. It names no file,
// plugin or proxy.
func (a *Admin) RESTConfig() *rest.Config {
	return &rest.Config{
		Host: a.Server,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   bytes.Clone(a.CAData),
			CertData: bytes.Clone(a.CertData),
			KeyData:  bytes.Clone(a.KeyData),
		},
	}
}

// Marshal renders a as a kubeconfig of kubeadm's shape (YAML whose strings
// are JSON literals), which Parse reads back as a.
func (a *Admin) Marshal() []byte {
	q := func(s string) string {
		b, _ := json.Marshal(s)
		return string(b)
	}
	b64 := func(b []byte) string { return q(base64.StdEncoding.EncodeToString(b)) }
	var b bytes.Buffer
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Config\nclusters:\n- name: %s\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n",
		q(a.Cluster), q(a.Server), b64(a.CAData))
	fmt.Fprintf(&b, "users:\n- name: %s\n  user:\n    client-certificate-data: %s\n    client-key-data: %s\n",
		q(a.User), b64(a.CertData), b64(a.KeyData))
	fmt.Fprintf(&b, "contexts:\n- name: %s\n  context:\n    cluster: %s\n    user: %s\ncurrent-context: %s\n",
		q(a.Context), q(a.Cluster), q(a.User), q(a.Context))
	return b.Bytes()
}
