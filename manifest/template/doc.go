// Package template owns the language of a stack's template files (values
// files, manifests and files marked template: true): Go text/template with
// strict missing keys and the functions of Funcs, executed by Render within
// bounds on the work (MaxTemplateRange, MaxTemplateSteps,
// MaxTemplateString, MaxTemplateBytes, RenderTimeout; a limit hit is a
// *LimitError), and checked without data by Check. Data is what a template
// sees at the site (deploy fills it from the inventory); SampleData is the
// placeholder site that lint and bundle build render with before any site
// exists. Render is safe to call concurrently.
package template
