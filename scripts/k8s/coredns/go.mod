module appliance.local/k8s/coredns

go 1.23.0

require github.com/coredns/coredns v1.12.1
