module appliance.local/k8s/etcd

go 1.20

require go.etcd.io/etcd/server/v3 v3.5.10

// etcd v3.5.10 asks for reflect2 v1.0.1 (through json-iterator v1.1.11),
// which predates Go 1.18's runtime changes it reaches into; v1.0.2 is the
// release that supports them. Only this indirect dependency is raised.
require (
	github.com/json-iterator/go v1.1.12 // indirect
	github.com/modern-go/reflect2 v1.0.2 // indirect
)
