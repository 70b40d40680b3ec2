package secrets

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// BenchmarkRedactorWriter measures masking compose's output (about 64 KiB of
// log-like lines) with 10, 100 and 1,000 known secret values.
func BenchmarkRedactorWriter(b *testing.B) {
	var text strings.Builder
	for i := 0; text.Len() < 64<<10; i++ {
		fmt.Fprintf(&text, " Container project-service-%d  Started (value-%d appears here)\n", i, i%50)
	}
	out := []byte(text.String())
	for _, n := range []int{10, 100, 1000} {
		values := make([]string, n)
		for i := range values {
			values[i] = fmt.Sprintf("value-%d", i)
		}
		r := NewRedactor(values...)
		b.Run(fmt.Sprintf("%d values", n), func(b *testing.B) {
			b.SetBytes(int64(len(out)))
			b.ReportAllocs()
			for b.Loop() {
				w := r.Writer(io.Discard)
				for i := 0; i < len(out); i += 4096 {
					w.Write(out[i:min(i+4096, len(out))])
				}
				w.Close()
			}
		})
	}
}

// BenchmarkRedactorAddAndFirstMessage is what run and export pay for the
// masker with 10,000 secrets: every value added (every fifth with quotes
// and a backslash, every tenth on two lines), then one message shown.
func BenchmarkRedactorAddAndFirstMessage(b *testing.B) {
	values := make([]string, 10000)
	for i := range values {
		v := fmt.Sprintf("secret-value-%06d-%s", i, strings.Repeat("x", 24+i%40))
		if i%5 == 0 {
			v = `p$a'ss"w\o#rd ` + v
		}
		if i%10 == 0 {
			v += "\nsecond line"
		}
		values[i] = v
	}
	b.ReportAllocs()
	for b.Loop() {
		r := NewRedactor()
		r.Add(values...)
		_ = r.String("10000 secrets from Infisical at infisical.example.com")
	}
}
