module appliance.local/k8s/etcd

go 1.20

require go.etcd.io/etcd/server/v3 v3.5.10
