package api

import (
	"net/http"
	"strings"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

// logJSON is a log event as Auth0 shows it.
type logJSON struct {
	identity.LogEvent
	Date string `json:"date"`
}

// parseLogSearch reads the log search Usher supports (q in Auth0's v4 SDK,
// search in v7): type:CODE, type:(A OR B), user_id:"ID", joined by AND.
func parseLogSearch(s string) (identity.LogQuery, error) {
	var q identity.LogQuery
	s = strings.ReplaceAll(s, " OR ", "|")
	for _, tok := range strings.Fields(s) {
		if tok == "AND" {
			continue
		}
		field, value, ok := strings.Cut(tok, ":")
		value = strings.Trim(value, `"()`)
		if !ok || value == "" {
			return q, errs.Invalid("invalid_query_string", "Query validation error: expected field:value, got %q", tok)
		}
		switch field {
		case "type":
			q.Types = append(q.Types, strings.Split(value, "|")...)
		case "user_id":
			q.UserID = value
		default:
			return q, errs.Invalid("invalid_query_string", "Query validation error: Usher's log search supports type and user_id, not %q", field)
		}
	}
	return q, nil
}

func handleListLogs(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		v := r.URL.Query()
		pg, err := readPaging(r, 50)
		if err != nil {
			return nil, err
		}
		search := v.Get("q")
		if search == "" {
			search = v.Get("search")
		}
		q, err := parseLogSearch(search)
		if err != nil {
			return nil, err
		}
		q.Page, q.PerPage, q.IncludeTotals = pg.Page, pg.PerPage, pg.IncludeTotals
		q.Ascending = v.Get("sort") == "date:1"
		events, total, err := ids.Logs(r.Context(), q)
		if err != nil {
			return nil, err
		}
		items := selection(r).applyAll(toAny(events, func(e identity.LogEvent) any { return logJSON{e, formatTime(e.Date)} }))
		if !pg.IncludeTotals {
			return items, nil
		}
		return map[string]any{"start": pg.Page * pg.PerPage, "limit": pg.PerPage, "length": len(items), "total": total, "logs": items}, nil
	})
}
