// Package lint checks what parsing a stack manifest (package manifest)
// does not, without network: that every local file the manifest names
// exists and has the right shape (Check), and which values files and
// manifests look like templates without being marked so
// (TemplateWarnings). It also owns how a values file or manifest is read
// for those checks and for the build's image scan: rendered with sample
// site data when it is a template (ReadConfig). Problems come as a
// manifest.ErrorList, each placed at the line of the file it is in, or at
// the manifest line that names the file, with a fix.
package lint
