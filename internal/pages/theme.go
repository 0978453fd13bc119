package pages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/web"
)

// Branding is the tenant's look on the hosted pages, as Auth0's
// /api/v2/branding holds it: a logo, a favicon, a font and two colours.
type Branding struct {
	Colors     *BrandingColors `json:"colors,omitempty"`
	FaviconURL string          `json:"favicon_url,omitempty"`
	LogoURL    string          `json:"logo_url,omitempty"`
	Font       *BrandingFont   `json:"font,omitempty"`
}

// BrandingColors are the accent colour of buttons and links (primary) and
// the page's background: a colour, or Auth0's linear-gradient object.
type BrandingColors struct {
	Primary        string `json:"primary,omitempty"`
	PageBackground any    `json:"page_background,omitempty"`
}

// BrandingFont is the address of the font the tenant chose.
type BrandingFont struct {
	URL string `json:"url"`
}

// Each top-level field is a setting of its own, so that a PATCH writes the
// fields it names and never reads them back: two administrators changing
// the logo and the colours at once both win.
var brandingFields = map[string]string{
	"colors": "branding/colors", "favicon_url": "branding/favicon_url", "logo_url": "branding/logo_url", "font": "branding/font",
}

// brandingTTL is how soon other instances show a change to the branding.
const brandingTTL = 5 * time.Second

// Branding returns the tenant's branding ({} when none was set).
func (p *Pages) Branding(ctx context.Context) (Branding, error) {
	return p.brandCache.Get(struct{}{}, time.Now(), func() (Branding, error) {
		doc := map[string]json.RawMessage{}
		for field, setting := range brandingFields {
			v, err := p.store.Setting(ctx, setting)
			if errors.Is(err, errs.ErrNotFound) || (err == nil && v == "") {
				continue
			} else if err != nil {
				return Branding{}, fmt.Errorf("branding: %w", err)
			}
			doc[field] = json.RawMessage(v)
		}
		data, _ := json.Marshal(doc)
		var b Branding
		if err := json.Unmarshal(data, &b); err != nil {
			return Branding{}, fmt.Errorf("branding: %w", err)
		}
		return b, nil
	})
}

// UpdateBranding sets the fields of patch (a JSON object as PATCH
// /api/v2/branding takes it; null clears a field) and returns the result.
func (p *Pages) UpdateBranding(ctx context.Context, patch map[string]json.RawMessage) (Branding, error) {
	values := map[string]string{}
	for field, raw := range patch {
		if _, ok := brandingFields[field]; !ok {
			return Branding{}, errs.Invalid("invalid_body", "Payload validation error: 'Additional properties not allowed: %s'.", field)
		}
		if string(raw) == "null" {
			values[field] = ""
			continue
		}
		canonical, err := checkBrandingField(field, raw)
		if err != nil {
			return Branding{}, err
		}
		values[field] = canonical
	}
	for field, v := range values {
		if err := p.store.PutSetting(ctx, brandingFields[field], v); err != nil {
			return Branding{}, fmt.Errorf("save branding: %w", err)
		}
	}
	p.brandCache.Forget()
	return p.Branding(ctx)
}

// maxBrandingURL bounds the addresses of a logo, a favicon, a font.
const maxBrandingURL = 2048

// checkBrandingField validates one field and returns it as stored.
func checkBrandingField(field string, raw json.RawMessage) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", errs.Invalid("invalid_body", "Payload validation error: '"+format+"' on property "+field+".", args...)
	}
	switch field {
	case "logo_url", "favicon_url":
		var u string
		if err := json.Unmarshal(raw, &u); err != nil {
			return bad("Expected type string")
		}
		if u != "" && (len(u) > maxBrandingURL || !identity.RedirectOK(u, false)) {
			return bad("Object didn't pass validation for format absolute-uri (http or https): %.100s", u)
		}
		if u == "" {
			return "", nil
		}
	case "font":
		var f BrandingFont
		if err := identity.Decode(raw, &f); err != nil {
			return bad("Expected an object with url")
		}
		if f.URL != "" && (len(f.URL) > maxBrandingURL || !identity.RedirectOK(f.URL, false)) {
			return bad("Object didn't pass validation for format absolute-uri (http or https): %.100s", f.URL)
		}
	case "colors":
		var c BrandingColors
		if err := identity.Decode(raw, &c); err != nil {
			return bad("Expected an object with primary and page_background")
		}
		if c.Primary != "" && !hexColor.MatchString(c.Primary) {
			return bad("primary must be a hex colour such as #0059d6, not %.20q", c.Primary)
		}
		if c.PageBackground != nil {
			if _, ok := background(c.PageBackground); !ok {
				return bad("page_background must be a hex colour or {type: linear-gradient, start, end, angle_deg}")
			}
		}
	}
	return string(raw), nil
}

var hexColor = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// background is the CSS of a page_background: a hex colour, or a
// linear-gradient object with hex start and end colours.
func background(v any) (string, bool) {
	switch b := v.(type) {
	case string:
		return b, hexColor.MatchString(b)
	case map[string]any:
		start, _ := b["start"].(string)
		end, _ := b["end"].(string)
		angle, _ := b["angle_deg"].(float64)
		if t, _ := b["type"].(string); t != "linear-gradient" || !hexColor.MatchString(start) || !hexColor.MatchString(end) ||
			math.IsNaN(angle) || angle < 0 || angle > 360 || len(b) > 4 {
			return "", false
		}
		return fmt.Sprintf("linear-gradient(%sdeg, %s, %s)", strconv.FormatFloat(angle, 'f', -1, 64), start, end), true
	}
	return "", false
}

// themeCSS is the stylesheet that puts the branding's colours on Usher's
// pages; "" when it sets none. Only checked values reach it.
func themeCSS(b Branding) string {
	if b.Colors == nil {
		return ""
	}
	var css strings.Builder
	if c := b.Colors.Primary; hexColor.MatchString(c) {
		// White or dark text on the buttons, whichever contrasts more.
		fg, l := "#fff", luminance(c)
		if (l+0.05)/(luminance("#1d2330")+0.05) > 1.05/(l+0.05) {
			fg = "#1d2330"
		}
		fmt.Fprintf(&css, ":root { --accent: %s; --on-accent: %s; }\n", c, fg)
	}
	if bg, ok := background(b.Colors.PageBackground); ok {
		fmt.Fprintf(&css, "body { background: %s fixed; }\n", bg)
	}
	return css.String()
}

// luminance is the relative luminance (0 black, 1 white) of a hex colour.
func luminance(hex string) float64 {
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	n, _ := strconv.ParseUint(h, 16, 32)
	lin := func(c uint64) float64 {
		v := float64(c) / 255
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(n>>16&0xff) + 0.7152*lin(n>>8&0xff) + 0.0722*lin(n&0xff)
}

// Theme serves /u/theme.css, the branding's colours as a stylesheet (the
// pages' policy allows no inline style).
func (p *Pages) Theme() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := p.Branding(r.Context())
		if err != nil {
			web.Logger(r.Context(), p.log).Error("branding unreadable", "error", err.Error())
		}
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write([]byte(themeCSS(b)))
	})
}
