package health

import (
	"sort"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"
)

// OneShots lists, sorted, the services of the loaded project p that are meant
// to run to completion: those labelled LabelOneShot "true", and those another
// service waits for with condition service_completed_successfully (compose's
// own sign of a job). Pass them as Scope.OneShot; the label alone would also
// be seen on the containers.
func OneShots(p *types.Project) []string {
	set := map[string]bool{}
	for _, services := range []types.Services{p.Services, p.DisabledServices} {
		for name, s := range services {
			if b, err := strconv.ParseBool(s.Labels[LabelOneShot]); err == nil && b {
				set[name] = true
			}
			for dep, d := range s.DependsOn {
				if d.Condition == types.ServiceConditionCompletedSuccessfully {
					set[dep] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for name := range set {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
