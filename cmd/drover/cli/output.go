package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"

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
// same command line with -page-token.
func (s *streams) printNextPage(token string) {
	if token == "" {
		return
	}
	args := []string{"drover"}
	for i := 0; i < len(s.args); i++ {
		a := strings.TrimLeft(s.args[i], "-")
		if a == "page-token" {
			i++ // and its value
			continue
		}
		if strings.HasPrefix(a, "page-token=") {
			continue
		}
		args = append(args, s.args[i])
	}
	fmt.Fprintf(s.Out, "\nResults have been paginated. To get the next page run:\n\n%s -page-token %s\n", strings.Join(args, " "), token)
}
