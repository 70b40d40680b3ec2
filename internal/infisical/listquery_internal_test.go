package infisical

import "testing"

// TestListQueryIsExplicit pins the listing's query string: every option the
// server reads is spelled out, with both spellings of the imports switch,
// because defaults and spellings differ between server versions. A query that
// merely has the right names (include_imports=false, say) would list without
// imports on the versions that read that spelling.
func TestListQueryIsExplicit(t *testing.T) {
	o := ListOptions{ProjectID: "proj-7f3a", Environment: "dev", SecretPath: "/apps/web"}
	for _, tc := range []struct {
		name      string
		v3        bool
		recursive bool
		want      string
	}{
		{"v4", false, false, "environment=dev&expandSecretReferences=true&includeImports=true&include_imports=true&projectId=proj-7f3a&recursive=false&secretPath=%2Fapps%2Fweb&viewSecretValue=true"},
		{"v4 recursive", false, true, "environment=dev&expandSecretReferences=true&includeImports=true&include_imports=true&projectId=proj-7f3a&recursive=true&secretPath=%2Fapps%2Fweb&viewSecretValue=true"},
		{"v3", true, false, "environment=dev&expandSecretReferences=true&includeImports=true&include_imports=true&recursive=false&secretPath=%2Fapps%2Fweb&workspaceId=proj-7f3a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := o
			o.Recursive = tc.recursive
			if got := listQuery(o, tc.v3).Encode(); got != tc.want {
				t.Errorf("query\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}
