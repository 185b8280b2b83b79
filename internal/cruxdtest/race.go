//go:build race

package cruxdtest

const raceEnabled = true
