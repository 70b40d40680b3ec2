package compose

import "testing"

// TestCheckKeyBothSides pins which names the env-file writer accepts — exactly
// those compose-go's parser reads back as the same key — and which it refuses.
func TestCheckKeyBothSides(t *testing.T) {
	for _, key := range []string{"A", "_X", "K1", "lower_case", "spring.datasource.url", "with-dash", "A1_B2"} {
		t.Run("accepts "+key, func(t *testing.T) {
			if err := CheckKey(key); err != nil {
				t.Fatalf("CheckKey: %v", err)
			}
			vals := map[string]string{key: "v"}
			data, err := FormatEnv(vals)
			if err != nil {
				t.Fatalf("FormatEnv: %v", err)
			}
			if err := VerifyEnv(data, vals); err != nil {
				t.Errorf("an accepted key does not read back: %v", err)
			}
		})
	}
	for _, key := range []string{"", "1KEY", "9", "MY KEY", "A=B", "A$B", "A\"B", "#A", "export", "KÉY"} {
		t.Run("refuses "+key, func(t *testing.T) {
			if err := CheckKey(key); err == nil {
				t.Errorf("CheckKey accepted %q", key)
			}
		})
	}
}
