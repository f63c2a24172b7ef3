package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
)

type allocFSFlags struct {
	machine bool
	verbose bool
	job     bool
	stat    bool
	follow  bool
	tail    bool
	lines   int64
	bytes   int64
}

// newAllocFSCommand builds "alloc fs" named use; path is how its examples
// spell it ("drover fs" is the same command).
func newAllocFSCommand(s *streams, use, path string) *cobra.Command {
	var f allocFSFlags
	c := &cobra.Command{
		Use:   use + " <allocation> [<path>]",
		Short: "List and read the files of an allocation directory",
		Long: "Shows what is in an allocation's directory: the shared alloc/ directory\n" +
			"(alloc/logs, alloc/data, alloc/tmp) and one directory per task (local/,\n" +
			"secrets/, tmp/). The path is relative to the allocation directory and\n" +
			"defaults to its root; a directory is listed, a file printed. -stat describes\n" +
			"the path instead. Sizes are shown in binary units; -H prints them in bytes.\n" +
			"-tail prints the end of a file (-n lines, 10 by default, or -c bytes; either\n" +
			"implies -tail); -f keeps printing what is appended until the allocation\n" +
			"stops or the command is interrupted. With -job the argument is a job, and\n" +
			"one of its allocations (a running one when there is one) is picked at\n" +
			"random. Paths that lead out of the allocation directory, by \"..\" or through\n" +
			"a link, are refused. \"drover fs\" is the same command.",
		Example: "  " + path + " 6085301b\n" +
			"  " + path + " 6085301b alloc/logs\n" +
			"  " + path + " -stat 6085301b alloc/data/out.txt\n" +
			"  " + path + " -tail -n 5 6085301b redis/local/redis.conf\n" +
			"  " + path + " -f -job example alloc/logs/redis.stdout.0",
		RunE: func(c *cobra.Command, args []string) error {
			switch {
			case len(args) == 0 && f.job:
				return &usageError{cmd: c, msg: "A job ID is required"}
			case len(args) == 0:
				return &usageError{cmd: c, msg: "An allocation ID is required"}
			case len(args) > 2:
				return &usageError{cmd: c, msg: "This command takes one or two arguments: <allocation> [<path>]"}
			}
			nLines, nBytes := c.Flags().Changed("n"), c.Flags().Changed("c")
			if nLines && nBytes {
				return fail(1, "Both -n and -c are not allowed")
			}
			if (nLines && f.lines < 0) || (nBytes && f.bytes < 0) {
				return fail(1, "Invalid size is specified")
			}
			if !nLines {
				f.lines = -1
			}
			if !nBytes {
				f.bytes = -1
			}
			f.tail = f.tail || nLines || nBytes
			p := "/"
			if len(args) == 2 {
				p = args[1]
			}
			return runAllocFS(c.Context(), s, f, args[0], p)
		},
	}
	fl := c.Flags()
	fl.BoolVarP(&f.machine, "H", "H", false, "print sizes in bytes, for scripts")
	fl.BoolVar(&f.verbose, "verbose", false, "show full IDs")
	fl.BoolVar(&f.job, "job", false, "the argument is a job ID (or prefix): use one of its allocations, picked at random")
	fl.BoolVar(&f.stat, "stat", false, "describe the path instead of listing or printing it")
	fl.BoolVarP(&f.follow, "f", "f", false, "keep printing what is appended to the file")
	fl.BoolVar(&f.tail, "tail", false, "print the end of the file (see -n and -c)")
	fl.Int64VarP(&f.lines, "n", "n", 0, "print the last `lines` lines (implies -tail; -tail alone prints 10)")
	fl.Int64VarP(&f.bytes, "c", "c", 0, "print the last `bytes` bytes (implies -tail)")
	return c
}

// newFSCommand is the top-level "fs" alias of "alloc fs".
func newFSCommand(s *streams) *cobra.Command {
	c := newAllocFSCommand(s, "fs", "drover fs")
	c.Hidden = true
	return c
}

// fileSize prints a size as the fs tables show it: binary units, or bytes
// for machines (-H).
func fileSize(n int64, machine bool) string {
	if machine || n < 0 {
		return fmt.Sprintf("%d", n)
	}
	return humanBytes(int64(uint64(n)))
}

