/// The stylesheet and the live-update script, served as files so the pages need no
/// inline script (the Content-Security-Policy forbids it). No build step, no framework.
enum Assets {
    static let css = #"""
    :root { --fg:#1d232a; --muted:#66707a; --line:#dde2e6; --bg:#fff; --accent:#0b5cad;
      --ok:#19733a; --bad:#b3261e; --warn:#8a5a00; --run:#0b6e99; --stop:#a33a00; }
    * { box-sizing: border-box; }
    body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
    code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 0.9em; }
    pre { white-space: pre-wrap; word-break: break-word; max-height: 24em; overflow: auto; background:#f5f7f8; padding:.5em; }
    a { color: var(--accent); }
    header.top { display:flex; flex-wrap:wrap; gap:.5em 1.2em; align-items:center; padding:.6em 1em; border-bottom:1px solid var(--line); background:#f7f9fa; }
    header.top .brand { font-weight:700; text-decoration:none; color:var(--fg); }
    header.top nav { display:flex; flex-wrap:wrap; gap:.2em 1em; }
    header.top nav a[aria-current] { font-weight:700; text-decoration:none; color:var(--fg); }
    header.top .broker { margin-left:auto; color:var(--muted); font-size:.85em; word-break:break-all; }
    main { padding: .8em 1em 3em; max-width: 78em; }
    h1 { font-size:1.4em; margin:.3em 0; word-break:break-word; }
    h2 { font-size:1.1em; margin:1.2em 0 .4em; }
    section { margin-bottom: 1em; }
    .grid { display:grid; grid-template-columns: repeat(auto-fit, minmax(18em, 1fr)); gap: 0 2em; }
    .muted { color: var(--muted); }
    .scroll { overflow-x:auto; -webkit-overflow-scrolling: touch; }
    table { border-collapse:collapse; width:100%; min-width: 32em; }
    th, td { text-align:left; vertical-align:top; padding:.35em .5em; border-bottom:1px solid var(--line); }
    table.numbers { min-width: 0; width:auto; }
    table.numbers td { text-align:right; font-variant-numeric: tabular-nums; }
    caption { text-align:left; color:var(--muted); font-size:.85em; }
    td.name, .name { word-break: break-word; }
    dl.facts { display:grid; grid-template-columns: max-content 1fr; gap:.2em 1em; margin:.5em 0; }
    dl.facts dt { color:var(--muted); }
    dl.facts dd { margin:0; word-break:break-word; }
    .badge { display:inline-block; padding:0 .45em; border-radius:.3em; font-size:.8em; font-weight:600; letter-spacing:.02em; background:#eef1f3; color:var(--fg); }
    .state-succeeded.badge { background:#dff3e5; color:var(--ok); }
    .state-failed.badge, .state-expired.badge { background:#fbe3e1; color:var(--bad); }
    .state-cancelled.badge { background:#fdf0d9; color:var(--warn); }
    .state-stopped.badge, .state-draining.badge { background:#ffe6d6; color:var(--stop); }
    .state-running.badge { background:#dcf0fa; color:var(--run); }
    ul.counts { list-style:none; padding:0; display:flex; flex-wrap:wrap; gap:.4em 1.4em; }
    ol.blocks { display:flex; flex-wrap:wrap; gap:.3em 1em; padding-left:0; list-style:none; }
    ol.attempts { margin:0; padding-left:1.1em; }
    ol.events { font-size:.88em; padding-left:0; list-style:none; max-height: 22em; overflow:auto; border:1px solid var(--line); }
    ol.events li { padding:.15em .5em; border-bottom:1px solid #f0f2f4; word-break: break-word; }
    .track { position:relative; height:.9em; min-width:8em; background:#f1f3f5; border-radius:.2em; }
    .bar { position:absolute; top:0; bottom:0; border-radius:.2em; background:var(--run); }
    .outcome-succeeded { background-color: transparent; }
    .bar.outcome-succeeded { background:var(--ok); }
    .bar.outcome-failed, .bar.outcome-retried { background:var(--bad); }
    .bar.outcome-cancelled, .bar.outcome-stopped { background:var(--warn); }
    li.outcome-failed, li.outcome-retried { color: var(--bad); }
    td.result .error { color: var(--bad); }
    td.result details summary { cursor:pointer; }
    .notice { padding:.6em .8em; border-radius:.3em; margin:.6em 0; background:#eef4fb; border:1px solid #c9dcf0; }
    .notice.error { background:#fbe9e7; border-color:#f0c2bc; }
    .notice.warn { background:#fff6e0; border-color:#f0dca6; }
    .notice.stop { background:#b3261e; border-color:#8c1d17; color:#fff; font-size:1.05em; }
    .notice.stop ul { margin:.3em 0 0; }
    form.filters, form.action { display:flex; flex-wrap:wrap; gap:.5em 1em; align-items:flex-end; margin:.6em 0; padding:.6em; border:1px solid var(--line); border-radius:.3em; }
    form label { display:flex; flex-direction:column; font-size:.9em; gap:.15em; }
    form label.confirm { flex-direction:row; align-items:center; gap:.4em; }
    input, select, button { font:inherit; padding:.35em .5em; }
    button { cursor:pointer; border:1px solid #aab4bd; background:#f4f6f8; border-radius:.3em; }
    form.danger button { border-color: var(--bad); color: var(--bad); }
    nav.pager { display:flex; gap:1.5em; margin:.8em 0; }
    @media (max-width: 40em) {
      body { font-size:14px; }
      main { padding:.5em .6em 2em; }
      table { min-width: 28em; }
      .track { min-width: 5em; }
      /* The jobs table as one card per job: no sideways scrolling for the main content. */
      table.jobs { min-width: 0; }
      table.jobs thead { display: none; }
      table.jobs tr { display: block; padding: .4em 0; border-bottom: 1px solid var(--line); }
      table.jobs td { display: block; border: 0; padding: .1em .3em; }
      table.jobs td.timeline { padding: .3em; }
    }
    """#

    /// The live script: reloads pages marked `data-refresh` (not while a form is being
    /// filled in); follows `/workflows/ID/events` (server-sent events, fed by WATCH),
    /// writes each event into the list and re-reads `#workflow-body` (at most once a
    /// second) so states, attempts and outputs follow; asks before a form with
    /// `data-confirm` is sent. Text from events goes in with `textContent` only.
    static let js = #"""
    "use strict";
    (function () {
      document.addEventListener("submit", function (e) {
        var f = e.target;
        if (f && f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) e.preventDefault();
      });
      var every = Number(document.body.dataset.refresh || 0);
      if (every > 0) {
        setInterval(function () {
          var a = document.activeElement;
          var typing = a && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName);
          var edited = Array.prototype.some.call(document.querySelectorAll("form input"), function (i) {
            return i.type === "checkbox" ? i.checked !== i.defaultChecked : i.value !== i.defaultValue;
          });
          if (!typing && !edited) location.reload();
        }, every * 1000);
      }
      var live = document.getElementById("live");
      if (!live || live.dataset.final === "true" || !window.EventSource) return;
      var body = document.getElementById("workflow-body");
      var list = document.getElementById("events");
      var label = document.getElementById("live-state");
      var pending = false, last = 0;
      function refresh() {
        if (pending) return;
        pending = true;
        var wait = Math.max(0, 1000 - (Date.now() - last));
        setTimeout(function () {
          fetch(body.dataset.fragment, { headers: { "Accept": "text/html" } })
            .then(function (r) { return r.ok ? r.text() : null; })
            .then(function (html) { if (html !== null) body.innerHTML = html; })
            .catch(function () {})
            .then(function () { pending = false; last = Date.now(); });
        }, wait);
      }
      function line(ev) {
        var li = document.createElement("li");
        var head = document.createElement("span");
        head.className = "muted";
        head.textContent = ev.seq + " " + ev.at;
        var kind = document.createElement("strong");
        kind.textContent = ev.kind;
        var rest = [];
        ["block", "job_id", "attempt", "worker", "error", "reason"].forEach(function (k) {
          if (ev[k] !== undefined) rest.push(k + "=" + (typeof ev[k] === "string" ? ev[k] : JSON.stringify(ev[k])));
        });
        li.appendChild(head);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(kind);
        li.appendChild(document.createTextNode(" " + rest.join(" ")));
        li.dataset.seq = ev.seq;
        list.appendChild(li);
        list.scrollTop = list.scrollHeight;
      }
      var source = new EventSource(live.dataset.events);
      source.addEventListener("baton", function (m) {
        try { line(JSON.parse(m.data)); } catch (err) {}
        refresh();
      });
      source.addEventListener("end", function (m) {
        source.close();
        label.textContent = "(finished: " + m.data + ")";
        live.dataset.final = "true";
        refresh();
      });
      source.addEventListener("unavailable", function (m) {
        label.textContent = "(live updates paused: " + m.data + ")";
      });
      source.onopen = function () { if (live.dataset.final !== "true") label.textContent = "(live)"; };
    })();
    """#
}
