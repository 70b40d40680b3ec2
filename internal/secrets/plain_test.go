package secrets

import "testing"

// TestShouldMask is the masking policy: .env and shell values are masked
// unless plainly settings. The secrets under innocent names come from real
// formats (webhook URLs, DSNs, tokens, generated keys); the settings from the
// shipped stack's .env.example.
func TestShouldMask(t *testing.T) {
	secretsUnderInnocentNames := map[string]string{
		"SLACK_WEBHOOK":      "https://hooks.slack.com/services/T0/B0/xyz",
		"SLACK_WEBHOOK_REAL": "https://hooks.slack.com/services/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",
		"SENTRY_DSN":         "https://key@o1.ingest.sentry.io/1",
		"SENTRY_DSN_REAL":    "https://5f4dcc3b5aa765d61d8327deb882cf99@o450000.ingest.sentry.io/5500000",
		"DATABASE_URL":       "postgres://app:hunter2@db:5432/app",
		"CALLBACK":           "https://example.com/hook?sig=abcdef",
		"ORG_UUID":           "550e8400-e29b-41d4-a716-446655440000",
		"HEX":                "5f4dcc3b5aa765d61d8327deb882cf99",
		"BASE64":             "aGVsbG8gd29ybGQgdGhpcyBpcw==",
		"WORDY":              "qzxkvbnmwrtplkjh",
		"PIN_LIKE":           "4111111111111111",
		"QUOTED":             `a"b\c`,
		"CAMEL":              "sk_live_AbCdEf",
		"URL_PATH_TOKEN":     "/hooks/Zx81Kq02LmPq77Aa91Rt",
	}
	for k, v := range secretsUnderInnocentNames {
		if !ShouldMask(k, v) {
			t.Errorf("%s: not masked", k)
		}
	}
	settings := map[string]string{
		"POSTGRES_DB": "postgres", "POSTGRES_PORT": "5432", "SITE_URL": "http://localhost:3000",
		"API_EXTERNAL_URL": "http://localhost:8000/auth/v1", "STUDIO_DEFAULT_ORGANIZATION": "Default Organization",
		"PGRST_DB_SCHEMAS": "public,storage,graphql_public", "SMTP_ADMIN_EMAIL": "admin@example.com",
		"SMTP_HOST": "supabase-mail", "DOCKER_SOCKET_LOCATION": "/var/run/docker.sock", "DISABLE_SIGNUP": "false",
		"N8N_HOSTNAME": "n8n.yourdomain.com", "IMAGE": "n8nio/n8n:latest", "MEMORY": "512m", "TIMEOUT": "100ms",
		"LISTEN": "0.0.0.0:8080", "LOG_LEVEL": "DEBUG", "TZ_NAME": "UTC", "VERSION": "15.1.0.147",
		"ARCH": "x86_64", "CHARSET": "utf8mb4", "DATA": "./volumes/db/data", "AUTHENTICATION_MODE": "authentication",
		"GOCACHE": "/root/.cache/go-build",
	}
	for k, v := range settings {
		if ShouldMask(k, v) {
			t.Errorf("%s=%s: masked, but it is plainly a setting", k, v)
		}
	}
	// A name that says secret masks whatever the value.
	if !ShouldMask("POSTGRES_PASSWORD", "postgres") {
		t.Errorf("a secret name's plain value must be masked")
	}
}

func TestMaskedEnv(t *testing.T) {
	got := MaskedEnv([]string{"SLACK_WEBHOOK=https://hooks.slack.com/services/T0/B0/xyz", "PATH=/usr/bin:/bin",
		"HOME=/root/Secret9xQ2mP0wZ7aB3cD5eF1gH", "LANG=C.UTF-8", "PLAIN=localhost", "COMPOSE_PROFILES=x-Y9zQ"})
	if len(got) != 1 || got[0] != "https://hooks.slack.com/services/T0/B0/xyz" {
		t.Errorf("MaskedEnv = %d values, want the webhook only", len(got))
	}
	// The project's name is printed everywhere; a shell variable that holds
	// it (a script's PROJECT=…) must not blank it out.
	if got := MaskedEnv([]string{"PROJECT=sst-9f3a3893"}, "sst-9f3a3893"); len(got) != 0 {
		t.Errorf("the project's name is masked")
	}
}
