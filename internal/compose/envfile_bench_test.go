package compose

import (
	"fmt"
	"testing"
)

func benchValues(n int) map[string]string {
	vals := make(map[string]string, n)
	for i := 0; i < n; i++ {
		vals[fmt.Sprintf("SECRET_%05d", i)] = fmt.Sprintf("v$%d\"quoted\"\\path\nline two %x", i, i*7919)
	}
	return vals
}

// BenchmarkFormatEnv measures writing an env file of n hostile values.
func BenchmarkFormatEnv(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		vals := benchValues(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := FormatEnv(vals); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFormatAndVerifyEnv measures what startsvc does before compose runs:
// write, then re-read with compose-go's parser and compare.
func BenchmarkFormatAndVerifyEnv(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		vals := benchValues(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := FormatEnv(vals)
				if err != nil {
					b.Fatal(err)
				}
				if err := VerifyEnv(data, vals); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
