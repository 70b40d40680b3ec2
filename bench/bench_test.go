package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []float64
		want float64
	}{
		{"none", nil, 0},
		{"one", []float64{3}, 3},
		{"odd, unsorted", []float64{9, 1, 5}, 5},
		{"even takes the mean of the middle two", []float64{4, 1, 3, 2}, 2.5},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := append([]float64(nil), c.in...)
			if got := median(in); got != c.want {
				t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
			}
			if !reflect.DeepEqual(in, c.in) && c.in != nil {
				t.Errorf("median reordered its input: %v", in)
			}
		})
	}
}

func TestRoundsAlternateAndSkipWarmupTimings(t *testing.T) {
	var got []string
	err := rounds(1, 3, 2, func(tool int, timed bool) error {
		s := string(rune('a' + tool))
		if !timed {
			s = strings.ToUpper(s)
		}
		got = append(got, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A", "B", "b", "a", "a", "b", "b", "a"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestParseFlags(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"defaults", nil, true},
		{"markdown and runs", []string{"-runs", "3", "-markdown"}, true},
		{"zero runs", []string{"-runs", "0"}, false},
		{"unknown part", []string{"-parts", "ax"}, false},
		{"sizes out of order", []string{"-sizes", "1000,100"}, false},
		{"stray argument", []string{"now"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseFlags(c.args, new(strings.Builder))
			if (err == nil) != c.ok {
				t.Errorf("parseFlags(%q) error %v, want ok=%v", c.args, err, c.ok)
			}
		})
	}
}

func TestSecretValuesAreStableAndVaried(t *testing.T) {
	if secretValue(7) != secretValue(7) {
		t.Fatal("secretValue is not deterministic")
	}
	if !strings.Contains(secretValue(10), "\n") || !strings.Contains(secretValue(5), "$") {
		t.Error("the hostile shapes are missing")
	}
	for i := range 50 {
		if strings.Contains(secretValue(i), "BENCH_") {
			t.Fatalf("value %d could be mistaken for a key when the export is checked", i)
		}
	}
}

func TestBenchEnvDropsWhatWouldSkewTheFigures(t *testing.T) {
	env := benchEnv([]string{"PATH=/bin", "INFISICAL_TOKEN=x", "COMPOSE_FILE=y", "XDG_CACHE_HOME=z"}, "cache")
	want := []string{"PATH=/bin", "XDG_CACHE_HOME=cache", "NO_COLOR=1"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("benchEnv = %q, want %q", env, want)
	}
}
