package stack

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// manifestObject is one object of a component's manifests.
type manifestObject struct {
	object
	file string // the manifest's entry path
}

func (o manifestObject) String() string {
	name := o.obj.GetName()
	if ns := o.obj.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s document %d (%s %s)", o.file, o.doc, o.obj.GetKind(), name)
}

var crdKind = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}

// applyOrder is the order objects are applied in: CRDs, then Namespaces,
// then everything else, each in file order.
func applyOrder(o manifestObject) int {
	switch gk := o.obj.GroupVersionKind().GroupKind(); {
	case gk == crdKind:
		return 0
	case gk == schema.GroupKind{Kind: "Namespace"}:
		return 1
	}
	return 2
}

// ApplyManifests applies the manifests (entry paths of the bundle) of a
// component by server-side apply, as FieldManager with conflicts forced:
// every CustomResourceDefinition first, and it waits until they are
// Established; then the Namespaces; then every other object, in file
// order. Namespaced objects that name no namespace go to "default", as
// kubectl apply puts them. Then it waits for the workloads applied. Applying
// the same manifests again changes nothing. A failure is an *Error naming
// the manifest and document.
func (in *Installer) ApplyManifests(ctx context.Context, component string, paths []string) error {
	what := Step{Component: component}.What()
	objs, err := in.readManifests(paths)
	if err != nil {
		return &Error{What: what, Err: err}
	}
	sort.SliceStable(objs, func(i, j int) bool { return applyOrder(objs[i]) < applyOrder(objs[j]) })
	in.o.logf("%s: applying %d object(s) from %d file(s), server-side as %s", what, len(objs), len(paths), FieldManager)
	var crds []string
	var ws []workload
	for i, o := range objs {
		if err := in.apply(ctx, o); err != nil {
			return &Error{What: what, Err: err}
		}
		if applyOrder(o) == 0 {
			crds = append(crds, o.obj.GetName())
		}
		// Custom resources wait until their definitions are served.
		if len(crds) > 0 && (i == len(objs)-1 || applyOrder(objs[i+1]) > 0) {
			if err := in.waitEstablished(ctx, crds); err != nil {
				return &Error{What: what, Err: err}
			}
			crds = nil
		}
		if w, ok := workloadOf(o.obj, "default", o.file); ok {
			ws = append(ws, w)
		}
	}
	return in.wait(ctx, what, ws)
}

// readManifests reads and decodes the manifests, in order.
func (in *Installer) readManifests(paths []string) ([]manifestObject, error) {
	var out []manifestObject
	for _, p := range paths {
		data, err := in.read(p, "manifest", MaxManifestSize)
		if err != nil {
			return nil, err
		}
		objs, err := decodeObjects(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w; fix it in the stack and rebuild the bundle", p, err)
		}
		for _, o := range objs {
			mo := manifestObject{object: o, file: p}
			if o.obj.GetName() == "" {
				return nil, fmt.Errorf("%s has no metadata.name, which server-side apply needs; give it one in the stack and rebuild the bundle", mo)
			}
			out = append(out, mo)
		}
	}
	return out, nil
}

// apply server-side applies one object.
func (in *Installer) apply(ctx context.Context, o manifestObject) error {
	gvk := o.obj.GroupVersionKind()
	m, err := in.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		// A kind whose CRD an earlier step or file made: learn it.
		in.mapper.Reset()
		m, err = in.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if meta.IsNoMatchError(err) {
		return fmt.Errorf("%s: the cluster does not serve %s; its CustomResourceDefinition must come in an earlier manifest, an earlier file or an earlier release of the stack", o, gvk)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	obj := o.obj.DeepCopy()
	ri := in.dynamic.Resource(m.Resource)
	var res interface {
		Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (*unstructured.Unstructured, error)
	} = ri
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace("default")
			o.obj.SetNamespace("default")
		}
		res = ri.Namespace(obj.GetNamespace())
	} else {
		obj.SetNamespace("")
	}
	data, err := obj.MarshalJSON()
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	force := true
	if _, err := res.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: FieldManager, Force: &force}); err != nil {
		return fmt.Errorf("server-side apply of %s: %w", o, err)
	}
	return nil
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// waitEstablished waits until every CRD named is Established, then makes
// the RESTMapper learn their kinds.
func (in *Installer) waitEstablished(ctx context.Context, names []string) error {
	wctx, cancel := context.WithTimeout(ctx, in.o.timeout)
	defer cancel()
	for _, name := range names {
		for {
			obj, err := in.dynamic.Resource(crdResource).Get(wctx, name, metav1.GetOptions{})
			if err == nil {
				if c := condition(obj, "NamesAccepted"); c.status == "False" {
					return fmt.Errorf("CustomResourceDefinition %s: names not accepted: %s: %s", name, c.reason, c.message)
				}
				if condition(obj, "Established").status == "True" {
					break
				}
			}
			if err != nil && wctx.Err() == nil {
				return fmt.Errorf("CustomResourceDefinition %s: %w", name, err)
			}
			select {
			case <-wctx.Done():
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("CustomResourceDefinition %s is not Established after %s: see kubectl describe crd %s", name, in.o.timeout, name)
			case <-time.After(min(in.o.poll, 500*time.Millisecond)):
			}
		}
	}
	in.mapper.Reset()
	in.o.logf("CustomResourceDefinition(s) established: %v", names)
	return nil
}
