package dashboard

import (
	"fmt"
	"net/http"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail"
)

// chartDays is how many days the home page's chart covers.
const chartDays = 30

// homeData is the home page.
type homeData struct {
	Stats          identity.InvitationStats
	Rate           string // accepted of sent in the period, e.g. "42%"
	Accepted       int
	Expired        int
	Users, Pending int
	DeadMails      int
	Chart          chart
}

// chart is a grouped bar chart drawn as inline SVG on the server.
type chart struct {
	Width, Height, Top, Bottom int
	Bars                       []bar
	Ticks                      []tick
	Labels                     []tick
}

// bar is one bar of the chart.
type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

// tick is a label on an axis and, for the value axis, its grid line
// from X1 to X2 at LineY.
type tick struct {
	X, Y          float64
	Text          string
	X1, X2, LineY float64
}

func (d *Dashboard) home() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		ctx := r.Context()
		st, err := d.ids.InvitationStats(ctx, chartDays)
		if err != nil {
			d.fail(w, err)
			return
		}
		h := homeData{Stats: st, Rate: "–", Chart: drawChart(st.Days)}
		for _, day := range st.Days {
			h.Accepted += day.Accepted
			h.Expired += day.Expired
		}
		if st.Sent > 0 {
			h.Rate = fmt.Sprintf("%d%%", (st.SentAccepted*100+st.Sent/2)/st.Sent)
		}
		if _, h.Users, err = d.ids.Users(ctx, identity.UserQuery{PerPage: 0, IncludeTotals: true}); err != nil {
			d.fail(w, err)
			return
		}
		if _, h.Pending, err = d.ids.Invitations(ctx, identity.InvitationQuery{Status: identity.InvitationPending, IncludeTotals: true}); err != nil {
			d.fail(w, err)
			return
		}
		if _, h.DeadMails, err = d.mails.Outbox(ctx, mail.Query{Status: identity.MailDead}); err != nil {
			d.fail(w, err)
			return
		}
		d.render(w, http.StatusOK, "home", s.view("Home", "home", "", h))
	})
}

// drawChart lays out three bars a day (sent, accepted, expired) with a
// horizontal scale; the SVG scales to its container through its viewBox.
func drawChart(days []identity.InvitationDay) chart {
	c := chart{Width: 720, Height: 240, Top: 12, Bottom: 28}
	left, plotH := 32.0, float64(c.Height-c.Top-c.Bottom)
	most := 1
	for _, d := range days {
		most = max(most, d.Sent, d.Accepted, d.Expired)
	}
	step := niceStep(most)
	top := ((most + step - 1) / step) * step
	scale := plotH / float64(top)
	for v := 0; v <= top; v += step {
		y := float64(c.Top) + plotH - float64(v)*scale
		c.Ticks = append(c.Ticks, tick{X: left - 6, Y: y + 4, Text: fmt.Sprint(v), X1: left, X2: float64(c.Width), LineY: y})
	}
	if len(days) == 0 {
		return c
	}
	slot := (float64(c.Width) - left) / float64(len(days))
	bw := slot / 4
	for i, d := range days {
		x := left + float64(i)*slot + bw/2
		for j, s := range []struct {
			n     int
			class string
			what  string
		}{{d.Sent, "sent", "sent"}, {d.Accepted, "accepted", "accepted"}, {d.Expired, "expired", "expired"}} {
			h := float64(s.n) * scale
			c.Bars = append(c.Bars, bar{X: x + float64(j)*bw, Y: float64(c.Top) + plotH - h, W: bw, H: h, Class: s.class,
				Title: fmt.Sprintf("%s: %d %s", d.Day.Format("Jan 2"), s.n, s.what)})
		}
		if i%7 == 0 && len(days)-1-i >= 4 || i == len(days)-1 {
			c.Labels = append(c.Labels, tick{X: x + bw*1.5, Y: float64(c.Height - 8), Text: d.Day.Format("Jan 2")})
		}
	}
	return c
}

// niceStep is a round distance between grid lines for values up to most.
func niceStep(most int) int {
	for _, s := range []int{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000} {
		if most/s <= 5 {
			return s
		}
	}
	return most / 5
}
