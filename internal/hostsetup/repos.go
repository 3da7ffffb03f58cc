package hostsetup

import (
	"context"
	"fmt"

	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
)

// Repos installs the site CA in the host's trust store, fetches the bundled
// RPM signing keys from the site server, writes RepoFile and checks that
// yum reads the repos. Idempotent: every file is replaced whole.
func (s *Site) Repos(ctx context.Context, h *remote.Host) error {
	if err := h.Put(ctx, hostconf.HostCA, s.CACert(), 0o644); err != nil {
		return err
	}
	if err := h.Sh(ctx, "update-ca-trust extract"); err != nil {
		return err
	}
	repos := hostconf.BundleRepos(s.Index)
	if len(repos) == 0 {
		plan.Logf(ctx, "the bundle has no yum repositories; nothing to point yum at")
		return nil
	}
	for _, r := range repos {
		for _, k := range r.Keys {
			if err := s.fetchKey(ctx, h, r.ID, k); err != nil {
				return err
			}
		}
	}
	if err := h.Put(ctx, hostconf.RepoFile, []byte(hostconf.RenderRepoFile(s.Index, repos, s.SeedURL)), 0o644); err != nil {
		return err
	}
	if err := h.Sh(ctx, "yum -y -q "+hostconf.YumOnly+" clean expire-cache && yum -y -q "+hostconf.YumOnly+" makecache"); err != nil {
		return fmt.Errorf("yum cannot read the bundle's repos from %s: %w", s.SeedURL, err)
	}
	plan.Logf(ctx, "yum uses %d repo(s) from %s", len(repos), s.SeedURL)
	return nil
}

// fetchKey downloads one RPM signing key from the site server over TLS
// (trusting the site CA) and imports it into the rpm database.
func (s *Site) fetchKey(ctx context.Context, h *remote.Host, id, key string) error {
	if err := h.Sh(ctx, hostconf.FetchKeyCommand(s.SeedURL, id, key)); err != nil {
		return fmt.Errorf("fetching RPM key %s of repo %s from the site server: %w", key, id, err)
	}
	return nil
}
