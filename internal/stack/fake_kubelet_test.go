package stack

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// The test apiserver runs no kubelet and no controllers. These helpers
// stand in for what they would write, through the real API: a pod with
// the status kubelet reports, the warning events kubelet and controllers
// record, and the Failed condition the Job controller sets.

func createPod(t *testing.T, dyn dynamic.Interface, ns, name string, labels map[string]string, status map[string]any) {
	t.Helper()
	ctx := context.Background()
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "web", "image": "registry.factory.example/library/app:1.0"}}},
	}}
	pod.SetLabels(labels)
	created, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Errorf("creating pod %s/%s: %v", ns, name, err)
		return
	}
	created.Object["status"] = status
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Errorf("writing pod %s/%s's status: %v", ns, name, err)
	}
}

func createEvent(t *testing.T, dyn dynamic.Interface, ns, pod, reason, message string) {
	t.Helper()
	createEventOn(t, dyn, ns, "Pod", pod, reason, message)
}

// createEventOn records a warning event about an object, as its controller
// or kubelet would.
func createEventOn(t *testing.T, dyn dynamic.Interface, ns, kind, name, reason, message string) {
	t.Helper()
	now := time.Now().UTC().Format(time.RFC3339)
	ev := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Event",
		"metadata":       map[string]any{"name": name + ".1", "namespace": ns},
		"involvedObject": map[string]any{"kind": kind, "name": name, "namespace": ns},
		"reason":         reason, "message": message, "type": "Warning",
		"firstTimestamp": now, "lastTimestamp": now, "count": int64(1),
		"source": map[string]any{"component": "kubelet"},
	}}
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "events"}).Namespace(ns).Create(context.Background(), ev, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Errorf("creating the event: %v", err)
	}
}

// failJob waits for the Job to exist and writes the status the Job
// controller writes when the Job has failed.
func failJob(t *testing.T, dyn dynamic.Interface, ns, name, reason, message string) {
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		j, err := dyn.Resource(jobs).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		now := time.Now().UTC().Format(time.RFC3339)
		cond := func(typ string) map[string]any {
			return map[string]any{"type": typ, "status": "True", "reason": reason, "message": message, "lastTransitionTime": now, "lastProbeTime": now}
		}
		unstructured.SetNestedField(j.Object, map[string]any{"failed": int64(6), "startTime": now,
			"conditions": []any{cond("FailureTarget"), cond("Failed")}}, "status")
		if _, err := dyn.Resource(jobs).Namespace(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
			t.Errorf("writing Job %s/%s's status: %v", ns, name, err)
		}
		return
	}
	t.Errorf("Job %s/%s was never created", ns, name)
}
