package manifest_test

import (
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lint"
)

func init() { manifest.SetLintCheck(lint.Check) }
