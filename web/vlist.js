// vlist.js - a virtualised list of fixed-height rows: only the rows in view (plus a
// small overscan) exist in the DOM, so 100,000 runs or 5,000 spans scroll smoothly.

export class VList {
	// opts: {scroller: Element (overflow:auto), rowHeight, renderRow(i) -> Element,
	//        onNearEnd?(), overscan?}
	constructor(opts) {
		this.scroller = opts.scroller;
		this.rowHeight = opts.rowHeight;
		this.renderRow = opts.renderRow;
		this.onNearEnd = opts.onNearEnd || null;
		this.overscan = opts.overscan || 8;
		this.count = 0;
		this.rows = new Map(); // index -> element
		this.spacer = document.createElement('div');
		this.spacer.className = 'vlist-spacer';
		this.spacer.setAttribute('role', 'presentation');
		this.scroller.appendChild(this.spacer);
		this.pending = false;
		this.onScroll = () => this.schedule();
		this.scroller.addEventListener('scroll', this.onScroll, { passive: true });
		this.ro = new ResizeObserver(() => this.schedule());
		this.ro.observe(this.scroller);
	}

	destroy() {
		this.scroller.removeEventListener('scroll', this.onScroll);
		this.ro.disconnect();
	}

	setCount(n) {
		this.count = n;
		this.spacer.style.height = `${n * this.rowHeight}px`;
		this.schedule();
	}

	// Rebuilds every rendered row (data changed).
	refresh() {
		for (const el of this.rows.values()) el.remove();
		this.rows.clear();
		this.render();
	}

	schedule() {
		if (this.pending) return;
		this.pending = true;
		requestAnimationFrame(() => { this.pending = false; this.render(); });
	}

	render() {
		const rh = this.rowHeight;
		const top = this.scroller.scrollTop;
		const height = this.scroller.clientHeight || 600;
		const first = Math.max(0, Math.floor(top / rh) - this.overscan);
		const last = Math.min(this.count - 1, Math.ceil((top + height) / rh) + this.overscan);
		for (const [i, el] of this.rows) {
			if (i < first || i > last) { el.remove(); this.rows.delete(i); }
		}
		for (let i = first; i <= last; i++) {
			if (this.rows.has(i)) continue;
			const el = this.renderRow(i);
			el.style.top = `${i * rh}px`;
			el.style.height = `${rh}px`;
			this.rows.set(i, el);
			this.spacer.appendChild(el);
		}
		if (this.onNearEnd && last >= this.count - 1 - this.overscan * 3) this.onNearEnd();
	}

	// Scrolls the least amount so row i is visible.
	scrollToIndex(i) {
		const rh = this.rowHeight;
		const top = i * rh;
		const s = this.scroller;
		const headerPad = 0;
		if (top < s.scrollTop + headerPad) s.scrollTop = top - headerPad;
		else if (top + rh > s.scrollTop + s.clientHeight) s.scrollTop = top + rh - s.clientHeight;
		this.render();
	}

	rowElement(i) { return this.rows.get(i) || null; }
}
