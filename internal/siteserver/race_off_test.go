//go:build !race

package siteserver

const raceEnabled = false
