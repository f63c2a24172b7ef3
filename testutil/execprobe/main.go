// Command execprobe is a tiny static program for the tests of the docker
// driver's exec and signals: the main process of a FROM-scratch test
// image, and the command exec'd in it. Each invocation does one thing:
//
//	execprobe serve        print "ready", then "got <SIGNAL>" for each of
//	                       HUP, INT, USR1, USR2 it receives; exit 0 on TERM
//	execprobe echo ARGS... print the arguments, space separated
//	execprobe cat          copy the input to the output
//	execprobe stderr TEXT  print TEXT on stderr
//	execprobe exit N       exit with status N
//	execprobe tty [wait]   print "tty ROWS COLS" when the input is a
//	                       terminal, "no tty" otherwise; with wait, once
//	                       the input has ended
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: execprobe serve|echo|cat|stderr|exit|tty ...")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "serve":
		serve()
	case "echo":
		fmt.Println(strings.Join(args, " "))
	case "cat":
		io.Copy(os.Stdout, os.Stdin)
	case "stderr":
		fmt.Fprintln(os.Stderr, strings.Join(args, " "))
	case "exit":
		n := 0
		if len(args) > 0 {
			n, _ = strconv.Atoi(args[0])
		}
		os.Exit(n)
	case "tty":
		if len(args) > 0 && args[0] == "wait" {
			io.Copy(io.Discard, os.Stdin)
		}
		if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err != nil {
			fmt.Println("no tty")
			return
		}
		ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ)
		if err != nil {
			fmt.Println("tty ? ?")
			return
		}
		fmt.Printf("tty %d %d\n", ws.Row, ws.Col)
	default:
		fmt.Fprintf(os.Stderr, "execprobe: unknown mode %q\n", os.Args[1])
		os.Exit(2)
	}
}

func serve() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM)
	fmt.Println("ready")
	names := map[os.Signal]string{syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT",
		syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2", syscall.SIGTERM: "SIGTERM"}
	for {
		select {
		case s := <-sigs:
			fmt.Println("got " + names[s])
			if s == syscall.SIGTERM {
				os.Exit(0)
			}
		case <-time.After(time.Hour):
		}
	}
}
