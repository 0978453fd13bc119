package pages

import (
	"context"
	"errors"

	"github.com/usherid/usher/internal/errs"
)

// maxUniversalLogin is Auth0's limit on the page template.
const maxUniversalLogin = 102400

// UniversalLogin returns the tenant's page template, or errs.ErrNotFound.
func (p *Pages) UniversalLogin(ctx context.Context) (string, error) {
	tpl, err := p.store.Setting(ctx, universalLoginSetting)
	if err == nil && tpl == "" {
		return "", errs.ErrNotFound
	}
	return tpl, err
}

// SetUniversalLogin saves the page template after checking that it has both
// of Auth0's tags and is valid Liquid. created tells a first save from a change.
func (p *Pages) SetUniversalLogin(ctx context.Context, tpl string) (created bool, err error) {
	if len(tpl) > maxUniversalLogin {
		return false, errs.Invalid("invalid_body", "The template is larger than %d bytes.", maxUniversalLogin)
	}
	tags := map[string]bool{}
	for _, m := range widgetTag.FindAllStringSubmatch(tpl, -1) {
		tags[m[1]] = true
	}
	if !tags["head"] || !tags["widget"] {
		return false, errs.Invalid("invalid_body", "%s", "The template must contain {%- auth0:head -%} and {%- auth0:widget -%}.")
	}
	if err := p.engine.Check("universal-login", widgetTag.ReplaceAllString(tpl, "")); err != nil {
		return false, errs.Invalid("invalid_template", "The template is not valid Liquid: %v", err)
	}
	_, err = p.UniversalLogin(ctx)
	created = errors.Is(err, errs.ErrNotFound)
	if err != nil && !created {
		return false, err
	}
	return created, p.store.PutSetting(ctx, universalLoginSetting, tpl)
}

// DeleteUniversalLogin goes back to Usher's own page.
func (p *Pages) DeleteUniversalLogin(ctx context.Context) error {
	return p.store.PutSetting(ctx, universalLoginSetting, "")
}
