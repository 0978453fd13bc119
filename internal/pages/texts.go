package pages

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/web"
)

// Texts are a prompt's custom texts, by screen then key, as Auth0's
// /api/v2/prompts/{prompt}/custom-text/{language} holds them. The
// reset-password prompt's pages read the screens reset-password and
// reset-password-success (title, description, buttonText, eventTitle), and
// Usher's own usher-invite and usher-invite-success for the invitation.
type Texts map[string]map[string]string

var promptName = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

func textSetting(prompt, language string) (string, error) {
	if !promptName.MatchString(prompt) || !promptName.MatchString(language) {
		return "", errs.Invalid("invalid_uri", "Unknown prompt or language.")
	}
	return "custom_text/" + prompt + "/" + language, nil
}

// CustomText returns the texts set for a prompt in a language ({} when none).
func (p *Pages) CustomText(ctx context.Context, prompt, language string) (Texts, error) {
	name, err := textSetting(prompt, language)
	if err != nil {
		return nil, err
	}
	doc, err := p.store.Setting(ctx, name)
	if errors.Is(err, errs.ErrNotFound) {
		return Texts{}, nil
	} else if err != nil {
		return nil, err
	}
	t := Texts{}
	return t, json.Unmarshal([]byte(doc), &t)
}

// SetCustomText replaces the texts of a prompt in a language.
func (p *Pages) SetCustomText(ctx context.Context, prompt, language string, t Texts) error {
	name, err := textSetting(prompt, language)
	if err != nil {
		return err
	}
	doc, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return p.store.PutSetting(ctx, name, string(doc))
}

// resetTexts are the texts the reset-password pages show, in English.
func (p *Pages) resetTexts(ctx context.Context) Texts { return p.promptTexts(ctx, "reset-password") }

func (p *Pages) texts(r *http.Request, prompt string) Texts {
	return p.promptTexts(r.Context(), prompt)
}

func (p *Pages) promptTexts(ctx context.Context, prompt string) Texts {
	t, err := p.CustomText(ctx, prompt, "en")
	if err != nil {
		web.Logger(ctx, p.log).Warn("custom texts unreadable; showing the defaults", "error", err.Error())
		return Texts{}
	}
	return t
}
