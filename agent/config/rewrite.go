package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// mapBlockPaths are the settings that may be written as a block whose
// "arguments" are arbitrary, often quoted, keys:
//
//	options {
//	  "driver.raw_exec.enable" = "1"
//	}
//
// Native HCL does not allow quoted argument names in a block body, but the
// same text is a valid object constructor. rewriteMapBlocks therefore turns
// `options {` into `options={` before parsing, so the block is read as a
// map attribute.
var mapBlockPaths = map[string]bool{
	"client.options": true,
	"client.meta":    true,
}

// rewriteMapBlocks returns src with an "=" put between the name and the
// opening brace of every block listed in mapBlockPaths. Where there is
// whitespace before the brace, its last character is replaced, so byte
// offsets, and with them diagnostic positions, stay exactly the same. If
// src does not lex cleanly it is returned unchanged for the parser to
// report.
func rewriteMapBlocks(src []byte, filename string) []byte {
	toks, diags := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return src
	}
	s := &tokScanner{toks: withoutComments(toks)}
	s.body("")
	if len(s.braces) == 0 {
		return src
	}
	out := make([]byte, 0, len(src)+len(s.braces))
	last := 0
	for _, off := range s.braces {
		if off > last && (src[off-1] == ' ' || src[off-1] == '\t') {
			out = append(out, src[last:off-1]...)
		} else {
			out = append(out, src[last:off]...)
		}
		out = append(out, '=')
		last = off
	}
	return append(out, src[last:]...)
}

// withoutComments drops comment tokens. A line comment's token includes
// the newline that ends it, so it is replaced by a newline token, as the
// parser itself does.
func withoutComments(toks hclsyntax.Tokens) hclsyntax.Tokens {
	out := make(hclsyntax.Tokens, 0, len(toks))
	for _, t := range toks {
		if t.Type != hclsyntax.TokenComment {
			out = append(out, t)
			continue
		}
		if n := len(t.Bytes); n > 0 && t.Bytes[n-1] == '\n' {
			out = append(out, hclsyntax.Token{Type: hclsyntax.TokenNewline, Bytes: []byte{'\n'}, Range: t.Range})
		}
	}
	return out
}

// tokScanner walks the token stream of a native HCL file just far enough
// to know which block each body item belongs to.
type tokScanner struct {
	toks   hclsyntax.Tokens
	i      int
	braces []int // byte offsets of the opening braces to rewrite
}

func (s *tokScanner) peek() hclsyntax.Token {
	if s.i < len(s.toks) {
		return s.toks[s.i]
	}
	return hclsyntax.Token{Type: hclsyntax.TokenEOF}
}

// body scans body items until the closing brace (consumed) or EOF.
func (s *tokScanner) body(path string) {
	for {
		t := s.peek()
		switch t.Type {
		case hclsyntax.TokenEOF:
			return
		case hclsyntax.TokenCBrace:
			s.i++
			return
		case hclsyntax.TokenNewline:
			s.i++
		case hclsyntax.TokenIdent:
			s.i++
			s.item(joinPath(path, string(t.Bytes)))
		default:
			s.skipExpr()
		}
	}
}

// item scans the rest of an attribute or block whose name has been read.
func (s *tokScanner) item(path string) {
	labels := 0
	for {
		t := s.peek()
		switch t.Type {
		case hclsyntax.TokenIdent:
			labels++
			s.i++
		case hclsyntax.TokenOQuote:
			labels++
			s.skipQuoted()
		case hclsyntax.TokenEqual:
			s.i++
			s.skipExpr()
			return
		case hclsyntax.TokenOBrace:
			s.i++
			if labels == 0 && mapBlockPaths[path] {
				s.braces = append(s.braces, t.Range.Start.Byte)
				s.skipNested(1)
			} else {
				s.body(path)
			}
			return
		default:
			s.skipExpr()
			return
		}
	}
}

func (s *tokScanner) skipQuoted() {
	s.i++ // the opening quote
	for {
		switch s.peek().Type {
		case hclsyntax.TokenCQuote:
			s.i++
			return
		case hclsyntax.TokenEOF, hclsyntax.TokenNewline:
			return
		}
		s.i++
	}
}

// skipExpr skips to the end of the current expression: a newline outside
// any brackets (consumed), or a closing brace that ends the enclosing body
// (left in place).
func (s *tokScanner) skipExpr() {
	depth := 0
	for {
		t := s.peek()
		switch {
		case t.Type == hclsyntax.TokenEOF:
			return
		case t.Type == hclsyntax.TokenNewline && depth == 0:
			s.i++
			return
		case t.Type == hclsyntax.TokenCBrace && depth == 0:
			return
		case isOpener(t.Type):
			depth++
		case isCloser(t.Type):
			depth--
		}
		s.i++
	}
}

// skipNested skips tokens until depth brackets have been closed.
func (s *tokScanner) skipNested(depth int) {
	for depth > 0 {
		t := s.peek()
		switch {
		case t.Type == hclsyntax.TokenEOF:
			return
		case isOpener(t.Type):
			depth++
		case isCloser(t.Type):
			depth--
		}
		s.i++
	}
}

func isOpener(t hclsyntax.TokenType) bool {
	switch t {
	case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
		hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl,
		hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
		return true
	}
	return false
}

func isCloser(t hclsyntax.TokenType) bool {
	switch t {
	case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
		hclsyntax.TokenTemplateSeqEnd, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
		return true
	}
	return false
}
