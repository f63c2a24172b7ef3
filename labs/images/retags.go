package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// retagRepos are the repositories whose tags RemoveOldRetags checks.
var retagRepos = []string{"redis"}

// RemoveOldRetags removes the redis:* tags (redis:3.2, redis:4.0, ...)
// that name a stand-in rather than the real image, as earlier versions of
// the kit made them: the image is that of drover-lab/tinyredis:latest or
// drover-test/tinyredis:latest, or runs /tinyredis, or carries
// LabelStandIn. Only the tag is removed, never by force; a real redis
// image is never touched. It prints one line per removed tag and returns
// the tags removed.
func RemoveOldRetags(ctx context.Context, cli client.APIClient, out io.Writer) ([]string, error) {
	return removeOldRetags(ctx, cli, out, retagRepos)
}

// removeOldRetags is RemoveOldRetags for the tags of repos (familiar
// names, such as "redis"); tests pass repositories of their own.
func removeOldRetags(ctx context.Context, cli client.APIClient, out io.Writer, repos []string) ([]string, error) {
	old, err := oldStandInIDs(ctx, cli)
	if err != nil {
		return nil, err
	}
	list, err := cli.ImageList(ctx, image.ListOptions{All: false})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	type candidate struct{ tag, id string }
	var cands []candidate
	for _, img := range list {
		for _, t := range img.RepoTags {
			repo, tag := splitRef(Familiar(t))
			if tag != "" && slices.Contains(repos, repo) {
				cands = append(cands, candidate{tag: t, id: img.ID})
			}
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].tag < cands[j].tag })

	var removed []string
	var errs []error
	standIn := map[string]bool{}
	for _, c := range cands {
		is, seen := standIn[c.id]
		if !seen {
			info, ok, err := inspect(ctx, cli, c.id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			is = ok && isStandIn(info, old)
			standIn[c.id] = is
		}
		if !is {
			continue
		}
		// The tag may have moved to another image since the listing:
		// check the name itself before removing it.
		info, ok, err := inspect(ctx, cli, c.tag)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok || info.ID != c.id {
			continue
		}
		if _, err := cli.ImageRemove(ctx, c.tag, image.RemoveOptions{Force: false, PruneChildren: false}); err != nil {
			errs = append(errs, fmt.Errorf("remove the stand-in tagged %s: %w", c.tag, err))
			continue
		}
		fmt.Fprintf(out, "Removed %s: it was a stand-in, not the real image\n", c.tag)
		removed = append(removed, c.tag)
	}
	return removed, errors.Join(errs...)
}
