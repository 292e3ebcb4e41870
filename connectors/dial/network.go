package dial

import (
	"context"
	"net/url"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/s3"
	"github.com/dovetail-sync/dovetail/connectors/sftp"
	"github.com/dovetail-sync/dovetail/connectors/webdav"
)

func init() {
	register("sftp", openSFTP)
	register("s3", openS3)
	register("webdav+https", openWebDAV)
	register("webdav+http", openWebDAV)
}

// set replaces *field with the named secret when the options have one.
func set(field *string, o Options, name string) {
	if v := o.secret(name); v != "" {
		*field = v
	}
}

func openSFTP(ctx context.Context, u *url.URL, o Options) (connectors.Connector, func() error, error) {
	cfg, err := sftp.ParseURL(u)
	if err != nil {
		return nil, nil, err
	}
	set(&cfg.Password, o, "password")
	set(&cfg.KeyPassphrase, o, "key_passphrase")
	c, err := sftp.New(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return c, c.Close, nil
}

func openS3(ctx context.Context, u *url.URL, o Options) (connectors.Connector, func() error, error) {
	cfg, err := s3.ParseURL(u)
	if err != nil {
		return nil, nil, err
	}
	set(&cfg.AccessKeyID, o, "access_key_id")
	set(&cfg.SecretAccessKey, o, "secret_access_key")
	set(&cfg.SessionToken, o, "session_token")
	c, err := s3.New(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return c, c.Close, nil
}

func openWebDAV(ctx context.Context, u *url.URL, o Options) (connectors.Connector, func() error, error) {
	cfg, err := webdav.ParseURL(u)
	if err != nil {
		return nil, nil, err
	}
	set(&cfg.Password, o, "password")
	c, err := webdav.New(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return c, c.Close, nil
}
