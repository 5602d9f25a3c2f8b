// Unsent input on the ticket page, the customer page's new-ticket form and the engineer's visit
// page survives the page coming back for another form. Every form there posts and reloads the
// page, so a reply typed and then "Not helpful" clicked on a suggestion was gone, and so was a
// report typed before "I picked these up". A field marked data-draft="<key>" is kept in this
// tab's sessionStorage as it is typed and put back when the page returns with the field as the
// page starts it (empty, or the page's own value for a choice, a quantity or a date), with a note
// saying so and "Discard it" for the whole form. Nothing leaves the browser; another tab starts
// clean. Radio buttons sharing one key are one draft (the choice made).
//
// A draft goes once its form is SAVED, not when it is sent: a refused form (a report without
// "Fixed first time?", a 409) comes back with the input in the page, and the engineer who then
// goes to the route and back must still find it. So sending a form only notes which drafts went
// with it and what they held (SENT); the page that loads next says what was saved (an element
// with data-draft-saved="<outcome>", written by the templates next to the server's success
// message), and a draft goes only when that outcome is one its form names (data-draft-done="reply",
// on the form or the field) and it still holds what was sent. Any other page (the refusal, an
// error page, a form sent twice) leaves it. A form naming no outcome forgets its drafts when sent.
//
// A field the page fills in itself (data-draft-prefilled: the knowledge box starts with the
// ticket's subject; the attribute names that value when the page may draw the agent's input
// there instead) is put back when it still holds that value, always with the note; a field
// outside a form names the forms, or the buttons of another form (form="…" formaction="…"), that
// finish it (data-draft-sent-by, a CSS selector). A restored
// value is announced as typing ("input"), so the page's own scripts follow it: the knowledge box
// asks for the suggestions of the restored text (kb-suggest.js is loaded before this file).
//
// The ticket's edit form (data-draft-form="<key>") is different: it opens filled in with the saved
// ticket, and its hidden version and base_* fields are what it was opened with, which the save
// needs for its three-way merge (app/web/desk_tickets.py). See editForm below.
(function () {
  "use strict";
  var store;
  try { store = window.sessionStorage; } catch (e) { return; }  // storage off: the page as it was
  if (!store) return;
  var PREFIX = "fieldline.draft.";
  var SENT = "fieldline.drafts-sent";  // not under PREFIX: no data-draft key can clash with it
  var drafts = [];  // {key, done: outcomes that mean saved, home: the form it sits in, sentBy(form, button): whether that sending carries it}

  settle();  // before anything is put back: a draft just saved must not return into its empty form

  var keys = [], groups = {};
  document.querySelectorAll("[data-draft]").forEach(function (el) {
    var key = PREFIX + el.getAttribute("data-draft");
    if (!groups[key]) { groups[key] = []; keys.push(key); }
    groups[key].push(el);
  });
  var back = keys.map(function (key) { return field(key, groups[key]); }).filter(Boolean);
  noteEach(back);

  document.querySelectorAll("form[data-draft-form]").forEach(editForm);

  document.addEventListener("submit", function (event) {
    // a form whose sending was called off (kb-suggest.js asks before "This solved it") sent nothing
    if (event.defaultPrevented) return;
    var form = event.target, via = event.submitter || null, items = [];
    drafts.forEach(function (d) {
      if (!d.sentBy(form, via)) return;
      var value = store.getItem(d.key);
      if (value === null) return;
      if (d.done.length) items.push({ key: d.key, value: value, done: d.done });
      else store.removeItem(d.key);
    });
    // only the last form sent counts: the page that answers it is the next one to load
    if (items.length) store.setItem(SENT, JSON.stringify(items));
    else store.removeItem(SENT);
  });

  // The page answering the last form sent: drop the drafts that form saved, keep the rest.
  function settle() {
    var sent = null;
    try { sent = JSON.parse(store.getItem(SENT) || "null"); } catch (e) { /* garbled: keep all */ }
    store.removeItem(SENT);
    var marker = document.querySelector("[data-draft-saved]");
    var saved = marker ? marker.getAttribute("data-draft-saved") : "";
    if (!saved || !Array.isArray(sent)) return;
    sent.forEach(function (d) {
      // typed on after sending (a slow answer): what was typed since is not what was saved
      if (d && Array.isArray(d.done) && d.done.indexOf(saved) >= 0 && store.getItem(d.key) === d.value) {
        store.removeItem(d.key);
      }
    });
  }

  function outcomes(el) {
    var names = el.getAttribute("data-draft-done") || (el.form && el.form.getAttribute("data-draft-done")) || "";
    return names.split(/\s+/).filter(Boolean);
  }

  // One draft: a field, or a group of radio buttons. Returns what was put back, or null.
  function field(key, els) {
    var first = els[0];
    var radio = first.type === "radio";
    var text = first.tagName === "TEXTAREA" || first.type === "text" || first.type === "search";
    var prefilled = first.hasAttribute("data-draft-prefilled");
    var rendered = initial();
    // The page's own value for a prefilled field: named by data-draft-prefilled when the page may draw
    // the agent's input instead (the knowledge box carried by a knowledge button, without scripts)
    var own = prefilled && first.getAttribute("data-draft-prefilled") || rendered;
    var sentBy = first.getAttribute("data-draft-sent-by");
    // the form the field sits in: its note and "Discard it" (a field of another form, form="…", is
    // sent with that form but noted on its own: the knowledge box is a field of the reply form)
    var home = first.closest("form");
    drafts.push({
      key: key,
      done: outcomes(first),
      home: home,
      sentBy: function (form, via) {
        return first.form === form || (!!sentBy && (form.matches(sentBy) || (!!via && via.matches(sentBy))));
      }
    });

    // A field sent along only so that a page answering without this script can draw it back
    // (data-draft-carried: the knowledge box, a field of the reply form whose buttons the panel's
    // are): kept here, it is not sent, so those buttons answer as before (a redirect, when no reply
    // goes along) and the draft puts the box back.
    if (first.hasAttribute("data-draft-carried")) first.removeAttribute("name");

    var kept = store.getItem(key);
    // Text only into an empty field (or the page's own, prefilled value); a choice, a quantity or a
    // date into one still at what the page starts it with (a duration of 60, the first option).
    var untouched = text && !prefilled ? !value() : value() === own;
    var restored = null;
    if (kept && untouched && kept !== value() && holds(kept)) {
      set(kept);
      announce();
      restored = {
        key: key,
        owner: home || first,
        noted: first.tagName === "TEXTAREA" || (prefilled && text),
        first: first,
        reset: function () { set(rendered); announce(); }
      };
    }
    els.forEach(function (el) {
      el.addEventListener("input", save);
      if (!text) el.addEventListener("change", save);  // a choice may only say "change"
    });
    // Typed into before this (deferred) script ran, on a slow phone or a busy server: that input
    // fired no listener, so it is kept now. A page that answered a form renders the input sent as
    // the field's own value (a refused form; the reply that "This solved it" carried): usually kept
    // already, but not when it was typed before the scripts ran, so text the store lacks is kept
    // too (a field the page starts empty holds only unsent input).
    var drawnUnkept = text && !prefilled && !!value().trim() && store.getItem(key) === null;
    if (!restored && (value() !== own || drawnUnkept)) save();
    return restored;

    function save() {
      var v = value();
      // a choice or number is kept as chosen, even the page's own: a refused page renders the
      // input sent, so "what the page starts with" is not the default there
      var keep = text ? v.trim() && !(prefilled && v === own) : v;
      if (keep) store.setItem(key, v);
      else store.removeItem(key);
    }
    function value() {
      if (!radio) return first.value;
      var on = els.filter(function (el) { return el.checked; })[0];
      return on ? on.value : "";
    }
    function set(v) {
      if (radio) els.forEach(function (el) { el.checked = el.value === v; });
      else first.value = v;
    }
    function initial() {
      if (radio) {
        var on = els.filter(function (el) { return el.defaultChecked; })[0];
        return on ? on.value : "";
      }
      if (first.tagName === "SELECT") {
        var o = Array.prototype.find.call(first.options, function (x) { return x.defaultSelected; }) || first.options[0];
        return o ? o.value : "";
      }
      return first.defaultValue;
    }
    function holds(v) {  // a part or contact no longer offered is not a choice any more
      if (radio) return els.some(function (el) { return el.value === v; });
      if (first.tagName === "SELECT") return Array.prototype.some.call(first.options, function (o) { return o.value === v; });
      return true;
    }
    function announce() {
      var on = radio ? els.filter(function (el) { return el.checked; })[0] || first : first;
      on.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }

  // One note per form that got text back (a choice or a short field alone comes back quietly);
  // "Discard it" puts the whole form back as the page drew it and forgets its drafts.
  function noteEach(restored) {
    var forms = [];
    restored.forEach(function (r) {
      var f = forms.filter(function (x) { return x.owner === r.owner; })[0];
      if (!f) forms.push(f = { owner: r.owner, items: [] });
      f.items.push(r);
    });
    forms.forEach(function (f) {
      var noted = f.items.filter(function (r) { return r.noted; })[0];
      if (!noted) return;
      noted.first.insertAdjacentElement("afterend", note("", function () {
        f.items.forEach(function (r) { r.reset(); });
        // after the reset, whose "input" keeps a choice again: every draft of that form goes
        drafts.forEach(function (d) {
          var mine = f.owner.tagName === "FORM" ? d.home === f.owner : f.items.some(function (r) { return r.key === d.key; });
          if (mine) store.removeItem(d.key);
        });
        noted.first.focus();
      }));
    });
  }

  // The edit form's draft holds the fields the agent changed (a field differs from its base_
  // value) with what they were typed against: the form's version and each changed field's base.
  // It goes back only into the form as the server opened it (a refused or conflicting save comes
  // back with the agent's input already in), and only into those fields; every hidden value stays
  // as rendered, except when one of those fields was saved with another value meanwhile: then
  // that field takes back the base it was typed against and the form its old version, so Save is
  // the stale edit it is and goes through the server's conflict check as usual (a field both
  // changed is shown side by side, 409) instead of the draft silently overwriting a value the
  // agent never saw. The note names such fields. A change meanwhile to fields the agent did not
  // touch needs nothing: the form shows it, as rendered, and saves it unchanged. Like the other
  // drafts it goes only once a save succeeds ("Ticket saved.", "Nothing to save", merged).
  function editForm(form) {
    var key = PREFIX + form.getAttribute("data-draft-form");
    var version = form.elements.namedItem("version");
    if (!version || !form.elements.namedItem("has_base")) return;  // nothing to merge against
    function base(field) { return form.elements.namedItem("base_" + field.name); }
    var fields = Array.prototype.filter.call(form.elements, function (f) {
      return f.name && f.type !== "hidden" && base(f);
    });
    var kept = null;
    try { kept = JSON.parse(store.getItem(key) || "null"); } catch (e) { store.removeItem(key); }
    var asOpened = fields.every(function (f) { return same(f.value, base(f).value); });
    if (kept && kept.fields && asOpened) restore(kept);
    // Changed before this (deferred) script ran: no listener heard it, so it is kept now. A 409
    // page renders the input sent as the fields' own values, which is not a change (its draft
    // keeps the baseline it was typed against).
    else if (fields.some(function (f) { return !same(f.value, drawn(f)); })) save();
    fields.forEach(function (f) {
      f.addEventListener("input", save);
      f.addEventListener("change", save);
    });
    // kept until a save succeeds: a 409 page holds the input but not the draft's baseline, and
    // the draft put back later still goes through the merge against what it was typed on
    drafts.push({ key: key, done: outcomes(form), home: form, sentBy: function (f) { return f === form; } });

    function save() {
      var changed = {}, any = false;
      fields.forEach(function (f) {
        if (same(f.value, base(f).value)) return;
        changed[f.name] = { value: f.value, base: base(f).value };
        any = true;
      });
      if (any) store.setItem(key, JSON.stringify({ version: version.value, fields: changed }));
      else store.removeItem(key);
    }

    function restore(draft) {
      var rendered = { version: version.value }, back = [], moved = [];
      fields.forEach(function (f) {
        var d = draft.fields[f.name];
        if (!d || typeof d.value !== "string" || typeof d.base !== "string") return;
        if (f.tagName === "SELECT" && !Array.prototype.some.call(f.options, function (o) { return o.value === d.value; })) return;  // no longer a choice
        rendered[f.name] = [f.value, base(f).value];
        f.value = d.value;
        if (!same(base(f).value, d.base)) { base(f).value = d.base; moved.push(label(f)); }
        back.push(f);
      });
      if (!back.length) { store.removeItem(key); return; }
      if (moved.length) version.value = String(draft.version);
      var details = form.closest("details");
      if (details) details.open = true;  // the form is folded away by default: show what came back
      var extra = moved.length ? moved.join(", ") + (moved.length > 1 ? " were" : " was") +
        " saved with another value since you began: Save checks your change against it. " : "";
      var first = Array.prototype.find.call(form.children, function (n) { return n.tagName === "LABEL"; });
      form.insertBefore(note(extra, function () {
        back.forEach(function (f) { f.value = rendered[f.name][0]; base(f).value = rendered[f.name][1]; });
        version.value = rendered.version;
        store.removeItem(key);
        back[0].focus();
      }), first || null);
    }

    function drawn(f) {  // the value the page gave the field
      if (f.tagName !== "SELECT") return f.defaultValue;
      var o = Array.prototype.find.call(f.options, function (x) { return x.defaultSelected; }) || f.options[0];
      return o ? o.value : "";
    }

    function label(f) {
      var l = f.id && form.querySelector('label[for="' + f.id + '"]');
      return l ? l.textContent.trim() : f.name;
    }
  }

  // Equal as the save compares them (desk_tickets._same): line breaks and edges aside.
  function same(a, b) { return a.replace(/\r\n/g, "\n").trim() === b.replace(/\r\n/g, "\n").trim(); }

  function note(extra, discard) {
    var p = document.createElement("p");
    p.className = "small muted draft-note";
    p.setAttribute("role", "status");
    p.textContent = "Your unsent text is back. " + extra;
    var drop = document.createElement("button");
    drop.type = "button";
    drop.className = "btn-link";
    drop.textContent = "Discard it";
    drop.addEventListener("click", function () { p.remove(); discard(); });
    p.appendChild(drop);
    return p;
  }
})();
