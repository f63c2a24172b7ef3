package labs

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func readREADME(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestREADMEExampleParses keeps the README's complete example a lab the
// parser accepts.
func TestREADMEExampleParses(t *testing.T) {
	readme := readREADME(t)
	start := strings.Index(readme, "\n```hcl\n")
	if start < 0 {
		t.Fatal("README.md has no ```hcl block")
	}
	body := readme[start+len("\n```hcl\n"):]
	end := strings.Index(body, "\n```\n")
	if end < 0 {
		t.Fatal("README.md: the first ```hcl block is not closed")
	}
	// Blank lines in front keep the errors' line numbers the README's.
	before := strings.Count(readme[:start+len("\n```hcl\n")], "\n")
	src := strings.Repeat("\n", before) + body[:end+1]
	// The first hcl block is the complete example, not a fragment.
	lab, err := Parse("example", "README.md", []byte(src))
	if err != nil {
		t.Fatalf("the README's first hcl block does not parse:\n%v", err)
	}
	if len(lab.Steps) == 0 {
		t.Fatal("the README's example has no steps")
	}
	for _, s := range lab.Steps {
		if len(s.Checks) == 0 {
			t.Errorf("the README's example: step %q has no checks", s.ID)
		}
	}
}

// TestREADMEDocumentsEveryCheckKind keeps the README's table of check
// kinds in step with checkKinds: one row per kind, whose attribute column
// names exactly the attributes the kind takes.
func TestREADMEDocumentsEveryCheckKind(t *testing.T) {
	readme := readREADME(t)
	code := regexp.MustCompile("`([a-z_]+)`")
	rows := map[string]string{}
	for _, line := range strings.Split(readme, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || strings.TrimSpace(cells[0]) != "" {
			continue
		}
		if m := code.FindStringSubmatch(strings.TrimSpace(cells[1])); m != nil && m[0] == strings.TrimSpace(cells[1]) {
			if _, ok := checkKinds[m[1]]; ok {
				rows[m[1]] = cells[2]
			}
		}
	}
	kinds := make([]string, 0, len(checkKinds))
	for k := range checkKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		if !strings.Contains(readme, "`"+kind+"`") {
			t.Errorf("README.md does not mention the check kind `%s`", kind)
		}
		row, ok := rows[kind]
		if !ok {
			t.Errorf("README.md has no table row | `%s` | <attributes> | ... |", kind)
			continue
		}
		var got []string
		for _, m := range code.FindAllStringSubmatch(row, -1) {
			got = append(got, m[1])
		}
		want := append([]string(nil), checkKinds[kind]...)
		sort.Strings(got)
		sort.Strings(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("README.md: check %q lists attributes %v, the parser takes %v", kind, got, want)
		}
		for _, attr := range checkKinds[kind] {
			if !strings.Contains(readme, "`"+attr+"`") {
				t.Errorf("README.md does not mention attribute `%s` of check %q", attr, kind)
			}
		}
	}
	// Every kind also takes wait, whose default the README states.
	if !strings.Contains(readme, "`wait`") {
		t.Error("README.md does not document the check attribute `wait`")
	}
	if def := fmt.Sprintf("%.0fs", DefaultCheckWait.Seconds()); !regexp.MustCompile(`\b` + def + `\b`).MatchString(readme) {
		t.Errorf("README.md does not give the default wait, %s", def)
	}
}
