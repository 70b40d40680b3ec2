package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter22-value")
	for _, f := range []string{"%v", "%s", "%q", "%+v", "%#v", "%x"} {
		out := fmt.Sprintf(f, s)
		if strings.Contains(out, "hunter22") || strings.Contains(out, fmt.Sprintf("%x", "hunter22-value")) {
			t.Errorf("%s shows the value: %s", f, out)
		}
	}
	type config struct{ Token Secret }
	if out := fmt.Sprintf("%+v %#v", config{"hunter22-value"}, config{"hunter22-value"}); strings.Contains(out, "hunter22") {
		t.Errorf("a struct holding a Secret shows it: %s", out)
	}
}

func TestMergeInfisicalWins(t *testing.T) {
	r := Merge(map[string]string{"A": "from-file", "HOST": "db", "DB_PASSWORD": "file-pass"},
		map[string]string{"A": "from-infisical", "TOKEN": "tok-value"})
	if r.Values["A"] != "from-infisical" || r.Origin["A"] != FromRemote {
		t.Errorf("A = %q from %s; Infisical must win", r.Values["A"], r.Origin["A"])
	}
	if r.Values["HOST"] != "db" || r.Origin["HOST"] != FromEnvFile {
		t.Errorf("a non-secret .env setting was lost")
	}
	for _, v := range []string{"from-infisical", "tok-value", "file-pass"} {
		if !slices.Contains(r.Masked, v) {
			t.Errorf("a secret value is not masked")
		}
	}
	if slices.Contains(r.Masked, "db") {
		t.Errorf("a plain setting is masked")
	}
	if r.FromRemoteCount() != 2 {
		t.Errorf("FromRemoteCount = %d", r.FromRemoteCount())
	}
}

func TestComposeEnv(t *testing.T) {
	shell := []string{"PATH=/bin", "HOME=/home/u", "A=stale-shell", "KEEP=1", "COMPOSE_PROFILES=gpu", "COMPOSE_FILE=x.yml"}
	supplied := map[string]string{"A": "fresh", "HOME": "/evil", "NEW": "n"}

	env, skipped := ComposeEnv(shell, supplied, ViaFile)
	m := EnvMap(env)
	if _, ok := m["A"]; ok {
		t.Errorf("a stale shell value of a supplied key stays in compose's environment, where it would win over --env-file")
	}
	if m["HOME"] != "/home/u" || m["PATH"] != "/bin" || m["KEEP"] != "1" {
		t.Errorf("the shell's own settings must stay: %v", m)
	}
	if m["COMPOSE_PROFILES"] != "" || m["COMPOSE_FILE"] != "" {
		t.Errorf("COMPOSE_* from the shell must not steer compose: %v", m)
	}
	if _, ok := m["NEW"]; ok {
		t.Errorf("with the file channel, values do not go into the environment")
	}
	if !slices.Equal(skipped, []string{"HOME"}) {
		t.Errorf("skipped = %v, want [HOME]", skipped)
	}

	env, _ = ComposeEnv(shell, supplied, ViaEnv)
	m = EnvMap(env)
	if m["A"] != "fresh" || m["NEW"] != "n" || m["HOME"] != "/home/u" {
		t.Errorf("with the env channel supplied values win, reserved ones do not: %v", m)
	}
}

