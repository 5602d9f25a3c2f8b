// Unsent text on the ticket page and the engineer's visit page survives the page coming back for
// another form. Every form there posts and reloads the page, so a reply typed and then "Not
// helpful" clicked on a suggestion was gone, and so was a report typed before "I picked these up". A field marked data-draft="<key>" is kept in this tab's sessionStorage as
// it is typed, put back when the page returns with the field empty (with a note saying so), and
// forgotten when its own form is sent. Nothing leaves the browser; another tab starts clean.
//
// A field the page fills in itself (data-draft-prefilled: the knowledge box starts with the
// ticket's subject) is put back when it still holds that value, always with the note; a field
// outside a form names the forms that finish it (data-draft-sent-by, a CSS selector). A restored
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

  document.querySelectorAll("[data-draft]").forEach(function (field) {
    var key = PREFIX + field.getAttribute("data-draft");
    var kept = store.getItem(key);
    var prefilled = field.hasAttribute("data-draft-prefilled");
    var untouched = prefilled ? field.value === field.defaultValue : !field.value;
    if (kept && untouched && kept !== field.value) {
      field.value = kept;
      field.dispatchEvent(new Event("input", { bubbles: true }));
      // a choice or a short field comes back quietly; a text, or a value put over the page's own, with its note
      if (field.tagName === "TEXTAREA" || prefilled) {
        field.insertAdjacentElement("afterend", note("", function () {
          field.value = field.defaultValue;  // empty, or the page's own value (the subject)
          store.removeItem(key);
          field.dispatchEvent(new Event("input", { bubbles: true }));
          field.focus();
        }));
      }
    }
    field.addEventListener("input", function () {
      var text = field.value.trim();
      if (text && !(prefilled && field.value === field.defaultValue)) store.setItem(key, field.value);
      else store.removeItem(key);
    });
    if (field.form) field.form.addEventListener("submit", function () { store.removeItem(key); });
    var sentBy = field.getAttribute("data-draft-sent-by");
    if (sentBy) {
      document.addEventListener("submit", function (event) {
        // a form whose sending was called off (kb-suggest.js asks before "This solved it") keeps it
        if (!event.defaultPrevented && event.target.matches(sentBy)) store.removeItem(key);
      });
    }
  });

  document.querySelectorAll("form[data-draft-form]").forEach(editForm);

  // The edit form's draft holds the fields the agent changed (a field differs from its base_
  // value) with what they were typed against: the form's version and each changed field's base.
  // It goes back only into the form as the server opened it (a refused or conflicting save comes
  // back with the agent's input already in), and only into those fields; every hidden value stays
  // as rendered, except when one of those fields was saved with another value meanwhile: then
  // that field takes back the base it was typed against and the form its old version, so Save is
  // the stale edit it is and goes through the server's conflict check as usual (a field both
  // changed is shown side by side, 409) instead of the draft silently overwriting a value the
  // agent never saw. The note names such fields. A change meanwhile to fields the agent did not
  // touch needs nothing: the form shows it, as rendered, and saves it unchanged.
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
    fields.forEach(function (f) {
      f.addEventListener("input", save);
      f.addEventListener("change", save);
    });
    form.addEventListener("submit", function () { store.removeItem(key); });

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
