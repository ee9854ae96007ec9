import Foundation
import Mustache

/// The dashboard's Mustache templates. `{{name}}` is HTML-escaped (quotes included), so every
/// value from a task, an agent or a form is text; `{{{...}}}` is used only for HTML the
/// templates themselves rendered, and for the page's own style and script.
enum DashboardTemplates {
    static let library: MustacheLibrary = {
        var lib = MustacheLibrary()
        let all: [(String, String)] = [
            ("layout", layout), ("dashboard", dashboard), ("row", row), ("need", need), ("counts", counts),
            ("needs", needs), ("section", section), ("items", items), ("issues", issues), ("runs", runs), ("task", task),
            ("message", message), ("login", login), ("bulk", bulk),
        ]
        for (name, text) in all {
            do { try lib.register(text, named: name) } catch { preconditionFailure("template \(name): \(error)") }
        }
        return lib
    }()

    /// Renders a template; the templates are fixed, so a missing one is a programming error.
    static func render(_ name: String, _ value: [String: Any]) -> String {
        library.render(value, withTemplate: name) ?? ""
    }

    static let layout = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Nightshift</title><style>{{{css}}}</style></head>
        <body data-csrf="{{csrf}}" data-last-event="{{lastEvent}}" data-filter="{{filterQuery}}" data-page="{{page}}"{{#taskID}} data-task="{{taskID}}"{{/taskID}}{{#logRun}} data-log-run="{{logRun}}"{{/logRun}}>
        <header><a class="brand" href="/">Nightshift</a>
        <nav><a href="/">dashboard</a> <a href="/#items">backlog</a> <a href="/#issues">issues</a> <a href="/#runs">runs</a></nav>
        <span id="live" class="live">{{#stream}}connecting…{{/stream}}</span>
        {{#signOut}}<form method="post" action="/dashboard/logout" class="logout"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" id="sign-out">sign out</button></form>{{/signOut}}</header>
        <main>{{{content}}}</main>
        <script>{{{js}}}</script>
        </body></html>
        """

    static let counts = """
        <div id="counts"><span class="counts">{{#counts}}<span class="cnt">{{name}} <b data-count="{{name}}">{{value}}</b></span> {{/counts}}</span></div>
        """

    static let dashboard = """
        <form class="filters" method="get" action="/">
        <label>status <input name="status" value="{{filter.status}}" placeholder="failed,pending" size="14"></label>
        <label>type <input name="type" value="{{filter.type}}" placeholder="impl" size="8"></label>
        <label>item <input name="item" value="{{filter.item}}" size="8"></label>
        <label>error class <input name="error_class" value="{{filter.error_class}}" size="12"></label>
        <label>run <input name="run" value="{{filter.run}}" placeholder="run_…" size="24"></label>
        <button type="submit">filter</button> <a href="/">clear</a>
        <span class="bulk-links">matching: <a id="bulk-retry" href="/dashboard/bulk?action=retry{{#filterQuery}}&amp;{{filterQuery}}{{/filterQuery}}">retry all…</a>
        <a id="bulk-cancel" href="/dashboard/bulk?action=cancel{{#filterQuery}}&amp;{{filterQuery}}{{/filterQuery}}">cancel all…</a></span>
        </form>
        {{{parts}}}
        """

    /// The parts (`DashboardPart`): each is one element whose id the page's script swaps.
    static let needs = """
        <section id="needs-you" class="rail"><h2>Needs you <span class="total">{{total}}</span></h2>
        <ul id="needs-list">{{#needs}}{{>need}}{{/needs}}</ul>
        {{^hasNeeds}}<p class="empty" id="needs-empty">Nothing needs you.</p>{{/hasNeeds}}
        </section>
        """

    static let section = """
        <section id="sec-{{name}}" class="tasks"><h2>{{title}} <span class="total">{{total}}</span>{{#more}} <span class="meta">(the first {{shown}})</span>{{/more}}</h2>
        <table><thead><tr>{{#headers}}<th>{{.}}</th>{{/headers}}</tr></thead>
        <tbody data-section="{{name}}" data-limit="{{limit}}">{{#rows}}{{>row}}{{/rows}}</tbody></table>
        {{#hidden}}<p class="empty">hidden by the status filter</p>{{/hidden}}
        </section>
        """

    static let issues = """
        <section id="issues"><h2>Monitor issues <span class="total">{{total}}</span></h2>
        {{#issues}}<div class="issue sev-{{severity}}" id="issue-{{id}}" data-condition="{{condition}}"><b>{{severity}}</b> {{condition}} · {{subject}}: {{message}} <span class="meta">→ {{action}} ({{count}}×)</span></div>{{/issues}}
        {{^issues}}<p class="empty">No open issues.</p>{{/issues}}
        </section>
        """

    static let runs = """
        <section id="runs"><h2>Runs <span class="total">{{total}}</span></h2><table><thead><tr><th>run</th><th>mode</th><th>state</th><th>result</th><th>started</th><th>tasks</th><th>$</th><th>report</th></tr></thead><tbody>
        {{#runs}}<tr data-run="{{id}}" class="run-{{state}}"><td>{{id}}{{#current}} <span class="badge">this daemon</span>{{/current}}</td><td>{{mode}}</td><td class="c-state">{{state}}</td><td>{{result}}</td><td>{{started}}</td><td class="c-tasks">{{tasks}}</td><td class="c-cost">{{cost}}</td><td><a href="/runs/{{id}}">report</a> · <a href="/?run={{id}}">tasks</a></td></tr>{{/runs}}
        </tbody></table>{{^runs}}<p class="empty">No runs yet.</p>{{/runs}}</section>
        """

    static let row = """
        <tr id="row-{{id}}" data-section="{{section}}" data-status="{{status}}" class="st-{{status}}">{{#cells}}<td class="c-{{key}}"{{#since}} data-since="{{since}}"{{/since}}{{#tip}} title="{{tip}}"{{/tip}}>{{#link}}<a href="{{link}}">{{text}}</a>{{/link}}{{^link}}{{text}}{{/link}}</td>{{/cells}}</tr>
        """

    static let need = """
        <li class="need need-{{kind}}" id="{{domID}}"{{#taskID}} data-task="{{taskID}}"{{/taskID}}>
        <div class="need-head"><span class="badge">{{label}}</span> {{#link}}<a href="{{link}}">{{subject}}</a>{{/link}}{{^link}}{{subject}}{{/link}} <span class="meta">{{meta}}</span></div>
        <p class="need-body">{{body}}</p>
        {{#decide}}<form class="decide js-action" method="post" action="/dashboard/tasks/{{taskID}}/decide"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="/"><textarea name="decision" required maxlength="5000" rows="2" placeholder="your answer"></textarea> <button type="submit">answer</button><span class="form-error"></span></form>{{/decide}}
        {{#retry}}<form class="js-action inline" method="post" action="/dashboard/tasks/{{taskID}}/retry"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="/"><button type="submit">retry</button><span class="form-error"></span></form>{{/retry}}
        </li>
        """

    static let items = """
        <section id="items"><h2>Backlog <span class="total">{{total}}</span></h2>{{#itemsSummary}}<p class="meta">{{itemsSummary}}</p>{{/itemsSummary}}
        <table><thead><tr><th>item</th><th>title</th><th>state</th><th>phases</th></tr></thead><tbody>
        {{#items}}<tr class="item-{{state}}" data-item="{{key}}" data-state="{{state}}"><td><a href="/?item={{keyQuery}}">{{key}}</a></td><td>{{title}}</td><td>{{state}}{{#reason}}: {{reason}}{{/reason}}</td><td class="phases">{{#phases}}<span class="ph ph-{{mark}}" title="{{mark}}">{{name}}</span>{{/phases}}{{#iteration}} <span class="meta">iteration {{iteration}}</span>{{/iteration}}</td></tr>{{/items}}
        </tbody></table>{{^items}}<p class="empty">No backlog items.</p>{{/items}}</section>
        """

    static let task = """
        <p><a href="/">← dashboard</a></p>
        <h1>{{id}} <span class="badge st-{{status}}" id="task-status">{{status}}</span></h1>
        <div id="task-summary">
        <table class="fields">{{#fields}}<tr><th>{{name}}</th><td>{{value}}</td></tr>{{/fields}}</table>
        <h2>Direction</h2><pre class="direction">{{direction}}</pre>
        {{#decisionPrompt}}<h2>Decision</h2><p class="prompt">{{decisionPrompt}}</p>{{/decisionPrompt}}
        {{#decisionGiven}}<p>answered: <q class="decision">{{decisionGiven}}</q></p>{{/decisionGiven}}
        <div class="actions">
        {{#canDecide}}<form class="decide js-action" method="post" action="/dashboard/tasks/{{id}}/decide"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="/dashboard/tasks/{{id}}"><textarea name="decision" required maxlength="5000" rows="2" placeholder="your answer"></textarea> <button type="submit">answer</button><span class="form-error"></span></form>{{/canDecide}}
        {{#canCancel}}<form class="js-action inline" method="post" action="/dashboard/tasks/{{id}}/cancel"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="/dashboard/tasks/{{id}}"><button type="submit" id="cancel-button">cancel</button><span class="form-error"></span></form>{{/canCancel}}
        {{#canRetry}}<form class="js-action inline" method="post" action="/dashboard/tasks/{{id}}/retry"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="back" value="/dashboard/tasks/{{id}}"><button type="submit" id="retry-button">retry</button><span class="form-error"></span></form>{{/canRetry}}
        </div>
        <h2>Attempts</h2><table><thead><tr><th>#</th><th>started</th><th>ended</th><th>took</th><th>how it ended</th><th>why</th></tr></thead><tbody>
        {{#attempts}}<tr><td>{{n}}</td><td>{{started}}</td><td>{{ended}}</td><td>{{took}}</td><td>{{outcome}}</td><td>{{why}}</td></tr>{{/attempts}}
        </tbody></table>
        <h2>History</h2><table><thead><tr><th>event</th><th>at</th><th>change</th><th>attempt</th><th>detail</th></tr></thead><tbody>
        {{#events}}<tr><td>{{id}}</td><td>{{at}}</td><td>{{kind}}: {{from}} → {{to}}</td><td>{{attempt}}</td><td>{{detail}}</td></tr>{{/events}}
        </tbody></table>
        </div>
        <h2>Log <span class="meta">{{logPath}}</span></h2>
        <div class="logbar"><input id="log-grep" placeholder="grep (regular expression)" size="30"> <button type="button" id="log-next-error">next error</button> <span id="log-count" class="meta"></span></div>
        <pre id="log">{{#logLines}}<span class="l{{#err}} err{{/err}}">{{text}}</span>
        {{/logLines}}</pre>
        """

    static let message = """
        <h1>{{heading}}</h1><p class="message">{{text}}</p>{{#back}}<p><a href="{{back}}">back</a></p>{{/back}}
        """

    static let login = """
        <h1>Sign in</h1><p>This dashboard needs the daemon's token (<code>server.token</code> or <code>NIGHTSHIFT_API_TOKEN</code>). It is asked once and kept in a cookie this browser does not share with scripts.</p>
        {{#error}}<p class="form-error">{{error}}</p>{{/error}}
        <form method="post" action="/dashboard/login"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="next" value="{{next}}">
        <input type="password" name="token" autocomplete="current-password" size="40" autofocus> <button type="submit">sign in</button></form>
        """

    static let bulk = """
        <h1>{{verb}} everything matching</h1>
        <p>filter: <code>{{filterText}}</code></p>
        <p id="bulk-count"><b>{{count}}</b> task(s) would be {{past}} ({{statuses}}).</p>
        <ul>{{#sample}}<li><a href="/dashboard/tasks/{{id}}">{{id}}</a> {{status}} · {{phase}} · {{item}}</li>{{/sample}}</ul>{{#more}}<p>… and {{more}} more</p>{{/more}}
        {{#any}}<form method="post" action="/dashboard/bulk"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="action" value="{{action}}"><input type="hidden" name="expected" value="{{count}}">
        {{#hiddenFilter}}<input type="hidden" name="{{name}}" value="{{value}}">{{/hiddenFilter}}
        <button type="submit" id="bulk-confirm">{{verb}} {{count}} task(s)</button> <a href="/?{{filterQuery}}">back</a></form>{{/any}}
        {{^any}}<p><a href="/?{{filterQuery}}">back</a></p>{{/any}}
        """
}
