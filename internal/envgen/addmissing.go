package envgen

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/startsvc/startsvc/internal/compose"
)

// Added reports what AddMissing appended. Nothing in it is secret.
type Added struct {
	// Keys are the keys of .env.example the env file lacked, in
	// .env.example's order: every one was appended.
	Keys []string
	// Generated are those of Keys that got a new random value (the secrets
	// Keys() lists), sorted; the others got .env.example's value.
	Generated []string
}

// AddMissing returns env, an existing env file, with the assignments of
// example (a .env.example) whose keys env lacks appended at its end - each
// with the comment lines right above it in example - and the values of the
// secrets among them (see Keys) replaced by fresh ones read from random, as
// Generate makes them. A missing ANON_KEY or SERVICE_ROLE_KEY is signed with
// the JWT_SECRET env already has, so that it matches the keys the stack
// already uses; when env has none, with the one added.
//
// env itself is never changed: the result begins with env, byte for byte (a
// last line without an end of line gets one). When env lacks no key, the
// result is env unchanged and Added is empty. The result is checked by
// re-reading it with compose's env-file parser: every key of env must read as
// before, every generated value as generated. Errors name keys, never values.
func AddMissing(env, example []byte, random io.Reader, now time.Time) ([]byte, Added, error) {
	have, err := compose.ParseEnv(".env", env, nil)
	if err != nil {
		return nil, Added{}, err
	}
	var res Added
	var blocks [][]line // per missing key: its comment lines, then its assignment
	values := map[string]string{}
	seen := map[string]bool{}
	var doc []line
	for _, l := range splitLines(example) {
		trimmed := bytes.TrimSpace(l.text)
		switch {
		case len(trimmed) == 0:
			doc = nil
			continue
		case trimmed[0] == '#':
			doc = append(doc, l)
			continue
		}
		m := assignment.FindSubmatch(l.text)
		comment := doc
		doc = nil
		if m == nil {
			continue
		}
		k := string(m[2])
		if _, ok := have[k]; ok || seen[k] {
			continue
		}
		seen[k] = true
		res.Keys = append(res.Keys, k)
		blocks = append(blocks, append(append([]line(nil), comment...), l))
	}
	if len(res.Keys) == 0 {
		return env, res, nil
	}

	for _, k := range res.Keys {
		if gen, ok := secrets[k]; ok {
			v, err := gen(random)
			if err != nil {
				return nil, Added{}, fmt.Errorf("generate %s: %w", k, err)
			}
			values[k] = v
		}
	}
	for _, k := range res.Keys {
		role, ok := apiKeys[k]
		if !ok {
			continue
		}
		secret := have["JWT_SECRET"]
		if _, had := have["JWT_SECRET"]; !had {
			secret = values["JWT_SECRET"]
		}
		if secret == "" {
			return nil, Added{}, fmt.Errorf("generate %s: JWT_SECRET is empty, so %s cannot be signed with it; set JWT_SECRET first", k, k)
		}
		v, err := SignHS256(Claims{Role: role, Issuer: "supabase", IssuedAt: now.Unix(), Expires: now.Add(KeyLifetime).Unix()}, secret)
		if err != nil {
			return nil, Added{}, fmt.Errorf("generate %s: %w", k, err)
		}
		values[k] = v
	}
	res.Generated = sortedKeys(values)

	eol := []byte("\n")
	if bytes.Contains(env, []byte("\r\n")) {
		eol = []byte("\r\n")
	}
	var out bytes.Buffer
	out.Write(env)
	if len(env) > 0 && !bytes.HasSuffix(env, []byte("\n")) {
		out.Write(eol)
	}
	out.Write(eol)
	fmt.Fprintf(&out, "# Added by startsvc init --add-missing on %s: the keys of .env.example this file lacked.", now.UTC().Format("2006-01-02"))
	out.Write(eol)
	for _, b := range blocks {
		if len(b) > 1 {
			out.Write(eol)
		}
		for _, l := range b[:len(b)-1] {
			out.Write(l.text)
			out.Write(eol)
		}
		l := b[len(b)-1]
		m := assignment.FindSubmatch(l.text)
		if v, ok := values[string(m[2])]; ok {
			out.Write(m[1])
			out.Write(m[2])
			out.WriteByte('=')
			out.WriteString(quote(v))
		} else {
			out.Write(l.text)
		}
		out.Write(eol)
	}

	after, err := compose.ParseEnv(".env with the added keys", out.Bytes(), nil)
	if err != nil {
		return nil, Added{}, err
	}
	for k, v := range have {
		if got, ok := after[k]; !ok || got != v {
			return nil, Added{}, fmt.Errorf("adding keys: %q no longer reads as before", k)
		}
	}
	for _, k := range res.Keys {
		if _, ok := after[k]; !ok {
			return nil, Added{}, fmt.Errorf("adding keys: %q does not read back", k)
		}
		if v, gen := values[k]; gen && after[k] != v {
			return nil, Added{}, fmt.Errorf("adding keys: %q does not read back as generated", k)
		}
	}
	if len(after) != len(have)+len(res.Keys) {
		return nil, Added{}, fmt.Errorf("adding keys: the result defines other keys than the env file and the %d added", len(res.Keys))
	}
	return out.Bytes(), res, nil
}
