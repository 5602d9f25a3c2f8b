// As-you-type customer search: asks the JSON API with the session cookie and redraws the list.
// Without JavaScript the form still submits to /desk/search (same results, server-rendered).
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  var input = document.getElementById("q");
  var list = document.getElementById("results");
  var status = document.getElementById("search-status");
  if (!form || !input || !list || !window.fetch) return;

  var timer = null;
  var inflight = null;
  // The query the page was drawn for (its own value, not what the box holds now: on a slow phone
  // the caller's number is typed before this deferred script runs, and no "input" reached it).
  var lastQuery = input.defaultValue.trim();
  var shownQuery = list.children.length ? lastQuery : null; // the query the list answers

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text; // never innerHTML: names come from customers
    return node;
  }

  function clearEmpty() {
    var empty = form.parentNode.querySelector(".empty");
    if (empty) empty.remove();
  }

  // Mirrors app/pages/desk.py hit_view: why the customer matched, and a link that preselects
  // the caller (contact) and the asset on the 360 page.
  var MATCHED = { phone: "Phone", mobile: "Mobile", email: "E-mail", serial: "Serial",
                  account_name: "Name", contact_name: "Contact", external_id: "CRM id" };
  function describe(hit) {
    var parts = [];
    if (hit.matched_field !== "account_name") parts.push((MATCHED[hit.matched_field] || hit.matched_field) + ": " + hit.value);
    if (hit.contact_name && hit.matched_field !== "contact_name") parts.push(hit.contact_name);
    if (hit.site_name) parts.push(hit.site_name);
    if (hit.region) parts.push(hit.region);
    var query = [];
    if (hit.contact_id) query.push("contact=" + hit.contact_id);
    if (hit.asset_id) query.push("asset=" + hit.asset_id);
    return { name: hit.account_name, tier: hit.tier, detail: parts.join(" \u00b7 "),
             similar: hit.match === "similar",
             href: "/desk/customers/" + hit.account_id + (query.length ? "?" + query.join("&") : "") };
  }

  // Mirrors app/web/desk.py found_text: says when the list shows fewer than all matches.
  function foundText(shown, total, truncated) {
    if (shown >= total && !truncated) return shown + (shown === 1 ? " customer found" : " customers found");
    return "Showing " + shown + " of " + (truncated ? "at least " + total : total) +
      " matches: type more to narrow them down.";
  }

  function draw(items, query, total, truncated) {
    list.replaceChildren();
    clearEmpty();
    // Mirrors app/web/desk.py similar_heading: near spellings come last, under a note.
    var noted = false;
    items.forEach(function (item, i) {
      if (item.similar && !noted) {
        noted = true;
        list.appendChild(el("li", "results-note", i === 0 ? "No exact match; similar names:" : "Similar names:"));
      }
      var li = el("li");
      var a = el("a");
      a.href = item.href;
      a.appendChild(el("span", "name", item.name));
      if (item.tier) {
        a.appendChild(document.createTextNode(" "));
        a.appendChild(el("span", "badge tier-" + item.tier, item.tier.charAt(0).toUpperCase() + item.tier.slice(1)));
      }
      if (item.detail) a.appendChild(el("span", "meta", item.detail));
      li.appendChild(a);
      list.appendChild(li);
    });
    status.textContent = items.length === 0
      ? "No customer matches \u201c" + query + "\u201d."
      : foundText(items.length, total, truncated);
  }

  function search(query) {
    if (inflight) inflight.abort();
    if (query.length < 2) {
      list.replaceChildren();
      shownQuery = null;
      status.textContent = query ? "Type at least 2 characters." : "";
      return;
    }
    inflight = new AbortController();
    var url = "/api/v1/customers?limit=10&q=" + encodeURIComponent(query);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, signal: inflight.signal })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { window.location.reload(); return null; }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (data) {
        if (!data) return;
        var items = data.items || [];
        draw(items.map(describe), query, data.total || items.length, !!data.truncated);
        shownQuery = query;
        history.replaceState(null, "", "/?q=" + encodeURIComponent(query));
      })
      .catch(function (err) {
        if (err.name === "AbortError") return;
        status.textContent = "Search is not answering; press Enter to search without live results.";
      });
  }

  function typed() {
    var query = input.value.trim();
    if (query === lastQuery) return;
    lastQuery = query;
    clearTimeout(timer);
    timer = setTimeout(function () { search(query); }, 120);
  }
  input.addEventListener("input", typed);
  typed();  // what was typed before this script ran is looked up now

  // Arrow keys move between the input and the results; Enter on the input opens the best match.
  form.addEventListener("submit", function (event) {
    var first = list.querySelector("a");
    if (first && input.value.trim() === shownQuery) {
      event.preventDefault();
      first.click();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    var links = Array.prototype.slice.call(list.querySelectorAll("a"));
    if (!links.length) return;
    var at = links.indexOf(document.activeElement);
    if (document.activeElement === input && event.key === "ArrowDown") { links[0].focus(); }
    else if (at >= 0 && event.key === "ArrowDown" && at < links.length - 1) { links[at + 1].focus(); }
    else if (at > 0 && event.key === "ArrowUp") { links[at - 1].focus(); }
    else if (at === 0 && event.key === "ArrowUp") { input.focus(); }
    else return;
    event.preventDefault();
  });
})();
