// Package config reads Usher's settings: flags win over environment
// variables, which win over defaults.
package config

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/usherid/usher/internal/web"
)

// Config is what `usher serve` runs with.
type Config struct {
	Addr                  string
	PublicURL             string
	DB                    string
	SMTPURL               string
	MailFrom              string
	MailRate              int // mails per minute, every instance on the database together; 0: no cap
	TLSCertFile           string
	TLSKeyFile            string
	BootstrapClientID     string
	BootstrapClientSecret string
	LogFormat             string
	LogLevel              slog.Level
	// TrustedProxies are the load balancers whose forwarding headers name
	// the client (USHER_TRUSTED_PROXIES); none: the headers are ignored.
	TrustedProxies web.Proxies
	ActionMemoryMB int // megabytes one Action run may grow the heap by
	// SecretKey (USHER_SECRET_KEY) or the file SecretKeyFile holds the key
	// that encrypts secrets at rest; see cmd/usher for the default.
	SecretKey     string
	SecretKeyFile string

	logLevel     string // --log-level as given; Finish reads it into LogLevel
	proxies      string // --trusted-proxies as given; Finish reads it into TrustedProxies
	mailRate     string // --mail-rate as given; Finish reads it into MailRate
	actionMemory string // --action-memory-mb as given; Finish reads it into ActionMemoryMB
}

// DefaultDB is the embedded database used when nothing else is said.
const DefaultDB = "sqlite:usher.db"

// BindDB registers --db on fs, defaulting to USHER_DB or DefaultDB.
func BindDB(fs *flag.FlagSet, getenv func(string) string) *string {
	return fs.String("db", envOr(getenv, "USHER_DB", DefaultDB), "database: sqlite:PATH or a postgres:// URL (USHER_DB)")
}

// BindServe registers every serve flag on fs. Call Finish after fs.Parse.
func BindServe(fs *flag.FlagSet, getenv func(string) string) *Config {
	c := &Config{}
	fs.StringVar(&c.Addr, "addr", envOr(getenv, "USHER_ADDR", "127.0.0.1:8080"), "listen address (USHER_ADDR)")
	fs.StringVar(&c.PublicURL, "public-url", getenv("USHER_PUBLIC_URL"), "external base URL: issuer, links in emails, audiences (USHER_PUBLIC_URL; default http(s)://ADDR)")
	fs.StringVar(&c.DB, "db", envOr(getenv, "USHER_DB", DefaultDB), "database: sqlite:PATH or a postgres:// URL (USHER_DB)")
	fs.StringVar(&c.SMTPURL, "smtp-url", getenv("USHER_SMTP_URL"), "smtp://user:pass@host:port or smtps://… (USHER_SMTP_URL); none: mail stays in the outbox")
	fs.StringVar(&c.MailFrom, "mail-from", getenv("USHER_MAIL_FROM"), "default From address; one without a name is shown under the tenant's friendly name (USHER_MAIL_FROM; default: FRIENDLY_NAME <no-reply@HOST>)")
	c.mailRate, c.actionMemory = envOr(getenv, "USHER_MAIL_RATE", "0"), envOr(getenv, "USHER_ACTION_MEMORY_MB", "128")
	fs.Var(numberText{&c.mailRate}, "mail-rate", "at most this many mails a minute, every instance on the database together; 0: no cap (USHER_MAIL_RATE)")
	fs.StringVar(&c.TLSCertFile, "tls-cert", getenv("USHER_TLS_CERT_FILE"), "serve HTTPS with this certificate (USHER_TLS_CERT_FILE)")
	fs.StringVar(&c.TLSKeyFile, "tls-key", getenv("USHER_TLS_KEY_FILE"), "and this key (USHER_TLS_KEY_FILE)")
	fs.Var(numberText{&c.actionMemory}, "action-memory-mb", "megabytes of memory one Action run may use; past it the run fails (USHER_ACTION_MEMORY_MB)")
	fs.StringVar(&c.LogFormat, "log-format", envOr(getenv, "USHER_LOG_FORMAT", "text"), "text or json (USHER_LOG_FORMAT)")
	fs.StringVar(&c.logLevel, "log-level", envOr(getenv, "USHER_LOG_LEVEL", "info"), "debug (every request logged), info, warn or error (USHER_LOG_LEVEL)")
	fs.StringVar(&c.proxies, "trusted-proxies", getenv("USHER_TRUSTED_PROXIES"), "CIDRs of the load balancers in front of Usher, whose X-Forwarded-For / Forwarded name the client (USHER_TRUSTED_PROXIES; none: the headers are ignored)")
	fs.StringVar(&c.SecretKeyFile, "secret-key-file", "", "file holding the key that encrypts secrets at rest: 32 bytes in base64 or hex (or USHER_SECRET_KEY holding the key itself; default: made beside a SQLite database as PATH.key; required on PostgreSQL)")
	c.SecretKey = getenv("USHER_SECRET_KEY")
	c.BootstrapClientID = getenv("USHER_BOOTSTRAP_CLIENT_ID")
	c.BootstrapClientSecret = getenv("USHER_BOOTSTRAP_CLIENT_SECRET")
	return c
}

