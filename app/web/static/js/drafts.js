// Unsent text on the ticket page and the engineer's visit page survives the page coming back for
// another form. Every form there posts and reloads the page, so a reply typed and then "Not
// helpful" clicked on a suggestion was gone, and so was a report typed before "I picked these up". A field marked data-draft="<key>" is kept in this tab's sessionStorage as
// it is typed, put back when the page returns with the field empty (with a note saying so), and
// forgotten when its own form is sent. Nothing leaves the browser; another tab starts clean.
(function () {
  "use strict";
  var store;
  try { store = window.sessionStorage; } catch (e) { return; }  // storage off: the page as it was
  if (!store) return;
  document.querySelectorAll("[data-draft]").forEach(function (field) {
    var key = "fieldline.draft." + field.getAttribute("data-draft");
    var kept = store.getItem(key);
    if (kept && !field.value) {
      field.value = kept;
      // a choice or a short field comes back quietly; a text with its note
      if (field.tagName !== "TEXTAREA") return watch(field, key);
      var note = document.createElement("p");
      note.className = "small muted draft-note";
      note.setAttribute("role", "status");
      note.textContent = "Your unsent text is back. ";
      var drop = document.createElement("button");
      drop.type = "button";
      drop.className = "btn-link";
      drop.textContent = "Discard it";
      drop.addEventListener("click", function () { field.value = ""; store.removeItem(key); note.remove(); field.focus(); });
      note.appendChild(drop);
      field.insertAdjacentElement("afterend", note);
    }
    watch(field, key);
  });

  function watch(field, key) {
    field.addEventListener("input", function () {
      if (field.value.trim()) store.setItem(key, field.value); else store.removeItem(key);
    });
    if (field.form) field.form.addEventListener("submit", function () { store.removeItem(key); });
  }
})();
