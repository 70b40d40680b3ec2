package infisical

import (
	"os"
	"strings"

	"github.com/startsvc/startsvc/internal/compose"
)

// settingGroups are the variables ResolveSettings reads, grouped by the
// setting they give: a setting comes whole from one place.
var settingGroups = func() [][]string {
	creds := append([]string(nil), tokenVariables...)
	for _, p := range credentialPairs {
		creds = append(creds, p[0], p[1])
	}
	return [][]string{urlVariables, {"INFISICAL_PROJECT_ID"}, creds}
}()

// EnvFileGetenv returns a getenv for ResolveSettings that also reads
// Infisical's settings from the stack's env file at path — where `startsvc
// infisical setup` records them — read as compose reads it, with references
// resolved through getenv. The process environment wins, and a setting it
// gives wins whole: when it sets any variable of the server URL, the project
// or the credentials, that setting's variables are not taken from the file,
// so a client id from one place is never paired with a secret from another.
// Every other name reads getenv. A file that does not exist, or that cannot
// be read or parsed, adds nothing: the commands' own check of the env file
// reports that.
func EnvFileGetenv(getenv func(string) string, path string) func(string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return getenv
	}
	vals, err := compose.ParseEnv(path, data, func(k string) (string, bool) {
		v := getenv(k)
		return v, v != ""
	})
	if err != nil {
		return getenv
	}
	fromFile := map[string]string{}
	for _, group := range settingGroups {
		given := false
		for _, k := range group {
			given = given || strings.TrimSpace(getenv(k)) != ""
		}
		if given {
			continue
		}
		for _, k := range group {
			if v, ok := vals[k]; ok {
				fromFile[k] = v
			}
		}
	}
	if len(fromFile) == 0 {
		return getenv
	}
	return func(k string) string {
		if v, ok := fromFile[k]; ok {
			return v
		}
		return getenv(k)
	}
}
