// Command tinyredis is a tiny, static stand-in for Redis used by tests and
// labs. It speaks just enough of the protocol to answer PING, and has knobs
// that make a task exit, log a lot or ignore SIGTERM on demand, so that the
// client's restart policies, log rotation and kill timeouts can be tested
// against a real container without pulling anything from a registry.
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
package main

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

// ballast keeps a few MB resident so memory stats of the task are visibly
// non-zero; it is global so the compiler cannot drop it.
var ballast []byte

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed command line.
type options struct {
	port       int
	exitAfter  time.Duration
	exitCode   int
	logLines   int
	logSize    int
	ignoreTerm bool
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("tinyredis", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.port, "port", envInt("PORT", 6379), "TCP port to listen on")
	fs.DurationVar(&o.exitAfter, "exit-after", envDuration("EXIT_AFTER", 0), "exit after this long (0: never)")
	fs.IntVar(&o.exitCode, "exit-code", envInt("EXIT_CODE", 0), "exit code used by -exit-after")
	fs.IntVar(&o.logLines, "log-lines", envInt("LOG_LINES", 0), "lines to print on stdout at start")
	fs.IntVar(&o.logSize, "log-size", envInt("LOG_SIZE", 80), "bytes per -log-lines line, newline included")
	fs.BoolVar(&o.ignoreTerm, "ignore-term", envBool("IGNORE_TERM"), "ignore SIGTERM")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
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
	if o.ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
		signal.Notify(sigs, syscall.SIGINT)
	} else {
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	}

	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", o.port))
	if err != nil {
		fmt.Fprintf(stderr, "tinyredis: listen: %v\n", err)
		return 1
	}
	defer ln.Close()

	fmt.Fprintf(stdout, "tinyredis ready to accept connections on port %d\n", o.port)
	fmt.Fprintf(stderr, "tinyredis: pid %d, ballast %d bytes\n", os.Getpid(), len(ballast))
	writeLogLines(stdout, o.logLines, o.logSize)

	go serve(ln)

	var exitTimer <-chan time.Time
	if o.exitAfter > 0 {
		exitTimer = time.After(o.exitAfter)
	}
	select {
	case <-exitTimer:
		fmt.Fprintf(stdout, "exiting with code %d after %s\n", o.exitCode, o.exitAfter)
		return o.exitCode
	case s := <-sigs:
		name := "SIGTERM"
		if s == syscall.SIGINT {
			name = "SIGINT"
		}
		fmt.Fprintf(stdout, "Received %s scheduling shutdown...\n", name)
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

func serve(ln net.Listener) {
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
