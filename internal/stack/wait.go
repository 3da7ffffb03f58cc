package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// workload is an object whose rollout a step waits for.
type workload struct {
	kind      string // Deployment, StatefulSet, DaemonSet, Job
	resource  schema.GroupVersionResource
	namespace string
	name      string
	source    string // the manifest entry it came from, or ""
}

func (w workload) String() string {
	s := w.kind + " " + w.namespace + "/" + w.name
	if w.source != "" {
		s += " (" + w.source + ")"
	}
	return s
}

// waitKinds are the kinds a step waits for, and their resources.
var waitKinds = map[schema.GroupKind]schema.GroupVersionResource{
	{Group: "apps", Kind: "Deployment"}:  {Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "apps", Kind: "StatefulSet"}: {Group: "apps", Version: "v1", Resource: "statefulsets"},
	{Group: "apps", Kind: "DaemonSet"}:   {Group: "apps", Version: "v1", Resource: "daemonsets"},
	{Group: "batch", Kind: "Job"}:        {Group: "batch", Version: "v1", Resource: "jobs"},
}

// workloadOf returns the workload obj is, if it is one; namespace is the
// namespace of objects that name none.
func workloadOf(obj *unstructured.Unstructured, namespace, source string) (workload, bool) {
	gvk := obj.GroupVersionKind()
	res, ok := waitKinds[gvk.GroupKind()]
	if !ok {
		return workload{}, false
	}
	ns := obj.GetNamespace()
	if ns == "" {
		ns = namespace
	}
	return workload{kind: gvk.Kind, resource: res, namespace: ns, name: obj.GetName(), source: source}, true
}

// workloads lists the workloads of a multi-document YAML manifest (a
// release's rendered manifest), in order.
func workloads(manifest, namespace, source string) ([]workload, error) {
	objs, err := decodeObjects(strings.NewReader(manifest))
	if err != nil {
		return nil, err
	}
	var out []workload
	for _, o := range objs {
		if w, ok := workloadOf(o.obj, namespace, source); ok {
			out = append(out, w)
		}
	}
	return out, nil
}

// object is one document of a manifest.
type object struct {
	doc int // 1-based document number in its file
	obj *unstructured.Unstructured
}

// decodeObjects decodes YAML or JSON documents; empty documents are
// skipped, and a List's items become objects of their own (with the
// List's document number).
func decodeObjects(r io.Reader) ([]object, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var out []object
	for doc := 1; ; doc++ {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", doc, err)
			}
			for i := range list.Items {
				out = append(out, object{doc: doc, obj: &list.Items[i]})
			}
			continue
		}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("document %d has no apiVersion or kind", doc)
		}
		out = append(out, object{doc: doc, obj: u})
	}
}

// rollout is what a workload's status says.
type rollout struct {
	ready  bool
	failed bool   // it will not get there by waiting
	why    string // when not ready: what it waits for, or why it failed
}

// rolloutOf reads a workload's status as kubectl rollout status does.
func rolloutOf(kind string, obj *unstructured.Unstructured) rollout {
	i64 := func(fields ...string) int64 { return num(obj.Object, fields...) }
	str := func(fields ...string) string {
		v, _, _ := unstructured.NestedString(obj.Object, fields...)
		return v
	}
	replicas := func() int64 {
		if _, found, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", "replicas"); found {
			return i64("spec", "replicas")
		}
		return 1
	}
	if gen := i64("metadata", "generation"); kind != "Job" && i64("status", "observedGeneration") < gen {
		return rollout{why: fmt.Sprintf("its controller has not seen generation %d yet (kube-controller-manager)", gen)}
	}
	switch kind {
	case "Deployment":
		if c := condition(obj, "Progressing"); c.reason == "ProgressDeadlineExceeded" {
			return rollout{failed: true, why: "exceeded its progress deadline: " + c.message}
		}
		want, updated, total, available := replicas(), i64("status", "updatedReplicas"), i64("status", "replicas"), i64("status", "availableReplicas")
		switch {
		case updated < want:
			return rollout{why: fmt.Sprintf("%d of %d replicas updated", updated, want)}
		case total > updated:
			return rollout{why: fmt.Sprintf("%d old replicas are pending termination", total-updated)}
		case available < updated:
			return rollout{why: fmt.Sprintf("%d of %d updated replicas available", available, updated)}
		}
	case "StatefulSet":
		if str("spec", "updateStrategy", "type") == "OnDelete" {
			return rollout{ready: true}
		}
		want, ready := replicas(), i64("status", "readyReplicas")
		if ready < want {
			return rollout{why: fmt.Sprintf("%d of %d pods ready", ready, want)}
		}
		if p := i64("spec", "updateStrategy", "rollingUpdate", "partition"); p > 0 {
			if updated := i64("status", "updatedReplicas"); updated < want-p {
				return rollout{why: fmt.Sprintf("%d of %d pods updated (partition %d)", updated, want-p, p)}
			}
			return rollout{ready: true}
		}
		if cur, upd := str("status", "currentRevision"), str("status", "updateRevision"); cur != upd {
			return rollout{why: fmt.Sprintf("%d of %d pods at revision %s", i64("status", "updatedReplicas"), want, upd)}
		}
	case "DaemonSet":
		if str("spec", "updateStrategy", "type") == "OnDelete" {
			return rollout{ready: true}
		}
		want, updated, available := i64("status", "desiredNumberScheduled"), i64("status", "updatedNumberScheduled"), i64("status", "numberAvailable")
		switch {
		case updated < want:
			return rollout{why: fmt.Sprintf("%d of %d pods updated", updated, want)}
		case available < want:
			return rollout{why: fmt.Sprintf("%d of %d updated pods available", available, want)}
		}
	case "Job":
		if c := condition(obj, "Failed"); c.status == "True" {
			return rollout{failed: true, why: fmt.Sprintf("failed: %s: %s", c.reason, c.message)}
		}
		if c := condition(obj, "Complete"); c.status != "True" {
			return rollout{why: fmt.Sprintf("not complete: %d active, %d succeeded, %d failed pods", i64("status", "active"), i64("status", "succeeded"), i64("status", "failed"))}
		}
	}
	return rollout{ready: true}
}

