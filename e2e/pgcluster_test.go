package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pgCluster is a PostgreSQL cluster of one test's own, made by
// scripts/pg.sh (same server binaries, same root → postgres handling) in a
// temporary directory, so that the test can stop it without stopping the
// cluster every other test uses.
type pgCluster struct {
	dir  string
	port int
}

// newPGCluster initdbs and starts a cluster on a free port; it is stopped
// and removed when t ends.
func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "crossdock-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{dir: dir, port: freePort(t)}
	t.Cleanup(func() {
		_, _ = c.run("stop", "immediate")
		os.RemoveAll(dir)
	})
	if out, err := c.run("start"); err != nil {
		t.Fatalf("scripts/pg.sh start (own cluster in %s): %v\n%s", dir, err, out)
	}
	return c
}

func (c *pgCluster) run(args ...string) ([]byte, error) {
	return c.command(args...).CombinedOutput()
}

func (c *pgCluster) command(args ...string) *exec.Cmd {
	cmd := exec.Command("../scripts/pg.sh", args...)
	cmd.Env = append(os.Environ(), "CROSSDOCK_PG_DIR="+c.dir, "CROSSDOCK_PG_PORT="+strconv.Itoa(c.port))
	return cmd
}

// url is the cluster's crossdock database, with the password pg.sh made
// for it.
func (c *pgCluster) url(t *testing.T) string {
	t.Helper()
	cmd := c.command("url")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/pg.sh url: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// stop crashes the server (pg_ctl stop -m immediate: every backend killed,
// no checkpoint), returning once it is down.
func (c *pgCluster) stop(t *testing.T) time.Time {
	t.Helper()
	if out, err := c.run("stop", "immediate"); err != nil {
		t.Fatalf("scripts/pg.sh stop immediate: %v\n%s", err, out)
	}
	return time.Now()
}

// start starts it again (crash recovery included), returning once it
// accepts connections.
func (c *pgCluster) start(t *testing.T) time.Time {
	t.Helper()
	if out, err := c.run("start"); err != nil {
		t.Fatalf("scripts/pg.sh start: %v\n%s", err, out)
	}
	return time.Now()
}
