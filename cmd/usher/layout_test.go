package main

// layoutProblems measures the page shown and lists what a person would see
// go wrong, each naming the element: the page wider than the window, an
// element sticking out of it, text cut off by a box that hides what
// overflows it, a word of a table broken
// across lines (long tokens such as emails, ids and URLs may break), and
// chart labels that overlap, stick out of the chart or are too small to read.
const layoutProblems = `(() => {
	const out = [];
	const name = el => {
		let s = el.tagName.toLowerCase();
		if (el.id) s += '#' + el.id;
		if (typeof el.className === 'string' && el.className.trim()) s += '.' + el.className.trim().split(/\s+/).join('.');
		const text = (el.textContent || '').trim().replace(/\s+/g, ' ');
		return s + (text ? ' "' + text.slice(0, 40) + '"' : '');
	};
	// Shown, and not hidden away in a 1px box for screen readers.
	const shown = el => {
		if (!el.checkVisibility() || el.getClientRects().length === 0) return false;
		for (let a = el; a; a = a.parentElement) {
			const r = a.getBoundingClientRect();
			if (r.width <= 1 || r.height <= 1) return false;
		}
		return true;
	};
	const de = document.documentElement;
	if (de.scrollWidth > de.clientWidth) {
		let widest = null;
		for (const el of document.body.querySelectorAll('*')) {
			if (shown(el) && el.getBoundingClientRect().right > de.clientWidth + 0.5 &&
				(!widest || el.getBoundingClientRect().right > widest.getBoundingClientRect().right)) widest = el;
		}
		out.push('the page is ' + (de.scrollWidth - de.clientWidth) + 'px wider than the window' + (widest ? ', widest: ' + name(widest) : ''));
	}
	// Inside a box that scrolls, sticking out is what the box is for.
	const scrolls = el => {
		for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
			if (['auto', 'scroll'].includes(getComputedStyle(a).overflowX)) return true;
		}
		return false;
	};
	for (const el of document.body.querySelectorAll('*')) {
		if (!shown(el)) continue;
		const r = el.getBoundingClientRect();
		// Wholly outside (a skip link until it has focus) is hidden on purpose.
		const partly = r.right > 0 && r.left < de.clientWidth;
		if (partly && (r.right > de.clientWidth + 0.5 || r.left < -0.5) && !scrolls(el)) out.push(name(el) + ' sticks out of the window: ' + Math.round(r.left) + ' to ' + Math.round(r.right) + 'px');
		if (el.matches('input, textarea, select, iframe, svg, svg *')) continue;
		const cs = getComputedStyle(el);
		const hides = v => v === 'hidden' || v === 'clip';
		if (hides(cs.overflowX) && el.scrollWidth > el.clientWidth + 1) out.push(name(el) + ' cuts its text off on the right (' + el.scrollWidth + 'px in ' + el.clientWidth + 'px)');
		else if (hides(cs.overflowY) && el.scrollHeight > el.clientHeight + 1) out.push(name(el) + ' cuts its text off at the bottom (' + el.scrollHeight + 'px in ' + el.clientHeight + 'px)');
	}
	const token = w => /[@\/|_:]|\.\w/.test(w) || /\d/.test(w) && w.length > 12;
	for (const cell of document.querySelectorAll('td, th')) {
		if (!shown(cell)) continue;
		const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
		for (let n = walk.nextNode(); n; n = walk.nextNode()) {
			if (!n.parentElement || !shown(n.parentElement) || n.parentElement.closest('code, pre')) continue;
			for (const m of n.data.matchAll(/\S+/g)) {
				if (token(m[0])) continue;
				const r = document.createRange();
				r.setStart(n, m.index);
				r.setEnd(n, m.index + m[0].length);
				const lines = new Set([...r.getClientRects()].filter(b => b.width > 0).map(b => Math.round(b.bottom)));
				if (lines.size > 1) out.push('the word "' + m[0] + '" is broken across lines in ' + name(cell));
			}
		}
	}
	for (const svg of document.querySelectorAll('svg')) {
		if (!shown(svg)) continue;
		const box = svg.getBoundingClientRect();
		const labels = [...svg.querySelectorAll('text')].map(t => [t, t.getBoundingClientRect()]);
		for (const [t, r] of labels) {
			if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5)
				out.push('the chart label "' + t.textContent + '" sticks out of the chart');
			const vb = svg.viewBox.baseVal;
			const size = parseFloat(getComputedStyle(t).fontSize) * (vb && vb.width ? box.width / vb.width : 1);
			if (size < 10) out.push('the chart label "' + t.textContent + '" is ' + size.toFixed(1) + 'px high, too small to read');
		}
		for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) {
			const [a, ra] = labels[i], [b, rb] = labels[j];
			if (ra.left < rb.right && rb.left < ra.right && ra.top < rb.bottom && rb.top < ra.bottom)
				out.push('the chart labels "' + a.textContent + '" and "' + b.textContent + '" overlap');
		}
	}
	return out;
})()`

// wantLooksRight checks the page shown at width and reports each problem
// with the page and the width.
func (p *browserTab) wantLooksRight(page string, width int) {
	p.t.Helper()
	for _, problem := range evalIn[[]string](p, layoutProblems) {
		p.t.Errorf("%s at %dpx: %s", page, width, problem)
	}
}
