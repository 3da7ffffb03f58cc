module appliance.local/k8s/extra

go 1.24
