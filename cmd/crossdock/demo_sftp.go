package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crossdock/crossdock/engine/format"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/jobs/pipeline"
	"github.com/crossdock/crossdock/jobs/transport/sftp"
	"github.com/crossdock/crossdock/jobs/transport/sftp/sftptest"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// The demo's 3PL: a flow from the "storefront orders → 3PL over SFTP"
// template, writing one file per order to the built-in SFTP server.
const (
	demoSFTPFlow     = "storefront-orders-3pl"
	demoSFTPTemplate = "storefront-orders-to-3pl-sftp"
	demoSFTPTarget   = "logistics-orders"
	demoSFTPUser     = "threepl"
	// demoSFTPPassword is the demo server's one account's: it listens on
	// loopback only and holds nothing but the demo's files.
	demoSFTPPassword = "demo-sftp-password"
	demoSFTPDir      = "/inbound/orders"
)

// serveDemoSFTP starts the demo's SFTP server on addr, serving
// DATA_DIR/demo-sftp/root with the host key kept in
// DATA_DIR/demo-sftp/host_key (so its pinned fingerprint holds across
// restarts), until ctx ends.
func serveDemoSFTP(ctx context.Context, dataDir, addr string, log *slog.Logger) (*sftptest.Server, error) {
	base := filepath.Join(dataDir, "demo-sftp")
	root := filepath.Join(base, "root")
	if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(demoSFTPDir)), 0o755); err != nil {
		return nil, fmt.Errorf("demo sftp: %w", err)
	}
	srv, err := sftptest.Start(sftptest.Options{Addr: addr, Root: root, HostKeyFile: filepath.Join(base, "host_key"),
		User: demoSFTPUser, Password: demoSFTPPassword, Logger: log})
	if err != nil {
		return nil, err
	}
	srv.CloseOnDone(ctx)
	log.Info("demo sftp server", "addr", srv.Addr, "root", root, "host_key", srv.Fingerprint)
	return srv, nil
}

// demoSFTPSettings point the demo's 3PL target at srv.
func demoSFTPSettings(srv *sftptest.Server) map[string]string {
	host, port, _ := net.SplitHostPort(srv.Addr)
	return map[string]string{sftp.SettingHost: host, sftp.SettingPort: port, sftp.SettingUser: demoSFTPUser, sftp.SettingHostKey: srv.Fingerprint,
		sftp.SettingDirectory: demoSFTPDir, sftp.SettingFileName: `orders-{{date "20060102-150405"}}-{{seq}}.csv`}
}

// demoSFTPFormat is how the demo's 3PL takes orders: CSV with one row per
// order line, the order's fields repeated on each, as 3PL order imports
// usually are.
func demoSFTPFormat() format.Spec {
	return format.Spec{Kind: format.CSV, CSV: &format.CSVSpec{Rows: "lines", Columns: []format.Column{
		{Header: "Order", Path: "orderNumber"}, {Header: "Date", Path: "orderDate"}, {Header: "Store", Path: "store"},
		{Header: "Carrier", Path: "carrier"}, {Header: "Name", Path: "shipTo.name"}, {Header: "Street", Path: "shipTo.street"},
		{Header: "Postal code", Path: "shipTo.postalCode"}, {Header: "City", Path: "shipTo.city"},
		{Header: "Country", Path: "shipTo.country"}, {Header: "E-mail", Path: "shipTo.email"},
		{Header: "Line", Path: "lines.lineNumber"}, {Header: "SKU", Path: "lines.sku"},
		{Header: "Description", Path: "lines.description"}, {Header: "Quantity", Path: "lines.quantity"},
	}}}
}

// seedDemoSFTP creates the 3PL flow from its template, publishes it,
// points its target in dev at the demo server (the pinned fingerprint
// included) and deploys it there; it runs once. On later starts it only
// follows the demo server to a new port or host key, as long as the
// target still logs in as the demo's user (a target someone pointed
// elsewhere is left alone).
func seedDemoSFTP(ctx context.Context, pool *pgxpool.Pool, sealer *secret.Sealer, srv *sftptest.Server, dataDir string, log *slog.Logger, out io.Writer) error {
	kinds := pipeline.Transports(pool, nil)
	t, _ := kinds.Get(sftp.Kind)
	configure := func(ctx context.Context, tx pgx.Tx, dev release.Environment, keepSecret bool) error {
		cfg := release.DefaultTargetConfig(dev.ID, demoSFTPTarget)
		values := demoSFTPSettings(srv)
		if !keepSecret {
			values["secret"] = demoSFTPPassword
		}
		t.Apply(&cfg, values)
		cfg.Format = demoSFTPFormat()
		_, err := release.ConfigureTarget(ctx, tx, sealer, kinds, release.System("demo-seed"),
			release.TargetConfiguration{Environment: dev, Kind: string(sftp.Kind), Config: cfg})
		return err
	}
	if _, err := mappings.FlowBySlug(ctx, pool, demoSFTPFlow); err == nil {
		dev, err := release.EnvironmentByName(ctx, pool, "dev")
		if err != nil {
			return err
		}
		stored, err := release.TargetConfigMasked(ctx, pool, dev.ID, demoSFTPTarget)
		if err != nil {
			if fault.CodeOf(err) == fault.NotFound {
				return nil
			}
			return err
		}
		want := demoSFTPSettings(srv)
		if stored.Settings[sftp.SettingUser] != demoSFTPUser || stored.Settings[sftp.SettingHost] != want[sftp.SettingHost] ||
			(stored.Settings[sftp.SettingPort] == want[sftp.SettingPort] && stored.Settings[sftp.SettingHostKey] == want[sftp.SettingHostKey]) {
			return nil
		}
		log.Info("demo: the 3PL target follows the demo sftp server", "addr", srv.Addr, "host_key", srv.Fingerprint)
		return txn.Run(ctx, pool, func(tx pgx.Tx) error { return configure(ctx, tx, dev, true) })
	} else if fault.CodeOf(err) != fault.NotFound {
		return err
	}
	err := txn.Run(ctx, pool, func(tx pgx.Tx) error {
		f, dev, err := publishDemoTemplate(ctx, tx, demoSFTPTemplate, "Storefront orders → 3PL over SFTP", demoSFTPFlow)
		if err != nil {
			return err
		}
		if err := configure(ctx, tx, dev, false); err != nil {
			return err
		}
		_, err = release.Promote(ctx, tx, release.System("demo-seed"), release.Promotion{Flow: f, Environment: dev, Version: 1, Reason: "demo seed", Kinds: kinds})
		return err
	})
	if err != nil {
		return fmt.Errorf("demo seed (3PL over SFTP): %w", err)
	}
	fmt.Fprintf(out, `Demo: flow %[1]s (v1) runs in dev too and writes one file per order to the
built-in SFTP server at %[2]s (user %[3]s, password %[4]s, host key
%[5]s), into %[6]s. Post the same order to
/api/v1/envs/dev/flows/%[1]s/messages with the key above.

`, demoSFTPFlow, srv.Addr, demoSFTPUser, demoSFTPPassword, srv.Fingerprint, filepath.Join(dataDir, "demo-sftp", "root", filepath.FromSlash(demoSFTPDir)))
	return nil
}
