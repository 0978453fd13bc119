package dashboard

import (
	"fmt"
	"net/http"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/outbox"
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

// chart is a grouped bar chart drawn as inline SVG on the server. Its
// horizontal positions are percentages of the chart's width and its
// vertical ones pixels, with no viewBox: the bars stretch with the screen
// while the labels keep their size, so they stay legible on a phone and
// never grow huge on a wide screen.
type chart struct {
	Height int
	Bars   []bar
	Ticks  []tick
	Labels []label
}

// bar is one bar: X and W in percent of the width, Y and H in pixels.
type bar struct {
	X, W, Y, H float64
	Class      string
	Title      string
}

// tick is a value on the vertical scale: its grid line at Y and its label
// just above the line, at the left edge.
type tick struct {
	Y    float64
	Text string
}

// label is a day under the bars: X in percent, anchored at its start, its
// middle or its end so that it stays inside the chart.
type label struct {
	X      float64
	Anchor string
	Text   string
}

// The chart's vertical layout, in pixels: the top leaves room for the
// highest value's label, the bottom for the days.
const (
	chartHeight = 220
	chartTop    = 20
	chartBottom = 24
	// chartLabelGap is how many days at least lie between two day labels.
	chartLabelGap = 5
)

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
		if _, h.DeadMails, err = d.mails.Outbox(ctx, mail.Query{Status: outbox.Dead}); err != nil {
			d.fail(w, err)
			return
		}
		d.render(w, http.StatusOK, "home", s.view("Home", "home", "", h))
	})
}

// drawChart lays out three bars a day (sent, accepted, expired) under a
// value scale, with a day label every week and on the last day.
func drawChart(days []identity.InvitationDay) chart {
	c := chart{Height: chartHeight}
	plotH := float64(chartHeight - chartTop - chartBottom)
	most := 1
	for _, d := range days {
		most = max(most, d.Sent, d.Accepted, d.Expired)
	}
	step := niceStep(most)
	top := ((most + step - 1) / step) * step
	scale := plotH / float64(top)
	for v := 0; v <= top; v += step {
		c.Ticks = append(c.Ticks, tick{Y: chartTop + plotH - float64(v)*scale, Text: fmt.Sprint(v)})
	}
	if len(days) == 0 {
		return c
	}
	slot := 100 / float64(len(days))
	bw := slot / 4
	for i, d := range days {
		x := float64(i)*slot + bw/2
		for j, s := range []struct {
			n    int
			what string
		}{{d.Sent, "sent"}, {d.Accepted, "accepted"}, {d.Expired, "expired"}} {
			h := float64(s.n) * scale
			c.Bars = append(c.Bars, bar{X: x + float64(j)*bw, W: bw, Y: chartTop + plotH - h, H: h, Class: s.what,
				Title: fmt.Sprintf("%s: %d %s", d.Day.Format("Jan 2"), s.n, s.what)})
		}
		last := i == len(days)-1
		if i%7 != 0 && !last || !last && len(days)-1-i < chartLabelGap {
			continue
		}
		l := label{X: x + bw*1.5, Anchor: "middle", Text: d.Day.Format("Jan 2")}
		switch {
		case i == 0:
			l.X, l.Anchor = float64(i)*slot, "start"
		case last:
			l.X, l.Anchor = 100, "end"
		}
		c.Labels = append(c.Labels, l)
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
