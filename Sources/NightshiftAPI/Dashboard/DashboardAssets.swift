/// The dashboard's style and script, inlined in every page: no build step, no other request.
enum DashboardAssets {
    static let css = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
        header{display:flex;gap:1.5em;align-items:center;padding:.6em 1.2em;background:#1d2430;color:#fff}
        header a{color:#cfe3ff;text-decoration:none;margin-right:.8em}.brand{font-weight:700;color:#fff!important}
        .live{margin-left:auto;font-size:12px;padding:.1em .6em;border-radius:1em;background:#555}.live.ok{background:#2d7d46}.live.bad{background:#b3261e}
        main{padding:1em 1.2em;max-width:1400px}h1{font-size:20px}h2{font-size:16px;margin:1.2em 0 .4em}
        table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.25em .5em;border-bottom:1px solid #e3e6ea;vertical-align:top}
        th{font-weight:600;color:#555;font-size:12px}td.c-task a{font-family:ui-monospace,monospace;font-size:12px}
        .rail{background:#fff7e6;border:1px solid #f0c36d;border-radius:6px;padding:.2em 1em .8em}
        .rail ul{list-style:none;padding:0;margin:0}.need{padding:.5em 0;border-bottom:1px solid #f0dcae}
        .badge{display:inline-block;padding:0 .5em;border-radius:1em;background:#e5e7eb;font-size:12px}
        .need-decision .badge{background:#ffd666}.need-failed .badge,.need-issue .badge{background:#ffb4ab}.need-budget .badge,.need-usage .badge{background:#d7c4ff}.need-blocked .badge{background:#ffcf9e}
        .need-body,.prompt{white-space:pre-wrap;margin:.3em 0}.meta{color:#667;font-size:12px}.empty{color:#889;font-style:italic}
        form.inline{display:inline}textarea{width:60%;vertical-align:top}.form-error{color:#b3261e;margin-left:.5em}
        .filters{display:flex;flex-wrap:wrap;gap:.6em;align-items:center;margin-bottom:.6em}.bulk-links{margin-left:auto}
        .counts .cnt{margin-right:1em;color:#555}.st-failed td.c-outcome{color:#b3261e}.st-completed td.c-outcome{color:#2d7d46}
        .ph{display:inline-block;padding:0 .4em;margin-right:2px;border-radius:3px;font-size:12px;background:#eee;color:#999}
        .ph-done{background:#cdeccd;color:#225522}.ph-current{background:#ffe7a3;color:#553300;font-weight:600}
        pre{background:#fff;border:1px solid #e3e6ea;padding:.6em;overflow:auto;white-space:pre-wrap}#log{max-height:32em;font-size:12px}
        #log .err{background:#ffe9e6}#log .hit{background:#fff3b0}#log .here{outline:2px solid #b3261e}#log .gone{display:none}
        .fields th{width:12em}.issue{padding:.3em 0}.sev-critical b,.sev-fatal b{color:#b3261e}
        """

    /// Live updates: one `EventSource` on `/api/agent/events`, resumed after the event the page
    /// was rendered at (the browser sends `Last-Event-ID` on its own reconnects). Each event
    /// fetches the server-rendered fragment of the one task it is about, and swaps it in.
    /// Nothing here builds HTML from event data: the server renders and escapes it.
    static let js = """
        (function () {
          "use strict";
          var body = document.body, live = document.getElementById("live");
          var filter = body.dataset.filter || "", page = body.dataset.page;
          var latest = new Map(), seq = 0;
          window.nightshift = { applied: 0, latencies: [] };
          function setLive(text, cls) { if (live) { live.textContent = text; live.className = "live " + cls; } }
          function fmt(s) {
            s = Math.max(0, Math.floor(s));
            if (s < 60) return s + "s";
            if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
            return Math.floor(s / 3600) + "h" + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m";
          }
          function tick() {
            document.querySelectorAll("[data-since]").forEach(function (el) {
              el.textContent = fmt((Date.now() - Date.parse(el.dataset.since)) / 1000);
            });
          }
          setInterval(tick, 1000); tick();
          function emptyMarks() {
            var list = document.getElementById("needs-list"), empty = document.getElementById("needs-empty");
            if (list && empty) empty.hidden = list.children.length > 0;
          }
          function counts(header) {
            if (!header) return;
            header.split("&").forEach(function (pair) {
              var kv = pair.split("="), el = document.querySelector('[data-count="' + kv[0] + '"]');
              if (el) el.textContent = kv[1];
            });
          }
          function apply(id, html, at) {
            var old = document.getElementById("row-" + id); if (old) old.remove();
            var need = document.getElementById("need-" + id); if (need) need.remove();
            var t = document.createElement("template"); t.innerHTML = html;
            Array.prototype.slice.call(t.content.children).forEach(function (el) {
              if (el.dataset.section) {
                var tb = document.querySelector('tbody[data-section="' + el.dataset.section + '"]');
                if (!tb) return;
                tb.insertBefore(el, tb.firstChild);
                var limit = parseInt(tb.dataset.limit || "0", 10);
                while (limit > 0 && tb.children.length > limit) tb.removeChild(tb.lastChild);
              } else if (el.classList.contains("need")) {
                var list = document.getElementById("needs-list"); if (list) list.insertBefore(el, list.firstChild);
              }
            });
            emptyMarks(); tick();
            window.nightshift.applied++;
            if (at) window.nightshift.latencies.push(Date.now() - Date.parse(at));
          }
          function refreshRow(id, at) {
            var mine = ++seq; latest.set(id, mine);
            fetch("/dashboard/fragment/" + encodeURIComponent(id) + (filter ? "?" + filter : ""), { credentials: "same-origin" })
              .then(function (r) { return r.ok ? r.text().then(function (text) { return [text, r.headers.get("X-Nightshift-Counts")]; }) : null; })
              .then(function (got) {
                if (!got || latest.get(id) !== mine) return;
                latest.delete(id); counts(got[1]); apply(id, got[0], at);
              }).catch(function () {});
          }
          function refreshTask(id) {
            fetch("/dashboard/tasks/" + encodeURIComponent(id) + "/summary", { credentials: "same-origin" })
              .then(function (r) { return r.ok ? r.text() : null; })
              .then(function (html) {
                if (html === null) return;
                var t = document.createElement("template"); t.innerHTML = html;
                var now = document.getElementById("task-summary"), next = t.content.getElementById("task-summary");
                if (now && next) now.replaceWith(next);
                var st = t.content.getElementById("task-status"), cur = document.getElementById("task-status");
                if (st && cur) cur.replaceWith(st);
                window.nightshift.applied++;
              }).catch(function () {});
          }
          if (window.EventSource && body.dataset.lastEvent !== "") {
            var es = new EventSource("/api/agent/events?after=" + encodeURIComponent(body.dataset.lastEvent));
            es.onopen = function () { setLive("live", "ok"); };
            es.onerror = function () { setLive("reconnecting…", "bad"); };
            es.addEventListener("task", function (e) {
              var d; try { d = JSON.parse(e.data); } catch (x) { return; }
              var id = d && d.event && d.event.task_id; if (!id) return;
              body.dataset.seen = e.lastEventId;
              if (page === "dashboard") refreshRow(id, d.event.at);
              else if (page === "task" && id === body.dataset.task) refreshTask(id);
            });
          }
          document.addEventListener("submit", function (ev) {
            var f = ev.target; if (!f.classList || !f.classList.contains("js-action")) return;
            ev.preventDefault();
            var err = f.querySelector(".form-error"); if (err) err.textContent = "";
            var button = f.querySelector("button"); if (button) button.disabled = true;
            fetch(f.action, { method: "POST", credentials: "same-origin", body: new URLSearchParams(new FormData(f)),
              headers: { "X-Requested-With": "fetch" } })
              .then(function (r) {
                if (button) button.disabled = false;
                if (r.ok) { f.reset(); f.classList.add("sent"); return; }
                return r.text().then(function (t) {
                  var msg = t; try { msg = JSON.parse(t).detail || t; } catch (x) {}
                  if (err) err.textContent = msg;
                });
              }).catch(function (x) { if (button) button.disabled = false; if (err) err.textContent = String(x); });
          });
          var log = document.getElementById("log");
          if (log) {
            var grep = document.getElementById("log-grep"), count = document.getElementById("log-count"), at = -1;
            function lines() { return Array.prototype.slice.call(log.querySelectorAll("span.l")); }
            function filterLog() {
              var re = null; try { re = grep.value ? new RegExp(grep.value, "i") : null; } catch (x) { re = null; }
              var n = 0;
              lines().forEach(function (l) {
                var hit = !re || re.test(l.textContent); l.classList.toggle("gone", !hit); l.classList.toggle("hit", !!re && hit);
                if (hit) n++;
              });
              count.textContent = re ? n + " matching line(s)" : "";
            }
            grep.addEventListener("input", filterLog);
            document.getElementById("log-next-error").addEventListener("click", function () {
              var errs = lines().filter(function (l) { return l.classList.contains("err") && !l.classList.contains("gone"); });
              if (!errs.length) { count.textContent = "no error lines"; return; }
              lines().forEach(function (l) { l.classList.remove("here"); });
              at = (at + 1) % errs.length; errs[at].classList.add("here"); errs[at].scrollIntoView({ block: "center" });
              count.textContent = "error " + (at + 1) + " of " + errs.length;
            });
            if (window.EventSource && body.dataset.logRun && body.dataset.task) {
              var tail = new EventSource("/api/logs/tail?run=" + encodeURIComponent(body.dataset.logRun) +
                "&source=" + encodeURIComponent("task:" + body.dataset.task));
              tail.addEventListener("log", function (e) {
                var span = document.createElement("span"); span.className = "l";
                if (/\\b(error|fatal|panic|exception|failed)\\b/i.test(e.data)) span.classList.add("err");
                span.textContent = e.data; log.appendChild(span); log.appendChild(document.createTextNode("\\n"));
                filterLog(); log.scrollTop = log.scrollHeight;
              });
            }
          }
        })();
        """
}