func TestRedactorWriterMasksAcrossWrites(t *testing.T) {
	r := NewRedactor("s3cr3t-value", "abc", "multi\nline-secret")
	var out bytes.Buffer
	w := r.Writer(&out)
	for _, chunk := range []string{"first s3cr", "3t-value here\nsecond abc line ", "line-secret\n", "tail s3cr3t-val", "ue"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.Contains(got, "s3cr3t") || strings.Contains(got, "line-secret") {
		t.Errorf("a value leaked: %q", got)
	}
	if !strings.Contains(got, "abc") {
		t.Errorf("values shorter than %d characters are not masked: %q", MinMasked, got)
	}
	if strings.Count(got, Mask) != 3 {
		t.Errorf("want 3 masks in %q", got)
	}
}

func TestRedactorLongLineWithoutNewline(t *testing.T) {
	secret := "the-secret-value-0123456789"
	r := NewRedactor(secret)
	var out bytes.Buffer
	w := r.Writer(&out)
	line := strings.Repeat("x", 70<<10-5) + secret + strings.Repeat("y", 1000)
	for i := 0; i < len(line); i += 333 {
		w.Write([]byte(line[i:min(i+333, len(line))]))
	}
	w.Close()
	if strings.Contains(out.String(), "secret-value") || out.Len() != len(line)-len(secret)+len(Mask) {
		t.Errorf("long line not masked exactly (len %d)", out.Len())
	}
}

func TestCreateFileMode(t *testing.T) {
	for _, umask := range []int{0, 0o022, 0o077, 0o277} {
		t.Run(fmt.Sprintf("umask %03o", umask), func(t *testing.T) {
			old := syscall.Umask(umask)
			defer syscall.Umask(old)
			path := filepath.Join(t.TempDir(), FileName)
			remove, err := CreateFile(path, []byte("K=\"v\"\n"))
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", st.Mode().Perm())
			}
			if err := remove(); err != nil {
				t.Fatal(err)
			}
			if err := remove(); err != nil {
				t.Errorf("second remove: %v", err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("file still there")
			}
		})
	}
}

func TestCreateFileRefusesExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	os.WriteFile(path, []byte("mine"), 0o644)
	if _, err := CreateFile(path, []byte("x")); err == nil {
		t.Fatal("overwrote an existing file")
	}
	if b, _ := os.ReadFile(path); string(b) != "mine" {
		t.Error("existing file changed")
	}
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if removed, err := RemoveStale(path); removed || err != nil {
		t.Fatalf("no file: %v %v", removed, err)
	}
	var b bytes.Buffer
	for _, h := range Header() {
		b.WriteString("# " + h + "\n")
	}
	b.WriteString("K=\"v\"\n")
	os.WriteFile(path, b.Bytes(), 0o600)
	if removed, err := RemoveStale(path); !removed || err != nil {
		t.Fatalf("left by a killed run: %v %v", removed, err)
	}
	os.WriteFile(path, []byte("K=v\n"), 0o600)
	if removed, err := RemoveStale(path); removed || err == nil {
		t.Fatalf("a user's file must be kept and reported: %v %v", removed, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("user's file removed")
	}
}

func TestLooksSecret(t *testing.T) {
	for key, want := range map[string]bool{
		"POSTGRES_PASSWORD": true, "JWT_SECRET": true, "ANON_KEY": true, "N8N_ENCRYPTION_KEY": true,
		"LANGFUSE_SALT": true, "NEO4J_AUTH": true, "LOGFLARE_PRIVATE_ACCESS_TOKEN": true,
		"N8N_HOSTNAME": false, "POSTGRES_PORT": false, "SITE_URL": false, "OLLAMA_KV_CACHE_TYPE": false,
	} {
		if got := LooksSecret(key, "x"); got != want {
			t.Errorf("LooksSecret(%s) = %v", key, got)
		}
	}
	if !LooksSecret("DATABASE_URL", "postgres://user:pw@db/x") || LooksSecret("DATABASE_URL", "postgres://db/x") {
		t.Errorf("a URL with a password is a secret, one without is not")
	}
}

func TestReadEnvFileResolvesAsComposeWill(t *testing.T) {
	data := []byte("OWN=file\nA=${OWN}\nB=${FROM_SHELL}\nC=${OVERRIDDEN}\nOVERRIDDEN=file-value\nD=${HOME}\n")
	shell := map[string]string{"FROM_SHELL": "shell", "OWN": "stale-shell", "OVERRIDDEN": "stale-shell", "HOME": "/home/u"}
	remote := map[string]string{"OVERRIDDEN": "remote", "HOME": "/evil"}
	got, err := ReadEnvFile(".env", data, shell, remote)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"A": "file",    // the file's own key: compose's environment will not hold the shell's
		"B": "shell",   // only the shell has it
		"C": "remote",  // Infisical wins, even over a later line
		"D": "/home/u", // reserved names resolve to the shell's, always
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

// TestRemoveStaleNeverBlocksNorFollows puts at the hand-over file's name what
// startsvc never writes there — a named pipe no one writes to, a symbolic link
// to a file that carries the marker, a folder — and checks that RemoveStale
// returns at once with an error naming what it found, and touches nothing.
func TestRemoveStaleNeverBlocksNorFollows(t *testing.T) {
	marked := filepath.Join(t.TempDir(), "marked")
	os.WriteFile(marked, []byte("# "+Header()[0]+"\n"), 0o600)
	for _, c := range []struct {
		name, want string
		make       func(path string) error
	}{
		{"named pipe", "named pipe", func(p string) error { return syscall.Mkfifo(p, 0o600) }},
		{"symbolic link to a marked file", "symbolic link", func(p string) error { return os.Symlink(marked, p) }},
		{"folder", "folder", func(p string) error { return os.Mkdir(p, 0o700) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			if err := c.make(path); err != nil {
				t.Fatal(err)
			}
			type result struct {
				removed bool
				err     error
			}
			done := make(chan result, 1)
			go func() { r, err := RemoveStale(path); done <- result{r, err} }()
			var r result
			select {
			case r = <-done:
			case <-time.After(time.Minute):
				t.Fatal("RemoveStale blocked")
			}
			if r.removed || r.err == nil || !strings.Contains(r.err.Error(), c.want) || !strings.Contains(r.err.Error(), path) {
				t.Errorf("RemoveStale = %v, %v; want an error naming the %s and the path", r.removed, r.err, c.want)
			}
			if _, err := os.Lstat(path); err != nil {
				t.Errorf("what was there is gone: %v", err)
			}
			if _, err := os.Stat(marked); err != nil {
				t.Errorf("the link's target is gone: %v", err)
			}
		})
	}
}

// TestReadFileRefusesPipes reads a named pipe no one writes to: ReadFile
// must return at once with an error, where os.ReadFile waits for ever.
func TestReadFileRefusesPipes(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, ".env")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadFile(fifo, MaxEnvFile); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "named pipe") {
			t.Errorf("ReadFile(pipe) = %v, want an error saying it is a named pipe", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("ReadFile blocked on a named pipe")
	}
	link := filepath.Join(dir, "link.env")
	os.WriteFile(filepath.Join(dir, "real.env"), []byte("A=1\n"), 0o600)
	os.Symlink("real.env", link)
	if data, err := ReadFile(link, MaxEnvFile); err != nil || string(data) != "A=1\n" {
		t.Errorf("an env file that is a link must be read: %q, %v", data, err)
	}
	if _, err := ReadFile(filepath.Join(dir, "none"), MaxEnvFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

// TestWithoutPath checks that an error wrapped with its path keeps the cause
// and names the path once.
func TestWithoutPath(t *testing.T) {
	path := "/stack/.env.infisical"
	err := fmt.Errorf("write %s: %w", path, WithoutPath(&fs.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}))
	if strings.Count(err.Error(), path) != 1 || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("%v: want the path once and ENOSPC kept", err)
	}
	err = fmt.Errorf("replace %s: %w", path, WithoutPath(&os.LinkError{Op: "rename", Old: path + ".tmp", New: path, Err: syscall.ENOSPC}))
	if strings.Count(err.Error(), path) != 1 {
		t.Errorf("%v: want the path once", err)
	}
}

func TestCheckEnv(t *testing.T) {
	big := strings.Repeat("x", MaxEnvEntry)
	err := CheckEnv([]string{"SMALL=1", "BIG_CERT=" + big})
	if err == nil || !strings.Contains(err.Error(), "BIG_CERT") || strings.Contains(err.Error(), "xxxx") {
		t.Errorf("CheckEnv with a value over the kernel's limit: %v; want an error naming BIG_CERT, not its value", err)
	}
	if CheckEnv([]string{"FITS=" + big[:MaxEnvEntry-len("FITS=")-1]}) != nil {
		t.Errorf("a variable of exactly the limit was refused")
	}
	err = CheckComposeEnv(ViaEnv, []string{"BIG_CERT=" + big})
	if err == nil || !strings.Contains(err.Error(), "--secrets-via file") {
		t.Errorf("CheckComposeEnv: %v; want the advice to use --secrets-via file", err)
	}
	if err := CheckComposeEnv(ViaFile, []string{"BIG_CERT=" + big}); err != nil {
		t.Errorf("through a file the size does not matter: %v", err)
	}
	if limit := argLimit(); limit > 0 {
		var many []string
		for i := 0; i*1024 < limit; i++ {
			many = append(many, fmt.Sprintf("K%05d=%s", i, big[:1000]))
		}
		if err := CheckEnv(many); err == nil || !strings.Contains(err.Error(), "in all") {
			t.Errorf("an environment over the total limit: %v", err)
		}
	}
}

func TestResolvedSource(t *testing.T) {
	r := Merge(map[string]string{"HOME": "/x", "A": "1"}, map[string]string{"PATH": "/evil", "A": "2"})
	for k, want := range map[string]string{"HOME": ".env", "PATH": "Infisical", "A": "Infisical"} {
		if got := r.Source(k, ".env"); got != want {
			t.Errorf("Source(%s) = %s, want %s", k, got, want)
		}
	}
}

// TestRedactorMasksEscapedForms prints values the ways compose, the Engine
// and programs print them — Go's %q and %+q, JSON with and without HTML
// escaping, inside longer strings — and checks that none shows.
func TestRedactorMasksEscapedForms(t *testing.T) {
	values := []string{"tab\there-value", `quote"and\backslash`, "ctl\x01\x7fbytes", "ünïcode-välue", "<html>&amp;-value", "line one\nline two"}
	r := NewRedactor(values...)
	for _, v := range values {
		var js, jsHTML bytes.Buffer
		enc := json.NewEncoder(&js)
		enc.SetEscapeHTML(false)
		enc.Encode(map[string]string{"msg": "exec: /x-" + v})
		json.NewEncoder(&jsHTML).Encode(map[string]string{"msg": "exec: /x-" + v})
		for name, out := range map[string]string{
			"%q":              fmt.Sprintf("exec: %q: stat failed", "/x-"+v),
			"%+q":             fmt.Sprintf("exec: %+q: stat failed", "/x-"+v),
			"JSON":            js.String(),
			"JSON, HTML-safe": jsHTML.String(),
		} {
			masked := r.String(out)
			for _, word := range regexp.MustCompile(`[a-z]{4,}`).FindAllString(v, -1) {
				if strings.Contains(masked, word) {
					t.Errorf("value %d printed as %s still shows %q after masking", slices.Index(values, v), name, word)
				}
			}
		}
	}
}
