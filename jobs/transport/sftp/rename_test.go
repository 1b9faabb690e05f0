package sftp_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	psftp "github.com/pkg/sftp"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/jobs/transport"
	"github.com/crossdock/crossdock/jobs/transport/sftp"
)

// TestReplaceWithoutPosixRename: against a server that offers no
// posix-rename@openssh.com, whose plain rename refuses an existing target
// (SFTP version 3, OpenSSH), a delivery's file is still replaced: the old
// one is removed and the new one renamed into place.
//
// Not parallel: the extensions a pkg/sftp server offers are a package
// variable, restored before the parallel tests resume.
func TestReplaceWithoutPosixRename(t *testing.T) {
	require.NoError(t, psftp.SetSFTPExtensions("statvfs@openssh.com"))
	t.Cleanup(func() {
		require.NoError(t, psftp.SetSFTPExtensions("hardlink@openssh.com", "posix-rename@openssh.com", "statvfs@openssh.com"))
	})
	b := setup(t)
	d := delivery("first")
	res, err := b.tr.Send(context.Background(), transport.Attempt{Delivery: d, Config: b.config()})
	require.NoError(t, err)
	require.Equal(t, transport.Delivered, res.Verdict, res.Error)
	d.Body = []byte("second")
	res, err = b.tr.Send(context.Background(), transport.Attempt{Delivery: d, Config: b.config()})
	require.NoError(t, err)
	require.Equal(t, transport.Delivered, res.Verdict, res.Error)
	name, err := sftp.FileName(b.config(), d)
	require.NoError(t, err)
	require.Equal(t, []string{name}, b.files(t, "in"))
	got, err := os.ReadFile(filepath.Join(b.root, "in", name))
	require.NoError(t, err)
	require.Equal(t, "second", string(got))
}
