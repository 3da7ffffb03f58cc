//go:build race

package siteserver

// raceEnabled: the race detector multiplies memory use, so the load test
// does not hold the server to the RSS limit under it.
const raceEnabled = true
