// Ticket page: knowledge suggestions that follow what the agent types (debounced GET to the API with
// the page cookie, which may only read). "This solved it" / "Not helpful" stay page forms with the
// CSRF token: a change never goes through the API with the cookie. They are buttons of the reply form
// (form="reply-form", formaction=".../solved" or ".../not-helpful"), like the knowledge box: the reply
// and the box's text go along and the page that answers draws them back, the reply unsent, also when
// the click came before this script ran.
(function () {
  "use strict";
  var panel = document.getElementById("kb-panel");
  var input = document.getElementById("kb-symptom");
  var list = document.getElementById("kb-suggestions");
  var status = document.getElementById("kb-status");
  if (!panel) return;

  // "This solved it" resolves the ticket, and the resolution is e-mailed to the customer: one click
  // must not do that by accident. The server asks too, unless the form carries confirmed=1: set here
  // once the agent said yes, so this path asks once; the server's own question (sent before this
  // script ran, or without scripts) already carries it and is not asked again, and its Cancel asks
  // nothing. Attached before the suggestion code's checks: a browser without fetch still gets the
  // dialog, not the extra page. On the document: the buttons send the reply form, outside the panel;
  // a browser without event.submitter sends the form unasked and the server asks.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var via = event.submitter;
    if (!via || !panel.contains(via) || !/\/solved$/.test(via.getAttribute("formaction") || "")) return;
    if (via.name === "cancel" || (via.name === "confirmed" && via.value === "1")) return;
    // the page words the question: whether an e-mail goes out, and if not, why (no contact, ...)
    var question = panel.getAttribute("data-solved-question") ||
      "Resolve this ticket with this article? The customer gets the resolution e-mail.";
    if (!window.confirm(question)) {
      event.preventDefault();
      return;
    }
    var yes = document.createElement("input");
    yes.type = "hidden";
    yes.name = "confirmed";
    yes.value = "1";
    form.appendChild(yes);
    // for this sending only (its data is taken right after this event): a page kept by the back
    // button must ask again
    setTimeout(function () { yes.remove(); }, 0);
  });

  if (!input || !list || !status || !window.fetch) return;
  var ticket = panel.getAttribute("data-ticket");
  var solved = !!document.getElementById("kb-solved");
  var timer = null;
  var controller = null;
  // The text the page drew its suggestions for: the box's own value. What the box holds may differ
  // (typed on a slow phone before this deferred script ran, which no "input" told it about).
  var last = input.defaultValue.trim();

  // The API's *_html fields are escaped text with <mark> around matches; rebuild them from text and
  // <mark> nodes only, so nothing else from an article can reach the page.
  function marked(html) {
    var doc = new DOMParser().parseFromString("<div>" + html + "</div>", "text/html");
    var out = document.createDocumentFragment();
    doc.body.firstChild.childNodes.forEach(function (node) {
      if (node.nodeType === 1 && node.tagName === "MARK") {
        var m = document.createElement("mark");
        m.textContent = node.textContent;
        out.appendChild(m);
      } else {
        out.appendChild(document.createTextNode(node.textContent));
      }
    });
    return out;
  }

  // "This solved it" and "Not helpful": buttons of the reply form, as the page draws them (see the top)
  function button(articleId, action, label, primary) {
    var submit = document.createElement("button");
    submit.type = "submit";
    submit.className = "btn small" + (primary ? " primary" : "");
    submit.setAttribute("form", "reply-form");
    submit.setAttribute("formaction", "/desk/tickets/" + ticket + "/kb/" + articleId + "/" + action);
    submit.formNoValidate = true;  // the reply box is required for "Send reply", not here
    submit.textContent = label;
    return submit;
  }

  function draw(data) {
    list.replaceChildren();
    data.items.forEach(function (hit) {
      var li = document.createElement("li");
      li.setAttribute("data-article", hit.article_id);
      var a = document.createElement("a");
      a.className = "title";
      a.href = "/kb/articles/" + hit.article_id;
      a.appendChild(marked(hit.title_html));
      var snippet = document.createElement("div");
      snippet.className = "small snippet";
      snippet.appendChild(marked(hit.snippet_html));
      li.appendChild(a);
      if (!hit.shares_words) {  // found by meaning alone: a guess for the agent to check
        var guess = document.createElement("span");
        guess.className = "small muted meaning-only";
        guess.textContent = " close in meaning only";
        li.appendChild(guess);
      }
      li.appendChild(snippet);
      if (!solved) {
        var actions = document.createElement("div");
        actions.className = "actions";
        actions.appendChild(button(hit.article_id, "solved", "This solved it", true));
        if (data.verdicts[hit.article_id] === "not_helpful") {
          var note = document.createElement("span");
          note.className = "small muted";
          note.textContent = "marked not helpful";
          actions.appendChild(note);
        } else {
          actions.appendChild(button(hit.article_id, "not-helpful", "Not helpful", false));
        }
        li.appendChild(actions);
      }
      list.appendChild(li);
    });
    var n = data.items.length;
    var none = n > 0 && !data.items.some(function (hit) { return hit.shares_words; });
    status.textContent = n + (n === 1 ? " suggestion" : " suggestions") + (none ? ": none shares a word with the ticket, so they are only close in meaning" : "");
  }

  function ask() {
    var text = input.value.trim();
    if (text === last) return;
    last = text;
    if (controller) controller.abort();
    controller = new AbortController();
    var url = "/api/v1/tickets/" + ticket + "/suggestions";
    if (text) url += "?subject=" + encodeURIComponent(text);
    status.textContent = "Searching…";
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, signal: controller.signal })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(draw)
      .catch(function (err) {
        if (err.name !== "AbortError") status.textContent = "Suggestions are not available right now.";
      });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 250);
  });
  ask();  // typed before this script ran: asked now (nothing happens when the box is as drawn)
})();
