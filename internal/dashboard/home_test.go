package dashboard

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/usherid/usher/internal/identity"
)

// TestChartLabelsFit lays the home chart out for a range of figures and
// checks, for the narrowest phone and a wide screen, that every label lies
// inside the chart and no two overlap: the labels keep their pixel size while
// the chart's width changes.
func TestChartLabelsFit(t *testing.T) {
	const (
		fontPx = 12  // .chart .axis in dashboard.css
		charPx = 7.5 // a generous width of one character at that size
	)
	start := time.Date(2024, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		days, most int
	}{{0, 0}, {1, 3}, {7, 1}, {30, 0}, {30, 4}, {30, 37}, {30, 999}, {30, 12345}, {30, 2_000_000}} {
		days := make([]identity.InvitationDay, tc.days)
		for i := range days {
			days[i] = identity.InvitationDay{Day: start.AddDate(0, 0, i), Sent: tc.most * (i % 3) / 2, Accepted: tc.most / 3, Expired: tc.most}
		}
		c := drawChart(days)
		name := fmt.Sprintf("%d days up to %d", tc.days, tc.most)
		if len(c.Ticks) < 2 || len(c.Ticks) > 7 {
			t.Errorf("%s: %d values on the scale", name, len(c.Ticks))
		}
		for _, k := range c.Ticks {
			if top := k.Y - 4 - fontPx; top < 0 || k.Y > float64(c.Height-chartBottom)+0.01 {
				t.Errorf("%s: the value %s at y=%.1f is cut off", name, k.Text, k.Y)
			}
		}
		for i := 1; i < len(c.Ticks); i++ {
			if gap := c.Ticks[i-1].Y - c.Ticks[i].Y; gap < fontPx+2 {
				t.Errorf("%s: the values %s and %s are %.1fpx apart", name, c.Ticks[i-1].Text, c.Ticks[i].Text, gap)
			}
		}
		for _, b := range c.Bars {
			if b.X < 0 || b.X+b.W > 100 || b.Y < chartTop-0.01 || b.Y+b.H > float64(c.Height-chartBottom)+0.01 {
				t.Errorf("%s: bar %+v leaves the plot", name, b)
			}
		}
		if tc.days > 0 && (len(c.Labels) == 0 || c.Labels[len(c.Labels)-1].Text != days[tc.days-1].Day.Format("Jan 2")) {
			t.Errorf("%s: the last day has no label: %+v", name, c.Labels)
		}
		for _, width := range []float64{260, 1120} {
			prevRight := math.Inf(-1)
			for _, l := range c.Labels {
				w := float64(len(l.Text)) * charPx
				x := l.X / 100 * width
				left := map[string]float64{"start": x, "middle": x - w/2, "end": x - w}[l.Anchor]
				if left < 0 || left+w > width {
					t.Errorf("%s, %.0fpx wide: the label %q runs from %.1f to %.1f", name, width, l.Text, left, left+w)
				}
				if left < prevRight+4 {
					t.Errorf("%s, %.0fpx wide: the label %q overlaps the one before", name, width, l.Text)
				}
				prevRight = left + w
			}
		}
	}
}
