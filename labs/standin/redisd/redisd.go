// Package redisd is a tiny, static stand-in for Redis. It speaks just
// enough of the protocol to answer PING, and has knobs that make it exit,
// log a lot or ignore SIGTERM on demand, so that restart policies, log
// rotation and kill timeouts can be exercised against a real container
// without pulling anything from a registry.
//
// It runs as testutil/tinyredis (the tests' own binary) and as the drover
// binary's hidden command "drover lab standin-redis", the entrypoint of
// the stand-in images built by labs/images. A stand-in is never the real
// Redis: it says so in its banner.
//
// Flags (each also settable through the environment variable in brackets,
// because a job file can set env more easily than it can rewrite args):
//
//	-port n              port to listen on [PORT] (default 6379)
//	-exit-after d        exit after duration d [EXIT_AFTER]
//	-exit-code n         code used by -exit-after [EXIT_CODE]
//	-log-lines n         print n lines on stdout at start [LOG_LINES]
//	-log-size bytes      size of each of those lines, newline included [LOG_SIZE]
//	-ignore-term         ignore SIGTERM, to test kill timeouts [IGNORE_TERM]
package redisd

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultName is the program name Main uses in its messages.
const DefaultName = "redis-standin"

// ballast keeps a few MB resident so memory stats of the task are visibly
// non-zero; it is global so the compiler cannot drop it.
var ballast []byte

// Options are the parsed command line.
type Options struct {
	Port       int
	ExitAfter  time.Duration
	ExitCode   int
	LogLines   int
	LogSize    int
	IgnoreTerm bool
}

// Parse reads the flags (and their environment variables) of a server
// called name. A leading "redis-server" argument is skipped, so that a job
// written for the real image (command = "redis-server") still parses.
func Parse(name string, args []string, stderr io.Writer) (*Options, error) {
	if len(args) > 0 && args[0] == "redis-server" {
		args = args[1:]
	}
	o := &Options{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.Port, "port", envInt("PORT", 6379), "TCP port to listen on")
	fs.DurationVar(&o.ExitAfter, "exit-after", envDuration("EXIT_AFTER", 0), "exit after this long (0: never)")
	fs.IntVar(&o.ExitCode, "exit-code", envInt("EXIT_CODE", 0), "exit code used by -exit-after")
	fs.IntVar(&o.LogLines, "log-lines", envInt("LOG_LINES", 0), "lines to print on stdout at start")
	fs.IntVar(&o.LogSize, "log-size", envInt("LOG_SIZE", 80), "bytes per -log-lines line, newline included")
	fs.BoolVar(&o.IgnoreTerm, "ignore-term", envBool("IGNORE_TERM"), "ignore SIGTERM")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return o, nil
}

// Main runs the server under DefaultName until SIGTERM or SIGINT (or
// -exit-after) and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	return Run(DefaultName, args, stdout, stderr)
}

// Run is Main with another program name in the messages, such as
// "tinyredis" for the tests' binary, whose output the tests match.
func Run(name string, args []string, stdout, stderr io.Writer) int {
	o, err := Parse(name, args, stderr)
	if err != nil {
		return 2
	}

	// Touch every page so the ballast is really resident, not just reserved.
	ballast = make([]byte, 4<<20)
	for i := range ballast {
		ballast[i] = byte(i)
	}

	// Subscribe before listening so a signal sent right after the banner is
	// never lost to the default handler.
	sigs := make(chan os.Signal, 2)
	if o.IgnoreTerm {
		signal.Ignore(syscall.SIGTERM)
		defer signal.Reset(syscall.SIGTERM)
		signal.Notify(sigs, syscall.SIGINT)
	} else {
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	}
	defer signal.Stop(sigs)

	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", o.Port))
	if err != nil {
		fmt.Fprintf(stderr, "%s: listen: %v\n", name, err)
		return 1
	}
	defer ln.Close()
	port := o.Port
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		port = a.Port
	}

	fmt.Fprintf(stdout, "%s ready to accept connections on port %d\n", name, port)
	fmt.Fprintf(stderr, "%s: pid %d, ballast %d bytes\n", name, os.Getpid(), len(ballast))
	writeLogLines(stdout, o.LogLines, o.LogSize)

	go Serve(ln)

	var exitTimer <-chan time.Time
	if o.ExitAfter > 0 {
		exitTimer = time.After(o.ExitAfter)
	}
	select {
	case <-exitTimer:
		fmt.Fprintf(stdout, "exiting with code %d after %s\n", o.ExitCode, o.ExitAfter)
		return o.ExitCode
	case s := <-sigs:
		sig := "SIGTERM"
		if s == syscall.SIGINT {
			sig = "SIGINT"
		}
		fmt.Fprintf(stdout, "Received %s scheduling shutdown...\n", sig)
		fmt.Fprintln(stdout, "ready to exit, bye bye...")
		return 0
	}
}

// writeLogLines prints n numbered lines padded to size bytes each, so a
// test can predict exactly how many bytes reach the log files.
func writeLogLines(w io.Writer, n, size int) {
	if n <= 0 {
		return
	}
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	for i := 0; i < n; i++ {
		line := fmt.Sprintf("log line %d ", i)
		if pad := size - 1 - len(line); pad > 0 {
			line += strings.Repeat("x", pad)
		}
		bw.WriteString(line)
		bw.WriteByte('\n')
	}
}

// Serve answers the connections of ln until it is closed.
func Serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go handle(c)
	}
}

// handle answers PING, inline or as a RESP array, with +PONG; anything else
// gets an error reply, like the real server does for unknown commands.
func handle(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		cmd, err := readCommand(r)
		if err != nil {
			return
		}
		var reply string
		switch strings.ToUpper(cmd) {
		case "PING":
			reply = "+PONG\r\n"
		case "":
			continue
		default:
			reply = fmt.Sprintf("-ERR unknown command '%s'\r\n", cmd)
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

// readCommand returns the first word of the next command, in either the
// inline form ("PING\r\n") or the RESP array form ("*1\r\n$4\r\nPING\r\n").
func readCommand(r *bufio.Reader) (string, error) {
	line, err := readLine(r)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "*") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			return "", nil
		}
		return fields[0], nil
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 0 {
		return "", fmt.Errorf("bad array header %q", line)
	}
	var first string
	for i := 0; i < n; i++ {
		hdr, err := readLine(r)
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(hdr, "$") {
			return "", fmt.Errorf("bad bulk header %q", hdr)
		}
		size, err := strconv.Atoi(hdr[1:])
		if err != nil || size < 0 {
			return "", fmt.Errorf("bad bulk header %q", hdr)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		if i == 0 {
			first = string(buf[:size])
		}
	}
	return first, nil
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func envBool(key string) bool {
	v, _ := strconv.ParseBool(os.Getenv(key))
	return v
}
