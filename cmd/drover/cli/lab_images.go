package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"drover/labs"
	"drover/labs/images"
	"drover/labs/standin/redisd"
)

// labImages decides which images a lab's cluster runs: the real image
// when the engine has it, else its stand-in, said out loud. It first
// removes redis:* tags an earlier kit put on a stand-in. standIns is for
// an embedded cluster's clients; note says what was chosen.
func labImages(ctx context.Context, lab *labs.Lab, embedded bool) (map[string]string, string, error) {
	if len(lab.Images) == 0 {
		return nil, "", nil
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, "", err
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx); err != nil {
		if !embedded {
			return nil, "Images: not checked (no Docker engine here): the cluster's clients need " + strings.Join(lab.Images, ", "), nil
		}
		return nil, "", fmt.Errorf("lab %s runs %s in Docker, and Docker is not reachable: %v", lab.ID(), strings.Join(lab.Images, ", "), err)
	}
	var removed strings.Builder
	if _, err := images.RemoveOldRetags(ctx, cli, &removed); err != nil {
		return nil, "", err
	}
	states, err := images.Status(ctx, cli, lab.Images)
	if err != nil {
		return nil, "", err
	}
	standIns := map[string]string{}
	var used, missing []string
	for _, st := range states {
		switch {
		case st.Present && !st.RetaggedStandIn:
			used = append(used, st.Ref)
		case st.StandIn != "" && st.StandInPresent && embedded:
			standIns[st.Ref] = st.StandIn
			used = append(used, fmt.Sprintf("%s → stand-in %s (not the real image)", st.Ref, st.StandIn))
		default:
			missing = append(missing, st.Ref)
		}
	}
	if len(missing) > 0 && embedded {
		return nil, "", fmt.Errorf("lab %s needs %s, which this Docker engine does not have (and may not be able to pull):\n"+
			"  drover lab images -load <docker save tarball>   loads the real images, or\n"+
			"  drover lab images -standin                      builds clearly-named stand-ins (drover-lab/...)",
			lab.ID(), strings.Join(missing, ", "))
	}
	note := "Images: " + strings.Join(used, ", ")
	if len(missing) > 0 {
		note += "; not on this engine: " + strings.Join(missing, ", ") + " (the cluster's clients need them)"
	}
	if removed.Len() > 0 {
		note = strings.TrimSpace(removed.String()) + "\n" + note
	}
	return standIns, note, nil
}

// allLabImages is every image the built-in and pulled labs use, by lab.
func (s *streams) allLabImages() ([]*labs.Lab, []string, error) {
	builtin, err := labs.Builtin()
	if err != nil {
		return nil, nil, err
	}
	packs, err := s.packLabs()
	if err != nil {
		return nil, nil, err
	}
	all := append(builtin, packs...)
	seen := map[string]bool{}
	var refs []string
	for _, l := range all {
		for _, img := range l.Images {
			if !seen[img] {
				seen[img] = true
				refs = append(refs, img)
			}
		}
	}
	return all, refs, nil
}

func newLabImagesCommand(s *streams) *cobra.Command {
	var load, exe string
	var standIn bool
	c := &cobra.Command{
		Use:   "images",
		Short: "Show, load or stand in for the images the labs use",
		Long: "Lists the images each lab's jobs use and whether this Docker engine has them.\n" +
			"-load loads a tarball written by \"docker save\" (how a classroom without a\n" +
			"registry gets the real images). -standin builds, for each missing image that has\n" +
			"one, a stand-in under its own name (drover-lab/redis:3.2 for redis:3.2), labelled\n" +
			"as such: labs on an embedded cluster then run it in the real image's place and\n" +
			"say so. A stand-in is never tagged under the real image's name; such tags left by\n" +
			"an earlier kit are removed.",
		Example: "  drover lab images\n  drover lab images -load redis-images.tar\n  drover lab images -standin",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			defer cli.Close()
			if _, err := cli.Ping(ctx); err != nil {
				return fail(1, "Error: Docker is not reachable: %v", err)
			}
			if _, err := images.RemoveOldRetags(ctx, cli, s.Out); err != nil {
				return fail(1, "Error: %v", err)
			}
			if load != "" {
				if err := images.Load(ctx, cli, load, s.Out); err != nil {
					return fail(1, "Error: %v", err)
				}
			}
			all, refs, err := s.allLabImages()
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			if standIn {
				states, err := images.Status(ctx, cli, refs)
				if err != nil {
					return fail(1, "Error: %v", err)
				}
				for _, st := range states {
					if st.StandIn == "" || (st.Present && !st.RetaggedStandIn) {
						continue
					}
					name, err := images.BuildStandIn(ctx, cli, st.Ref, exe)
					if err != nil {
						return fail(1, "Error: %v", err)
					}
					fmt.Fprintf(s.Out, "==> Stand-in for %s: %s (%s)\n", st.Ref, name, images.StandInDescription)
				}
			}
			states, err := images.Status(ctx, cli, refs)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			byRef := map[string]images.State{}
			for _, st := range states {
				byRef[st.Ref] = st
			}
			rows := []string{"Lab|Image|On this engine|Stand-in"}
			for _, l := range all {
				for _, img := range l.Images {
					st := byRef[img]
					present := map[bool]string{true: "yes", false: "no"}[st.Present && !st.RetaggedStandIn]
					stand := "-"
					if st.StandIn != "" {
						stand = st.StandIn + map[bool]string{true: " (built)", false: " (not built)"}[st.StandInPresent]
					}
					rows = append(rows, fmt.Sprintf("%s|%s|%s|%s", l.ID(), img, present, stand))
				}
			}
			fmt.Fprintln(s.Out, formatList(rows))
			return nil
		},
	}
	c.Flags().StringVar(&load, "load", "", "load the images of a \"docker save\" tarball")
	c.Flags().BoolVar(&standIn, "standin", false, "build stand-ins for the missing images that have one")
	c.Flags().StringVar(&exe, "binary", "", "the static drover binary the stand-ins run (default: this one)")
	return c
}

func newLabStandInCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:                images.StandInCommand,
		Short:              "Run the Redis stand-in (inside a stand-in image)",
		Example:            "  drover lab standin-redis",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			if code := redisd.Main(args, s.Out, s.Err); code != 0 {
				return fail(code, "")
			}
			return nil
		},
	}
}
