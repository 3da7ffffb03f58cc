module appliance.local/k8s/coredns

go 1.17

require github.com/coredns/coredns v1.9.3
