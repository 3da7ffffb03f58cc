package testsite

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const siteJSON = `{
  "name": "unit",
  "network": "appliance-site-unit",
  "subnet": "10.210.7.0/24",
  "gateway": "10.210.7.1",
  "vip": "10.210.7.100",
  "image": "appliance-site-host:0123456789ab",
  "stateDir": "/state",
  "hosts": [
    {"name": "deploy", "role": "deploy", "address": "10.210.7.10", "container": "appliance-site-unit-deploy"},
    {"name": "master-1", "role": "master", "address": "10.210.7.11", "container": "appliance-site-unit-master-1"},
    {"name": "master-2", "role": "master", "address": "10.210.7.12", "container": "appliance-site-unit-master-2"},
    {"name": "worker-1", "role": "worker", "address": "10.210.7.21", "container": "appliance-site-unit-worker-1"}
  ]
}`

func writeState(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if content != "" {
		if err := os.WriteFile(filepath.Join(dir, "site.json"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadSite(t *testing.T) {
	s, err := loadSite(writeState(t, siteJSON), "/scripts")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "unit" || s.VIP != "10.210.7.100" || len(s.Hosts) != 4 {
		t.Fatalf("loaded %+v", s)
	}
	h, err := s.Host("master-2")
	if err != nil || h.Address != "10.210.7.12" || h.Container != "appliance-site-unit-master-2" {
		t.Errorf("Host(master-2) = %+v, %v", h, err)
	}
	if _, err := s.Host("master-3"); err == nil || !strings.Contains(err.Error(), "master-1") {
		t.Errorf("Host(master-3) error = %v, want one listing the hosts", err)
	}
	names := func(hs []Host) (n []string) {
		for _, h := range hs {
			n = append(n, h.Name)
		}
		return n
	}
	if got := strings.Join(names(s.Role(RoleMaster)), ","); got != "master-1,master-2" {
		t.Errorf("Role(master) = %s", got)
	}
	if got := strings.Join(names(s.Targets()), ","); got != "master-1,master-2,worker-1" {
		t.Errorf("Targets() = %s", got)
	}
	if s.InventoryPath() != "/state/inventory.yaml" || s.KnownHosts() != "/state/known_hosts" || s.KeyFile() != "/state/id_ed25519" {
		t.Errorf("state paths: %s %s %s", s.InventoryPath(), s.KnownHosts(), s.KeyFile())
	}
}

func TestLoadSiteErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"missing", "", "up.sh"},
		{"not json", "{", "site.json"},
		{"no hosts", `{"name": "x", "network": "n", "hosts": []}`, "rerun scripts/site/up.sh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadSite(writeState(t, tt.content), "/scripts")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("loadSite error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestExecError(t *testing.T) {
	runErr := exec.Command("sh", "-c", "exit 3").Run()
	e := execError(t.Context(), "master-1", []string{"rpm", "-q", "x"}, "  package x is not installed\n", runErr)
	if e.ExitCode != 3 {
		t.Errorf("ExitCode = %d, want 3", e.ExitCode)
	}
	want := "on test host master-1: rpm -q x: exit status 3: package x is not installed"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
	var target *ExecError
	if !errors.As(error(e), &target) {
		t.Error("errors.As(*ExecError) failed")
	}
	var exitErr *exec.ExitError
	if !errors.As(error(e), &exitErr) {
		t.Error("ExecError does not unwrap to the docker exec error")
	}
}

func TestExecUnknownHost(t *testing.T) {
	s, err := loadSite(writeState(t, siteJSON), "/scripts")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec("nope", "true"); err == nil || !strings.Contains(err.Error(), `no host "nope"`) {
		t.Errorf("Exec on an unknown host: %v", err)
	}
	if _, err := s.Exec("master-1"); err == nil || !strings.Contains(err.Error(), "no command") {
		t.Errorf("Exec without a command: %v", err)
	}
}
