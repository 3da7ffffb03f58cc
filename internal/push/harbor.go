package push

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/factory-appliance/appliance/internal/harbor"
)

// setupHarbor finds out whether the target is Harbor (WithHarbor) and, if
// so, creates the projects the images go into that do not exist yet.
// Harbor refuses pushes into a missing project, and creating one twice is
// harmless (409), so this is idempotent.
func (p *pusher) setupHarbor(ctx context.Context, units []unit) error {
	if p.o.harbor == HarborOff {
		return nil
	}
	hc, err := p.harborClient()
	if err != nil {
		return err
	}
	if p.o.harbor == HarborAuto {
		status, err := hc.Health(ctx)
		if errors.Is(err, harbor.ErrNotHarbor) {
			p.o.log.Debug("the target is not Harbor; pushing without creating projects", "registry", p.host, "why", err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("cannot reach %s: %w", p.host, withTLSHint(err))
		}
		p.o.log.Info("the target is Harbor", "registry", p.host, "status", status)
	}
	p.rep.Harbor = true
	for _, project := range projects(units) {
		created, err := hc.EnsureProject(ctx, project, p.o.publicProjects)
		if err != nil {
			return fmt.Errorf("harbor project %s: %w", project, err)
		}
		if created {
			p.rep.ProjectsCreated = append(p.rep.ProjectsCreated, project)
			p.prog.Logf("created Harbor project %s", project)
		}
	}
	return nil
}

func (p *pusher) harborClient() (*harbor.Client, error) {
	scheme := "https"
	if p.o.plainHTTP {
		scheme = "http"
	}
	opts := []harbor.Option{harbor.WithHTTPClient(&http.Client{Transport: p.base, Timeout: time.Minute})}
	if p.o.user != "" {
		opts = append(opts, harbor.WithBasicAuth(p.o.user, p.o.password))
	}
	return harbor.New(scheme+"://"+p.host, opts...)
}

// projects lists the projects the units go into, sorted.
func projects(units []unit) []string {
	set := map[string]bool{}
	for _, u := range units {
		set[u.project] = true
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
