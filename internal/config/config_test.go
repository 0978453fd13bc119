package config_test

import (
	"flag"
	"io"
	"testing"

	"github.com/usherid/usher/internal/config"
)

func TestMailRate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     string
		args    []string
		want    int
		wantErr bool
	}{
		{name: "default: no cap", want: 0},
		{name: "environment", env: "120", want: 120},
		{name: "flag", args: []string{"--mail-rate", "30"}, want: 30},
		{name: "flag wins over environment", env: "120", args: []string{"--mail-rate", "30"}, want: 30},
		{name: "flag says no cap", env: "120", args: []string{"--mail-rate", "0"}, want: 0},
		{name: "negative", args: []string{"--mail-rate", "-5"}, wantErr: true},
		{name: "not a number", env: "fast", wantErr: true},
		{name: "a fraction", env: "0.5", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			c := config.BindServe(fs, func(k string) string {
				if k == "USHER_MAIL_RATE" {
					return tc.env
				}
				return ""
			})
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := c.Finish()
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Finish = nil, MailRate %d; want an error", c.MailRate)
				}
				return
			}
			if err != nil || c.MailRate != tc.want {
				t.Fatalf("MailRate %d, %v; want %d", c.MailRate, err, tc.want)
			}
		})
	}
}
