//go:build !race

package cruxdtest

const raceEnabled = false
