package signing

import (
	"os/exec"
	"strings"
	"testing"
)

// forbiddenDeps are import-path prefixes internal/signing must not depend
// on, directly or not. An offline, keyed signature check needs none of
// them, and each would add a large dependency tree to every binary that
// verifies a bundle.
var forbiddenDeps = []string{
	// Kubernetes clients (cosign's pkg/cosign/kubernetes).
	"k8s.io/",
	"sigs.k8s.io/",
	// Cloud KMS providers, and the cosign package that loads them.
	"github.com/sigstore/cosign/v2/pkg/signature",
	"github.com/sigstore/sigstore/pkg/signature/kms",
	"cloud.google.com/go/kms",
	"github.com/aws/aws-sdk-go",
	"github.com/Azure/azure-sdk-for-go",
	"github.com/hashicorp/vault",
	// cosign's verification package: it pulls Rekor, TUF, gRPC and
	// OpenTelemetry (about 680 packages); see the package doc.
	"github.com/sigstore/cosign/v2/pkg/cosign",
	"github.com/sigstore/rekor",
	"github.com/theupdateframework/",
	"google.golang.org/grpc",
}

func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed only %v", deps)
	}
	for _, dep := range deps {
		for _, bad := range forbiddenDeps {
			root := strings.TrimSuffix(bad, "/")
			if dep == root || strings.HasPrefix(dep, root+"/") {
				t.Errorf("internal/signing depends on %s (forbidden: %s)", dep, bad)
			}
		}
	}
}