func runAllocFS(ctx context.Context, s *streams, f allocFSFlags, arg, p string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	client, err := s.apiClient()
	if err != nil {
		return fail(1, "Error initializing client: %v", err)
	}
	alloc, err := findAlloc(client, arg, f.job, "", f.verbose)
	if err != nil {
		return err
	}
	fs := client.AllocFS()
	file, _, err := fs.Stat(alloc, p, nil)
	if err != nil {
		return fail(1, "%v", err)
	}
	if f.stat {
		name := file.Name
		if file.IsDir {
			name += "/"
		}
		fmt.Fprintln(s.Out, formatList([]string{
			"Mode|Size|Modified Time|Content Type|Name",
			fmt.Sprintf("%s|%s|%s|%s|%s", file.FileMode, fileSize(file.Size, f.machine), formatTime(file.ModTime), file.ContentType, name),
		}))
		return nil
	}
	if file.IsDir {
		files, _, err := fs.List(alloc, p, nil)
		if err != nil {
			return fail(1, "Error listing alloc dir: %s", err)
		}
		rows := []string{"Mode|Size|Modified Time|Name"}
		for _, e := range files {
			name := e.Name
			if e.IsDir {
				name += "/"
			}
			rows = append(rows, fmt.Sprintf("%s|%s|%s|%s", e.FileMode, fileSize(e.Size, f.machine), formatTime(e.ModTime), name))
		}
		fmt.Fprintln(s.Out, formatList(rows))
		return nil
	}

	if !f.tail {
		if f.follow {
			if err := followFile(ctx, client, alloc, p, 0, s.Out); err != nil {
				return fail(1, "Error reading file: %v", err)
			}
			return nil
		}
		r, err := fs.Cat(alloc, p, nil)
		if err != nil {
			return fail(1, "Error reading file: %v", err)
		}
		defer r.Close()
		if _, err := io.Copy(s.Out, r); err != nil {
			return fail(1, "Error reading file: %v", err)
		}
		return nil
	}
	data, err := tailFile(client, alloc, p, file.Size, f.lines, f.bytes)
	if err != nil {
		return fail(1, "Error tailing file: %v", err)
	}
	s.Out.Write(data)
	if f.follow {
		if err := followFile(ctx, client, alloc, p, file.Size, s.Out); err != nil {
			return fail(1, "Error tailing file: %v", err)
		}
	}
	return nil
}

// tailFile reads the end of a file of size bytes: its last lines (10
// when neither lines nor nbytes is set) or its last nbytes bytes.
func tailFile(client *api.Client, alloc *api.Allocation, p string, size, lines, nbytes int64) ([]byte, error) {
	return tailWindow(func(window int64) ([]byte, bool, error) {
		window = min(window, size)
		r, err := client.AllocFS().ReadAt(alloc, p, size-window, window, nil)
		if err != nil {
			return nil, false, err
		}
		defer r.Close()
		data, err := io.ReadAll(r)
		return data, window >= size, err
	}, lines, nbytes)
}

// followFile prints what is appended to a file from offset on, until ctx
// ends, the file is deleted or the allocation stops; then what was
// written last.
func followFile(ctx context.Context, client *api.Client, alloc *api.Allocation, p string, offset int64, w io.Writer) error {
	deleted := false
	return followAlloc(ctx, client, alloc.ID,
		func(fctx context.Context) (int64, error) {
			q := (&api.QueryOptions{}).WithContext(fctx)
			frames, errCh := client.AllocFS().Stream(alloc, p, api.OriginStart, offset, fctx.Done(), q)
			end := offset
			for {
				select {
				case f, ok := <-frames:
					if !ok {
						return end, nil
					}
					if len(f.Data) > 0 {
						if _, err := w.Write(f.Data); err != nil {
							return end, err
						}
					}
					if f.Offset > 0 {
						end = f.Offset
					}
					if f.FileEvent == "file deleted" {
						deleted = true
						return end, nil
					}
					if f.FileEvent == "file truncated" {
						end = 0
					}
				case err := <-errCh:
					if fctx.Err() != nil || err == io.EOF {
						return end, nil
					}
					return end, err
				case <-fctx.Done():
					return end, nil
				}
			}
		},
		func(end int64) error {
			if deleted {
				return nil
			}
			r, err := client.AllocFS().ReadAt(alloc, p, end, 0, nil)
			if err != nil {
				return nil // the file may be gone with it
			}
			defer r.Close()
			var buf bytes.Buffer
			io.Copy(&buf, r)
			w.Write(buf.Bytes())
			return nil
		})
}
