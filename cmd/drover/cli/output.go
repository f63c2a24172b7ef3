package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"

	"github.com/hashicorp/nomad/api"

	"github.com/spf13/cobra"
)

// outputFlags are -json and -t, which every status, list and inspect
// command takes: the data the command shows, as JSON or through a Go
// template, instead of its tables.
type outputFlags struct {
	json     bool
	template string
}

func (o *outputFlags) register(c *cobra.Command, what string) {
	c.Flags().BoolVar(&o.json, "json", false, "print "+what+" as JSON")
	c.Flags().StringVarP(&o.template, "t", "t", "", "print "+what+" through this Go template")
}

// active reports whether the output is JSON or a template.
func (o *outputFlags) active() bool { return o.json || o.template != "" }

// check refuses both at once, as the compatible CLI does.
func (o *outputFlags) check() error {
	if o.json && o.template != "" {
		return fail(1, "Both json and template formatting are not allowed")
	}
	return nil
}

// print writes v as indented JSON or through the template.
func (o *outputFlags) print(s *streams, v interface{}) error {
	if err := o.check(); err != nil {
		return err
	}
	out, err := o.format(v)
	if err != nil {
		return fail(1, "Error formatting the data: %v", err)
	}
	fmt.Fprintln(s.Out, out)
	return nil
}

func (o *outputFlags) format(v interface{}) (string, error) {
	if o.template == "" {
		b, err := json.MarshalIndent(v, "", "    ")
		return string(b), err
	}
	t, err := template.New("format").Parse(o.template)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// printRaw prints a JSON document as the agent sent it: indented, or
// decoded and put through the template, which then sees every field,
// Drover's additions included.
func (o *outputFlags) printRaw(s *streams, raw []byte) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.template == "" {
		var b bytes.Buffer
		if err := json.Indent(&b, bytes.TrimSpace(raw), "", "    "); err != nil {
			return fail(1, "Error formatting the data: %v", err)
		}
		fmt.Fprintln(s.Out, b.String())
		return nil
	}
	var v interface{}
	if err := json.Unmarshal(raw, &v); err != nil {
		return fail(1, "Error formatting the data: %v", err)
	}
	return o.print(s, v)
}

// printNextPage tells how to get the next page of a paginated list: the
// same command line (else the command's path) with -page-token.
func (s *streams) printNextPage(token string, path ...string) {
	if token == "" {
		return
	}
	fmt.Fprintf(s.Out, "\nResults have been paginated. To get the next page run:\n\n%s -page-token %s\n",
		strings.Join(withoutPageToken(s.commandLine(path...)), " "), token)
}

// commandLine is the command as the user typed it, program name first;
// fallback is the command's path when the typed form is unknown.
func (s *streams) commandLine(fallback ...string) []string {
	if s.args == nil {
		return append([]string{"drover"}, fallback...)
	}
	return append([]string{"drover"}, s.args...)
}

// withoutPageToken drops -page-token and its value (in any of its
// spellings) from a command line, so that the next page's command can
// add its own.
func withoutPageToken(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if strings.HasPrefix(args[i], "-") && name == "page-token" {
			if !hasValue {
				i++
			}
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// printJSON prints v as indented JSON, as -json does everywhere.
func printJSON(s *streams, v interface{}) error {
	o := outputFlags{json: true}
	return o.print(s, v)
}

// printJobJSON prints a job as the API takes it: {"Job": {...}}.
func printJobJSON(s *streams, job *api.Job) error {
	return printJSON(s, struct{ Job *api.Job }{job})
}
