package stack

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Error is a step that failed: what (the release or manifest), why, the
// workloads that did not roll out and their pods that are not ready.
type Error struct {
	What      string   // "release nfs (namespace storage)", "manifests of component calico"
	Err       error    // what went wrong
	Workloads []string // "Deployment storage/nfs: 0 of 1 updated replicas available"
	Pods      []PodProblem
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v", e.What, e.Err)
	if len(e.Workloads) > 0 {
		b.WriteString(": " + strings.Join(e.Workloads, "; "))
	}
	for _, p := range e.Pods {
		b.WriteString("; " + p.String())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// PodProblem is why one pod is not ready.
type PodProblem struct {
	Namespace, Name string
	// Reason is the container's waiting or terminated reason
	// (ImagePullBackOff, CrashLoopBackOff, OOMKilled), Unschedulable, or
	// the pod's phase; Message says more, when the cluster says more.
	Reason, Message string
	// Event is the pod's last warning event, "reason: message", if any.
	Event string
}

func (p PodProblem) String() string {
	if p.Name == "" { // about the workload's pods as a whole
		return p.Reason + ": " + p.Message
	}
	s := "pod " + p.Namespace + "/" + p.Name + " " + p.Reason
	if p.Message != "" {
		s += ": " + p.Message
	}
	if p.Event != "" {
		s += " (last event " + p.Event + ")"
	}
	return s
}

// maxPods bounds the pods an Error lists per workload.
const maxPods = 5

var (
	podsResource   = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	eventsResource = schema.GroupVersionResource{Version: "v1", Resource: "events"}
)

// diagnose lists the problems of a workload's pods that are not ready. A
// workload without pods gets the warning events of the objects named after
// it (a ReplicaSet's FailedCreate says why a Deployment has none).
// Problems reading the cluster are reported as problems, not errors: the
// step has failed already.
func (in *Installer) diagnose(ctx context.Context, n notReady) []PodProblem {
	if n.obj == nil {
		return nil
	}
	sel, err := selectorOf(n.obj)
	if err != nil {
		return []PodProblem{{Namespace: n.w.namespace, Reason: "pods unknown", Message: err.Error()}}
	}
	list, err := in.dynamic.Resource(podsResource).Namespace(n.w.namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return []PodProblem{{Namespace: n.w.namespace, Reason: "pods unreadable", Message: fmt.Sprintf("listing the pods of %s: %v", n.w, err)}}
	}
	var out []PodProblem
	for i := range list.Items {
		p, ok := podProblem(&list.Items[i])
		if !ok {
			continue
		}
		if len(out) == maxPods {
			out = append(out, PodProblem{Namespace: n.w.namespace, Reason: "more pods", Message: fmt.Sprintf("%d more of %s are not ready", countProblems(list.Items[i:]), n.w)})
			break
		}
		p.Event = in.lastWarning(ctx, n.w.namespace, func(kind, name string) bool { return kind == "Pod" && name == p.Name })
		out = append(out, p)
	}
	if len(list.Items) == 0 {
		ev := in.lastWarning(ctx, n.w.namespace, func(_, name string) bool {
			return name == n.w.name || strings.HasPrefix(name, n.w.name+"-")
		})
		msg := fmt.Sprintf("%s has none; its controller in kube-controller-manager makes them", n.w)
		if ev != "" {
			msg += " (last event " + ev + ")"
		}
		out = append(out, PodProblem{Namespace: n.w.namespace, Reason: "no pods", Message: msg})
	}
	return out
}

func countProblems(pods []unstructured.Unstructured) int {
	n := 0
	for i := range pods {
		if _, ok := podProblem(&pods[i]); ok {
			n++
		}
	}
	return n
}

// selectorOf returns a workload's spec.selector as a label selector string.
func selectorOf(obj *unstructured.Unstructured) (string, error) {
	m, found, err := unstructured.NestedMap(obj.Object, "spec", "selector")
	if err != nil || !found {
		return "", fmt.Errorf("%s %s has no spec.selector", obj.GetKind(), obj.GetName())
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls); err != nil {
		return "", err
	}
	s, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return "", err
	}
	return s.String(), nil
}

// podProblem says why a pod is not ready; ok is false for a ready or
// finished pod.
func podProblem(pod *unstructured.Unstructured) (PodProblem, bool) {
	p := PodProblem{Namespace: pod.GetNamespace(), Name: pod.GetName()}
	phase, _, _ := unstructured.NestedString(pod.Object, "status", "phase")
	if phase == "Succeeded" || condition(pod, "Ready").status == "True" {
		return p, false
	}
	if pod.GetDeletionTimestamp() != nil {
		p.Reason = "Terminating"
		return p, true
	}
	for _, field := range []string{"initContainerStatuses", "containerStatuses"} {
		statuses, _, _ := unstructured.NestedSlice(pod.Object, "status", field)
		for _, s := range statuses {
			if r, m, ok := containerProblem(s); ok {
				p.Reason, p.Message = r, m
				return p, true
			}
		}
	}
	if c := condition(pod, "PodScheduled"); c.status == "False" {
		p.Reason, p.Message = c.reason, c.message
		if p.Reason == "" {
			p.Reason = "Unschedulable"
		}
		return p, true
	}
	p.Reason = phase
	if p.Reason == "" {
		p.Reason = "Pending"
	}
	if c := condition(pod, "Ready"); c.reason != "" {
		p.Message = strings.TrimSpace(c.reason + " " + c.message)
	}
	return p, true
}

// containerProblem reads one container status: waiting, or terminated
// with a failure, or running but not ready.
func containerProblem(status any) (reason, message string, ok bool) {
	s, _ := status.(map[string]any)
	name, _ := s["name"].(string)
	str := func(fields ...string) string {
		v, _, _ := unstructured.NestedString(s, fields...)
		return v
	}
	restarts := num(s, "restartCount")
	last := ""
	if lr := str("lastState", "terminated", "reason"); lr != "" {
		code := num(s, "lastState", "terminated", "exitCode")
		last = fmt.Sprintf(" (restarted %d times, last exit %d %s)", restarts, code, lr)
	}
	if r := str("state", "waiting", "reason"); r != "" {
		return r, strings.TrimSpace("container " + name + " " + str("state", "waiting", "message") + last), true
	}
	if r := str("state", "terminated", "reason"); r != "" {
		if code := num(s, "state", "terminated", "exitCode"); code != 0 {
			return r, strings.TrimSpace(fmt.Sprintf("container %s exited %d %s", name, code, str("state", "terminated", "message"))), true
		}
	}
	if ready, _, _ := unstructured.NestedBool(s, "ready"); !ready && str("state", "running", "startedAt") != "" {
		return "NotReady", "container " + name + " is running but not ready (its readiness probe fails)" + last, true
	}
	return "", "", false
}

// lastWarning returns the most recent warning event, "reason: message",
// in namespace about an object match accepts, or "".
func (in *Installer) lastWarning(ctx context.Context, namespace string, match func(kind, name string) bool) string {
	list, err := in.dynamic.Resource(eventsResource).Namespace(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("type", "Warning").String(), Limit: 500})
	if err != nil {
		return ""
	}
	type ev struct{ when, text string }
	var evs []ev
	for _, e := range list.Items {
		kind, _, _ := unstructured.NestedString(e.Object, "involvedObject", "kind")
		name, _, _ := unstructured.NestedString(e.Object, "involvedObject", "name")
		if !match(kind, name) {
			continue
		}
		reason, _, _ := unstructured.NestedString(e.Object, "reason")
		msg, _, _ := unstructured.NestedString(e.Object, "message")
		when := e.GetCreationTimestamp().UTC().Format("2006-01-02T15:04:05Z")
		for _, f := range []string{"lastTimestamp", "eventTime"} {
			if t, _, _ := unstructured.NestedString(e.Object, f); t > when {
				when = t
			}
		}
		if kind != "Pod" {
			reason = kind + " " + name + " " + reason
		}
		evs = append(evs, ev{when: when, text: reason + ": " + strings.TrimSpace(msg)})
	}
	if len(evs) == 0 {
		return ""
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].when < evs[j].when })
	return evs[len(evs)-1].text
}
