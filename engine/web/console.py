"""The analyst console: server-rendered HTML pages, plain forms, no script, no build step.

The list shows the cases that need a person, by deadline (nearing in amber, passed in
red); a case page shows the trade, both sides, the reference price and its source, the
series (OrderID, aggressor), the band and the deviation, a price chart, the history of
steps and notices, and the actions its state allows.
"""

from __future__ import annotations

from html import escape

from engine.review import cases as c
from engine.web.chart import price_chart

OPEN_WORK = (c.OPEN, c.UNDER_REVIEW, c.DETERMINED, c.APPEALED)

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#f4f5f7}
header{background:#1f3a5f;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#fff} main{padding:16px 20px;max-width:1100px}
table{border-collapse:collapse;background:#fff;width:100%;margin:8px 0 16px}
th,td{border:1px solid #dde;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f6} .num{text-align:right;font-variant-numeric:tabular-nums}
.nearing{background:#fff4d6} .passed{background:#fde2e2;color:#8b0000;font-weight:600}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;background:#dde4ee}
.erroneous{color:#b00020;font-weight:600} section{background:#fff;padding:10px 14px;
margin:0 0 14px;border:1px solid #dde} button{padding:6px 14px;margin-right:6px}
button.bust{background:#b00020;color:#fff;border:0} button.stand{background:#2e7d32;
color:#fff;border:0} textarea{width:100%;min-height:48px} .grid{display:flex;gap:14px}
.grid>section{flex:1}
"""


def _page(title: str, body: str, analyst: str | None = None) -> str:
    who = f"<span>analyst <b>{escape(analyst)}</b></span>" if analyst else ""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(title)} · ceguard</title><style>{_STYLE}</style></head><body>"
            f"<header><b>ceguard review</b><a href='/console'>open cases</a>"
            f"<a href='/console?show=all'>all cases</a>{who}</header>"
            f"<main>{body}</main></body></html>")


def login_page(error: str | None) -> str:
    problem = f"<p class='passed'>{escape(error)}</p>" if error else ""
    return _page("sign in", f"""<h1>Analyst sign-in</h1>{problem}
<form method="post" action="/console/login"><p><label>Analyst token
<input type="password" name="token" id="token" size="50" autofocus></label></p>
<button type="submit" id="sign-in">Sign in</button></form>""")


def error_page(status: int, message: str) -> str:
    return _page(f"error {status}", f"<h1>Refused ({status})</h1><p>{escape(message)}</p>"
                 "<p><a href='javascript:history.back()'>back</a> · "
                 "<a href='/console'>open cases</a></p>")


def _deadline(case: dict) -> tuple[str, str]:
    if case["deadline_at"] is None:
        return "", "-"
    left = case["seconds_left"]
    when = "passed " + _minutes(-left) + " ago" if left <= 0 else "in " + _minutes(left)
    return (case["deadline_status"] if case["deadline_status"] != "ok" else "",
            f"{escape(case['deadline'])} {escape(case['deadline_at'])} ({when})")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def case_list(cases: list[dict], analyst: str, show: str) -> str:
    shown = cases if show == "all" else [x for x in cases if x["state"] in OPEN_WORK]
    rows = []
    for case in shown:
        css, deadline = _deadline(case)
        pick = (f"<input type='checkbox' name='case-{case['id']}' value='{case['id']}'>"
                if case["state"] in c.ACTIVE else "")
        rows.append(
            f"<tr class='{css}' data-case='{case['id']}'><td>{pick}</td>"
            f"<td><a href='/console/cases/{case['id']}'>case {case['id']}</a></td>"
            f"<td>{escape(case['kind'])}</td><td><span class='badge'>"
            f"{escape(case['state'])}</span></td><td>{escape(', '.join(case['symbols']))}</td>"
            f"<td class='num'>{len(case['exec_ids'])}</td>"
            f"<td>{escape(', '.join(case['firms']))}</td><td>{deadline}</td>"
            f"<td>{escape(case['analyst'] or '')}</td><td>{escape(case['outcome'] or '')}</td>"
            "</tr>")
    title = "All cases" if show == "all" else "Open cases, by deadline"
    table = ("<p>No cases.</p>" if not rows else
             "<table id='cases'><tr><th></th><th>case</th><th>kind</th><th>state</th>"
             "<th>symbols</th><th>executions</th><th>firms</th><th>deadline</th>"
             "<th>analyst</th><th>outcome</th></tr>" + "".join(rows) + "</table>")
    return _page(title, f"""<h1>{title}</h1>
<form method="post" action="/console/events">{table}
<p>Join the ticked cases into one multi-stock event case:
<input name="reason" placeholder="why (e.g. market-wide drop 14:02)" size="40">
<button type="submit" id="declare-event">Declare multi-stock event</button></p></form>""",
                 analyst)


def case_page(case: dict, chart: dict, analyst: str) -> str:
    css, deadline = _deadline(case)
    first = (case["executions"][0]["record"] or {}) if case["executions"] else {}
    body = [f"<h1>Case {case['id']} <span class='badge' id='state'>{escape(case['state'])}"
            f"</span></h1>",
            f"<p class='{css}' id='deadline'>Deadline: {deadline}</p>",
            f"<p>{escape(case['kind'])} case opened {escape(case['opened_at'])} by "
            f"{escape(case['origin'])}"
            + (f"; determined <b>{escape(case['outcome'])}</b> by {escape(case['analyst'])}: "
               f"{escape(case['reason'] or '')}" if case["outcome"] else "")
            + (f"; appeal {escape(case['appeal_outcome'])}" if case["appeal_outcome"] else "")
            + "</p>",
            _executions(case["executions"]),
            "<div class='grid'>",
            _reference(first, case),
            f"<section><h2>{escape(chart['symbol'] or '')} around the trade</h2>"
            f"{price_chart(chart)}</section></div>",
            _actions(case),
            _history(case)]
    return _page(f"case {case['id']}", "".join(body), analyst)


def _executions(executions: list[dict]) -> str:
    rows = []
    for e in executions:
        r = e["record"]
        if r is None:  # its trading day was archived
            rows.append(f"<tr><td colspan='11'>fill #{e['fill_seq']}: archived with its "
                        "trading day (<code>ceguard journal --date</code>)</td></tr>")
            continue
        rows.append(
            f"<tr><td>{escape(r['exec_id'])}</td><td>{escape(r['symbol'])}</td>"
            f"<td>{escape(r['side'])}</td><td>{escape(e['firm'] or '?')}</td>"
            f"<td class='num'>{escape(str(r['qty']))}</td><td class='num'>"
            f"{escape(r['price'])}</td><td>{escape(r['transact_time'])}</td>"
            f"<td>{escape(r['trade_id'] or '')}</td><td>{escape(e['order_id'] or '')}"
            f"{' (aggressor)' if e['aggressor'] == 'Y' else ''}</td>"
            f"<td class='num'>{escape(str(r['deviation_pct']))}%</td>"
            f"<td class='{escape(r['verdict'])}'>{escape(r['verdict'])}</td></tr>")
    return ("<section><h2>Executions (both sides)</h2><table id='executions'><tr><th>exec id"
            "</th><th>symbol</th><th>side</th><th>firm</th><th>qty</th><th>price</th>"
            "<th>time (UTC)</th><th>trade (880)</th><th>series: order</th><th>deviation"
            "</th><th>engine verdict</th></tr>" + "".join(rows) + "</table></section>")


def _reference(r: dict, case: dict) -> str:
    if not r:
        return "<section><h2>Reference</h2><p>-</p></section>"
    event = f"{r['event_size']} securities" if r["event_size"] else "none"
    if not r["event_size"] and case["kind"] == "event":  # gathered after each was judged
        event = f"{len(case['symbols'])} securities in this case (each judged alone)"
    return f"""<section><h2>Reference and band</h2><table id='reference'>
<tr><th>reference price</th><td>{escape(str(r['reference_price']))}
 ({escape(r['reference_source'])})</td></tr>
<tr><th>session</th><td>{escape(r['session'])}</td></tr>
<tr><th>leverage</th><td>{escape(str(r['leverage']))}</td></tr>
<tr><th>threshold</th><td>{escape(str(r['threshold_pct']))}% (rule {escape(str(r['rule']))})
</td></tr>
<tr><th>band</th><td>{escape(str(r['band_low']))} .. {escape(str(r['band_high']))}</td></tr>
<tr><th>deviation</th><td>{escape(str(r['deviation_pct']))}%</td></tr>
<tr><th>multi-stock event</th><td>{event}</td></tr></table></section>"""


def _actions(case: dict) -> str:
    base = f"/console/cases/{case['id']}"
    forms = []
    if case["state"] == c.OPEN:
        forms.append(f"<form method='post' action='{base}/take'><button id='take' "
                     "type='submit'>Take under review</button></form>")
    if case["state"] == c.UNDER_REVIEW:
        forms.append(f"""<form method='post' action='{base}/determine'>
<p><label>Reason (journaled and sent to both parties)<textarea name='reason' id='reason'
 required></textarea></label></p>
<button class='bust' id='bust' name='outcome' value='bust'>Bust</button>
<button class='stand' id='stand' name='outcome' value='stand'>Stand</button></form>""")
    if case["state"] == c.APPEALED:
        forms.append(f"""<form method='post' action='{base}/appeal-decision'>
<p><label>Reason of the appeal decision<textarea name='reason' id='reason' required>
</textarea></label></p>
<button id='uphold' name='outcome' value='upheld'>Uphold the determination</button>
<button id='overturn' name='outcome' value='overturned'>Overturn it</button></form>""")
    if case["kind"] == "event" and case["state"] in c.ACTIVE:
        forms.append(f"""<form method='post' action='{base}/dissolve'>
<p><label>Dissolve the multi-stock event into one case per trade:
<input name='reason' required size='40'></label>
<button id='dissolve'>Dissolve event</button></p></form>""")
    if not forms:
        return ""
    return "<section><h2>Actions</h2>" + "".join(forms) + "</section>"


def _history(case: dict) -> str:
    steps = "".join(f"<tr><td>{escape(s['at'])}</td><td>{escape(s['actor'])}</td>"
                    f"<td>{escape(s['action'])}</td><td>{escape(s['state'])}</td>"
                    f"<td>{escape(s['detail'] or '')}</td></tr>" for s in case["steps"])
    notices = "".join(f"<tr><td>{escape(n['at'])}</td><td>{escape(n['kind'])}</td>"
                      f"<td>{escape(n['firm'])}</td><td>{escape(n['session'])}</td>"
                      f"<td>{escape(n['status'])}</td></tr>" for n in case["notices"])
    return ("<section><h2>History (who, when, why)</h2><table id='steps'><tr><th>when</th>"
            "<th>who</th><th>step</th><th>state after</th><th>detail</th></tr>" + steps +
            "</table>" + ("<h3>FIX notices (News 35=B)</h3><table id='notices'><tr>"
                          "<th>when</th><th>kind</th><th>firm</th><th>session</th>"
                          "<th>result</th></tr>" + notices + "</table>" if notices else "")
            + "</section>")
