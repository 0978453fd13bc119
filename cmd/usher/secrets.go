package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/usherid/usher/internal/config"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/secretbox"
	"github.com/usherid/usher/internal/store"
)

// secretKey is the key that seals secrets at rest, as found at start.
type secretKey struct {
	box *secretbox.Box
	// from says where the key came from, for messages (never the key).
	from string
	// newFile, when set, is the key file to write beside a SQLite database
	// once it is known that the database has no secrets sealed with another key.
	newFile, text string
}

// findSecretKey reads the key from --secret-key-file or USHER_SECRET_KEY,
// or for SQLite from the key file beside the database, making one when it
// does not exist yet. PostgreSQL has no such default: its instances run on
// several machines, which must share one key given to each.
func findSecretKey(cfg *config.Config) (secretKey, error) {
	var k secretKey
	switch {
	case cfg.SecretKeyFile != "":
		b, err := os.ReadFile(cfg.SecretKeyFile)
		if err != nil {
			return k, fmt.Errorf("secret key: %w", err)
		}
		k.from, k.text = "--secret-key-file "+cfg.SecretKeyFile, string(b)
	case cfg.SecretKey != "":
		k.from, k.text = "USHER_SECRET_KEY", cfg.SecretKey
	case strings.HasPrefix(cfg.DB, "sqlite:"):
		path := strings.TrimPrefix(cfg.DB, "sqlite:") + ".key"
		k.from = path
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			k.text = string(b)
		case errors.Is(err, fs.ErrNotExist):
			if k.text, err = secretbox.NewKey(); err != nil {
				return k, err
			}
			k.newFile = path
		default:
			return k, fmt.Errorf("secret key: %w", err)
		}
	default:
		return k, errors.New("secret key: on PostgreSQL, give the key that encrypts secrets at rest (signing keys, the SMTP password, Action secrets) " +
			"with USHER_SECRET_KEY or --secret-key-file FILE: 32 bytes in base64 or hex (make one with: openssl rand -base64 32), the same on every instance")
	}
	key, err := secretbox.ParseKey(k.text)
	if err != nil {
		return k, fmt.Errorf("%w (from %s)", err, k.from)
	}
	k.box, err = secretbox.New(key)
	return k, err
}

// openSealed opens and migrates the database with the box that seals its
// secrets, and makes sure the key is the database's own: a wrong key stops
// the start here, before anything is sealed with it or fails to open.
func openSealed(ctx context.Context, cfg *config.Config, log *slog.Logger) (*store.DB, *secretbox.Box, error) {
	key, err := findSecretKey(cfg)
	if err != nil {
		return nil, nil, err
	}
	db, err := store.Open(ctx, cfg.DB, store.WithSecretBox(key.box))
	if err != nil {
		return nil, nil, err
	}
	if err := checkSecretKey(ctx, db, key, log); err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, key.box, nil
}

func checkSecretKey(ctx context.Context, db *store.DB, key secretKey, log *slog.Logger) error {
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	if key.newFile != "" {
		sealed, err := db.SealedWithAKey(ctx)
		if err != nil {
			return err
		}
		if sealed {
			return fmt.Errorf("secret key: the secrets in this database are sealed with a key, but its key file %s is missing: "+
				"put it back, or give the key with USHER_SECRET_KEY or --secret-key-file", key.newFile)
		}
		// O_EXCL: an instance starting at the same time on the same file
		// may have written one first; then that one is the key.
		f, err := os.OpenFile(key.newFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("secret key: %s appeared while starting; start again", key.newFile)
		}
		if err != nil {
			return fmt.Errorf("secret key: %w", err)
		}
		_, err = f.WriteString(key.text + "\n")
		if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
			os.Remove(key.newFile)
			return fmt.Errorf("secret key: write %s: %w", key.newFile, err)
		}
		log.Warn("made a new key to encrypt secrets at rest; keep a copy of this file with the database's backups: without it the signing keys, the SMTP password and Action secrets cannot be read",
			"file", key.newFile)
	}
	if err := db.CheckSecretKey(ctx); err != nil {
		if errors.Is(err, store.ErrWrongSecretKey) {
			return fmt.Errorf("secret key: the key from %s is not the one this database's secrets were sealed with; start with that key", key.from)
		}
		return fmt.Errorf("secret key: %w", err)
	}
	return nil
}

// sealPlaintext seals the secrets a database written by an older Usher
// keeps in plain text.
func sealPlaintext(ctx context.Context, db *store.DB, mails *mail.Service, log *slog.Logger) error {
	n, err := db.SealPlaintext(ctx)
	if err != nil {
		return fmt.Errorf("seal secrets kept in plain text: %w", err)
	}
	sealed, err := mails.SealPassword(ctx)
	if err != nil {
		return fmt.Errorf("seal the email provider's password: %w", err)
	}
	if sealed {
		n++
	}
	if n > 0 {
		log.Info("encrypted the secrets kept in plain text", "count", n)
	}
	return nil
}

// issuerHost is the host of the public URL: the subject of the signing
// keys' certificates.
func issuerHost(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Hostname() == "" {
		return "usher"
	}
	return u.Hostname()
}
