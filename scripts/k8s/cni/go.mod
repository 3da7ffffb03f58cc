module appliance.local/k8s/cni

go 1.17

require github.com/containernetworking/plugins v1.2.0
