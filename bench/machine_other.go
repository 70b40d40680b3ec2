//go:build !linux

package main

import "runtime"

// hostFacts knows only the operating system outside Linux.
func hostFacts() (cpu string, memory int64, kernel string) { return "", 0, runtime.GOOS }

// loadAverage is unknown outside Linux.
func loadAverage() float64 { return -1 }
