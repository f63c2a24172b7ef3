package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"drover/labs"
)

// labOut prints a lab's text for an 80-column terminal, in colour only
// on a terminal and never with NO_COLOR set.
type labOut struct {
	w     io.Writer
	color bool
}

// labWidth is the width lab text is folded to.
const labWidth = 78

func newLabOut(s *streams) *labOut {
	o := &labOut{w: s.Out}
	if f, ok := s.Out.(*os.File); ok && s.getenv("NO_COLOR") == "" && s.getenv("TERM") != "dumb" {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			o.color = true
		}
	}
	return o
}

func (o *labOut) printf(format string, args ...interface{}) { fmt.Fprintf(o.w, format, args...) }

// line prints text folded to labWidth, continuation lines indented.
func (o *labOut) line(text string) {
	lead := ""
	if strings.HasPrefix(text, "\n") {
		lead, text = "\n", text[1:]
	}
	trail := ""
	if strings.HasSuffix(text, "\n") {
		trail, text = "\n", strings.TrimSuffix(text, "\n")
	}
	indent := "  " + text[:len(text)-len(strings.TrimLeft(text, " "))]
	fmt.Fprintf(o.w, "%s%s\n%s", lead, labs.Fold(text, labWidth, indent), trail)
}

func (o *labOut) paint(code, s string) string {
	if !o.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (o *labOut) bold(s string) string  { return o.paint("1", s) }
func (o *labOut) green(s string) string { return o.paint("32", s) }
func (o *labOut) red(s string) string   { return o.paint("31", s) }

// wrap folds markdown-ish text to labWidth, each line prefixed: lines
// that start a list item, a code block or follow a blank line keep their
// place, so a step's instructions read as written.
func (o *labOut) wrap(text, prefix string) string {
	var out []string
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		var lines []string
		var cur []string
		flush := func() {
			if len(cur) > 0 {
				lines = append(lines, fold(strings.Join(cur, " "), labWidth-len(prefix), "")...)
				cur = nil
			}
		}
		for _, l := range strings.Split(para, "\n") {
			t := strings.TrimSpace(l)
			if strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "* ") || strings.HasPrefix(l, "    ") || strings.HasPrefix(t, "```") {
				flush()
				if strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "* ") {
					lines = append(lines, fold(t, labWidth-len(prefix), "  ")...)
				} else {
					lines = append(lines, l)
				}
				continue
			}
			cur = append(cur, t)
		}
		flush()
		for i := range lines {
			lines[i] = prefix + lines[i]
		}
		out = append(out, strings.Join(lines, "\n"))
	}
	return strings.Join(out, "\n\n")
}

// wrapHanging folds text whose first line starts at column col; the next
// lines are indented to col.
func (o *labOut) wrapHanging(text string, col int) string {
	lines := fold(text, labWidth-col, "")
	return strings.Join(lines, "\n"+strings.Repeat(" ", col))
}

// fold splits text into lines of at most width runes at spaces; cont
// prefixes continuation lines.
func fold(text string, width int, cont string) []string {
	if width < 20 {
		width = 20
	}
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len([]rune(line))+1+len([]rune(word)) > width:
			lines = append(lines, line)
			line = cont + word
		default:
			line += " " + word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