// num reads an integer field, decoded from JSON as int64 (the API's
// objects) or float64 (YAML read here).
func num(m map[string]any, fields ...string) int64 {
	v, _, _ := unstructured.NestedFieldNoCopy(m, fields...)
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}

type cond struct{ status, reason, message string }

// condition returns the status condition of the given type.
func condition(obj *unstructured.Unstructured, typ string) cond {
	list, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range list {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != typ {
			continue
		}
		s := func(k string) string { v, _ := m[k].(string); return v }
		return cond{status: s("status"), reason: s("reason"), message: s("message")}
	}
	return cond{}
}

// logEvery is how often a wait logs what it still waits for.
const logEvery = 30 * time.Second

// wait waits until every workload has rolled out, one fails, or the
// timeout passes; then the *Error names the workloads not ready and their
// failing pods. An error reading the cluster is not a failure unless it
// lasts until the timeout: an apiserver may restart while a stack rolls
// out.
func (in *Installer) wait(ctx context.Context, what string, ws []workload) error {
	if len(ws) == 0 {
		return nil
	}
	in.o.logf("%s: waiting up to %s for %d workload(s) to roll out", what, in.o.timeout, len(ws))
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, in.o.timeout)
	defer cancel()
	tick := time.NewTicker(in.o.poll)
	defer tick.Stop()
	logged := start
	var pending []notReady
	for {
		now, failed, err := in.check(wctx, ws)
		switch {
		case err == nil && len(failed) > 0:
			return in.failure(ctx, what, "failed", failed)
		case err == nil && len(now) == 0:
			in.o.logf("%s: %d workload(s) rolled out in %s", what, len(ws), time.Since(start).Round(time.Second))
			return nil
		case err == nil:
			pending = now
		}
		if time.Since(logged) >= logEvery {
			logged = time.Now()
			if err != nil {
				in.o.logf("%s: still waiting after %s; reading the workloads failed: %v", what, time.Since(start).Round(time.Second), err)
			} else {
				in.o.logf("%s: still waiting after %s for %s", what, time.Since(start).Round(time.Second), pendingList(pending))
			}
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return in.timedOut(ctx, what, ws, pending)
		case <-tick.C:
		}
	}
}

// timedOut reads the workloads once more, in a short time of its own,
// and reports those still not ready (pending, from the last full read,
// when this one fails).
func (in *Installer) timedOut(ctx context.Context, what string, ws []workload, pending []notReady) error {
	how := fmt.Sprintf("not ready after %s", in.o.timeout)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now, failed, err := in.check(cctx, ws)
	switch {
	case err != nil:
		return in.failure(ctx, what, fmt.Sprintf("%s (and reading them once more failed: %v)", how, err), pending)
	case len(failed)+len(now) == 0:
		return nil // it got there at the last moment
	}
	return in.failure(ctx, what, how, append(failed, now...))
}

// notReady is a workload and what its status says.
type notReady struct {
	w   workload
	obj *unstructured.Unstructured // nil when it is gone
	r   rollout
}

func (n notReady) String() string { return n.w.String() + ": " + n.r.why }

func pendingList(ns []notReady) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.String()
	}
	return strings.Join(s, "; ")
}

// check reads every workload once.
func (in *Installer) check(ctx context.Context, ws []workload) (pending, failed []notReady, err error) {
	for _, w := range ws {
		obj, err := in.dynamic.Resource(w.resource).Namespace(w.namespace).Get(ctx, w.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			pending = append(pending, notReady{w: w, r: rollout{why: "it does not exist"}})
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", w, err)
		}
		r := rolloutOf(w.kind, obj)
		switch {
		case r.failed:
			failed = append(failed, notReady{w: w, obj: obj, r: r})
		case !r.ready:
			pending = append(pending, notReady{w: w, obj: obj, r: r})
		}
	}
	return pending, failed, nil
}

// failure is the *Error of workloads that failed or are not ready, with
// their pods' problems, read within a short time of their own.
func (in *Installer) failure(ctx context.Context, what, how string, ns []notReady) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	e := &Error{What: what, Err: errors.New(how)}
	for _, n := range ns {
		e.Workloads = append(e.Workloads, n.String())
		e.Pods = append(e.Pods, in.diagnose(dctx, n)...)
	}
	return e
}