// Finish checks the settings and fills the defaults that depend on others.
func (c *Config) Finish() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr %q: want HOST:PORT", c.Addr)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if c.PublicURL == "" {
		scheme := "http"
		if c.TLSCertFile != "" {
			scheme = "https"
		}
		c.PublicURL = scheme + "://" + c.Addr
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--public-url %q: want http(s)://HOST[:PORT][/PATH]", c.PublicURL)
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	}
	if err := c.LogLevel.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	if c.TrustedProxies, err = web.ParseProxies(c.proxies); err != nil {
		return fmt.Errorf("--trusted-proxies: %v", err)
	}
	if (c.BootstrapClientID == "") != (c.BootstrapClientSecret == "") {
		return fmt.Errorf("USHER_BOOTSTRAP_CLIENT_ID and USHER_BOOTSTRAP_CLIENT_SECRET go together")
	}
	// Read as text so that a bad USHER_MAIL_RATE is reported like a bad flag,
	// rather than silently replaced by the default.
	rate, err := strconv.Atoi(strings.TrimSpace(c.mailRate))
	if err != nil || rate < 0 {
		return fmt.Errorf("--mail-rate %q: want a whole number of mails per minute, 0 for no cap", c.mailRate)
	}
	c.MailRate = rate
	mb, err := strconv.Atoi(strings.TrimSpace(c.actionMemory))
	if err != nil || mb < 1 || mb > 1<<20 {
		return fmt.Errorf("--action-memory-mb %q: want a whole number of megabytes, at least 1", c.actionMemory)
	}
	c.ActionMemoryMB = mb
	if c.MailFrom == "" {
		// Mail shows it under the tenant's friendly name ("Usher" until
		// it is changed): see mail.NamedFrom.
		c.MailFrom = DefaultMailFrom(c.PublicURL)
	}
	return nil
}

// DefaultMailFrom is the From address of mail when none is configured:
// no-reply at the public URL's host.
func DefaultMailFrom(publicURL string) string {
	host := "localhost"
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return "no-reply@" + host
}

// Issuer is the iss of every token: the public URL with a trailing slash.
func (c *Config) Issuer() string { return c.PublicURL + "/" }

// ManagementAudience is the Management API's audience.
func (c *Config) ManagementAudience() string { return c.PublicURL + "/api/v2/" }

// numberText is a whole-number flag kept as text until Finish reads it, so
// that a bad value from the environment is reported like a bad flag; its
// help names it a number.
type numberText struct{ p *string }

func (n numberText) String() string {
	if n.p == nil {
		return ""
	}
	return *n.p
}

func (n numberText) Set(s string) error { *n.p = s; return nil }

// Type is the type the help shows for the flag.
func (numberText) Type() string { return "int" }

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}
