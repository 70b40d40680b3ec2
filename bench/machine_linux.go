package main

import (
	"bufio"
	"os"
	"strings"
	"syscall"
)

// loadAverage is the one-minute load average, or -1 when unknown.
func loadAverage() float64 {
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) != nil {
		return -1
	}
	return float64(si.Loads[0]) / (1 << 16)
}

// hostFacts reads the CPU model, the total memory and the kernel release.
func hostFacts() (cpu string, memory int64, kernel string) {
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		memory = int64(si.Totalram) * int64(si.Unit)
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		var b strings.Builder
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			b.WriteByte(byte(c))
		}
		kernel = "Linux " + b.String()
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return cpu, memory, kernel
}
