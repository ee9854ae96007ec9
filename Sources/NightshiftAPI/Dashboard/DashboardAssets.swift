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
        .ph-done{background:#cdeccd;color:#225522}.ph-current{background:#ffe7a3;color:#553300;font-weight:600}.ph-blocked{background:#ffcf9e;color:#7a3300;font-weight:600}
        pre{background:#fff;border:1px solid #e3e6ea;padding:.6em;overflow:auto;white-space:pre-wrap}#log{max-height:32em;font-size:12px}
        #log .err{background:#ffe9e6}#log .hit{background:#fff3b0}#log .here{outline:2px solid #b3261e}#log .gone{display:none}
        .fields th{width:12em}.issue{padding:.3em 0}.sev-critical b,.sev-fatal b{color:#b3261e}
        form.logout{margin:0}form.logout button{font-size:12px}h2 .total{font-size:12px;color:#667;font-weight:400}
        """

    /// Live updates: one `EventSource` on `/api/agent/events`, resumed after the event the page
    /// was rendered at (the browser sends `Last-Event-ID` on its own reconnects). Each event
    /// marks the parts of the page it changes (`DashboardPart`), and each marked part is fetched
    /// again from `/dashboard/fragments/<part>` under the page's filter and swapped in whole.
    /// Per part at most one fetch is in flight; events that arrive meanwhile coalesce into one
    /// follow-up, started no sooner than 250 ms after the one before began, so a burst costs a
    /// few fetches, not one per event. After the stream reconnects (a restarted daemon, a lost
    /// network) every part is fetched once, since state-only changes (issues, backlog, runs)
    /// are not replayed. Nothing here builds HTML from event data: the server renders and
    /// escapes it.
    static let js = """
        (function () {
          "use strict";
          var body = document.body, live = document.getElementById("live");
          var filter = body.dataset.filter || "", page = body.dataset.page;
          window.nightshift = { applied: 0, fetches: 0, latencies: [] };
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
          // The parts of the dashboard, by the id of their element.
          var PARTS = { counts: "counts", needs: "needs-you", running: "sec-running", pending: "sec-pending",
            finished: "sec-finished", items: "items", issues: "issues", runs: "runs" };
          var TABLE = { running: "running", pending: "pending", completed: "finished", failed: "finished", cancelled: "finished" };
          var TOPICS = { issues: ["issues", "needs"], backlog: ["items", "needs", "pending"] };
          var RUN_KINDS = { created: 1, finished: 1, cancelled: 1, expired: 1, rescued: 1 };
          var GAP = 250, parts = {};
          function part(name) {
            return parts[name] || (parts[name] = { busy: false, dirty: false, again: false, last: 0, timer: 0, waiting: [] });
          }
          function mark(name, at) {
            if (!PARTS[name]) return;
            var p = part(name); p.dirty = true; if (at) p.waiting.push(at); schedule(name);
          }
          function schedule(name) {
            var p = part(name);
            if (p.busy || p.timer || !p.dirty) return;
            var delay = p.again ? Math.max(0, p.last + GAP - Date.now()) : 0;
            p.timer = setTimeout(function () { p.timer = 0; load(name); }, delay);
          }
          function load(name) {
            var p = part(name), waiting = p.waiting;
            p.dirty = false; p.busy = true; p.last = Date.now(); p.waiting = [];
            window.nightshift.fetches++;
            fetch("/dashboard/fragments/" + name + (filter ? "?" + filter : ""), { credentials: "same-origin" })
              .then(function (r) {
                if (r.status === 401) { setLive("signed out", "bad"); return null; }
                return r.ok ? r.text() : null;
              })
              .then(function (html) { if (html !== null) swap(name, html, waiting); })
              .catch(function () {})
              .then(function () { p.busy = false; p.again = p.dirty; schedule(name); });
          }
          function swap(name, html, waiting) {
            var old = document.getElementById(PARTS[name]); if (!old) return;
            var t = document.createElement("template"); t.innerHTML = html;
            var next = t.content.getElementById(PARTS[name]); if (!next) return;
            var typed = typing(old);
            old.replaceWith(next);
            typed.forEach(function (k) {
              var holder = document.getElementById(k.holder), twin = holder && holder.querySelector('[name="' + k.name + '"]');
              if (!twin || !next.contains(twin)) return;
              twin.value = k.value;
              if (k.focused) { twin.focus(); try { twin.setSelectionRange(k.start, k.end); } catch (x) {} }
            });
            tick();
            window.nightshift.applied++;
            var now = Date.now();
            waiting.forEach(function (at) { window.nightshift.latencies.push(now - Date.parse(at)); });
          }
          // What is being typed in a part (an answer in the rail) survives its swap.
          function typing(el) {
            var out = [], focused = document.activeElement;
            el.querySelectorAll("textarea, input:not([type=hidden])").forEach(function (f) {
              var holder = f.parentElement && f.parentElement.closest("[id]");
              if (!f.name || !holder || (!f.value && f !== focused)) return;
              out.push({ holder: holder.id, name: f.name, value: f.value, focused: f === focused,
                start: f.selectionStart, end: f.selectionEnd });
            });
            return out;
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
          function data(e) { try { return JSON.parse(e.data); } catch (x) { return null; } }
          if (window.EventSource && body.dataset.lastEvent !== "") {
            var es = new EventSource("/api/agent/events?after=" + encodeURIComponent(body.dataset.lastEvent)), broken = false;
            es.onopen = function () {
              setLive("live", "ok");
              if (broken && page === "dashboard") Object.keys(PARTS).forEach(function (n) { mark(n); });
              if (broken && page === "task") refreshTask(body.dataset.task);
              broken = false;
            };
            es.onerror = function () { broken = true; setLive("reconnecting…", "bad"); };
            es.addEventListener("task", function (e) {
              var d = data(e), ev = d && d.event; if (!ev || !ev.task_id) return;
              body.dataset.seen = e.lastEventId;
              if (page === "task") { if (ev.task_id === body.dataset.task) refreshTask(ev.task_id); return; }
              if (page !== "dashboard") return;
              var from = TABLE[ev.from_status], to = TABLE[ev.to_status], target = to || "needs";
              mark(target, ev.at);
              // Counts and the rail follow every change; pending rows say why they wait, which
              // depends on the other tasks (dependencies, busy workers).
              ["counts", "needs", "pending", from, to].forEach(function (n) { if (n && n !== target) mark(n); });
              if (d.task && d.task.backlog_item) mark("items");
              if (RUN_KINDS[ev.kind]) mark("runs");
            });
            es.addEventListener("meter", function () { if (page === "dashboard") mark("running"); });
            es.addEventListener("signal", function (e) {
              var d = data(e); if (page !== "dashboard" || !d) return;
              (TOPICS[d.topic] || []).forEach(function (n) { mark(n); });
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
