// The dispatcher's board: engineers' rows on a time axis, their routes on a Leaflet map, one
// selection shared by both, drag a visit onto another row to preview the move (the same preview
// page as the "Move to" list), the explanation panel, the plan run's progress bar, and a live
// refresh that polls /board/data with its ETag (a 304 costs nothing when nothing changed).
(function () {
  "use strict";
  var source = document.getElementById("board-data");
  var timeline = document.getElementById("timeline");
  if (!source || !timeline) return;
  var data = JSON.parse(source.textContent);
  var etag = '"' + source.getAttribute("data-etag") + '"';
  var selected = null;
  var map = null, layers = null, markers = {};

  function ms(iso) { return iso ? Date.parse(iso) : null; }
  function hhmm(iso) {
    if (!iso) return "";
    // 24-hour like the rest of the product (the browser's locale gave "07:00 PM" on the axis)
    return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: data.region.timezone });
  }
  // The axis covers the planned work (with an hour either side), else the shifts: a 24-hour
  // on-call shift must not squeeze a morning's visits into a sliver.
  // The axis: the planned work with an hour either side, and every shift whole. Fitted to the work
  // alone, a morning's plan hid each shift's afternoon: the free hours a dispatcher plans into, and
  // an absence there (a "training 13:00–15:00" squeezed against the right edge).
  function span() {
    var lo = null, hi = null;
    function take(t) { if (t === null) return; lo = lo === null ? t : Math.min(lo, t); hi = hi === null ? t : Math.max(hi, t); }
    data.engineers.forEach(function (e) {
      e.stops.forEach(function (s) {
        take(ms(s.travel_start || s.eta)); take(ms(s.end));
        if (s.planned) { take(ms(s.planned.start)); take(ms(s.planned.end)); }  // a started visit's plan, drawn faintly
      });
    });
    if (lo !== null) { lo -= 3600e3; hi += 3600e3; }
    data.engineers.forEach(function (e) { if (e.shift) { take(ms(e.shift.start)); take(ms(e.shift.end)); } });
    if (lo === null) { lo = Date.parse(data.day + "T06:00:00Z") - 3600e3; hi = lo + 14 * 3600e3; }
    return { lo: lo, hi: hi };
  }
  // The axis row goes into the timeline first: its lane's width, as laid out, says how many labels
  // fit (on a phone the lanes are wider than the box they scroll in).
  function axis(s) {
    var row = el("div", "trow axis");
    row.setAttribute("aria-hidden", "true");
    row.appendChild(el("div", "tname", ""));
    var lane = el("div", "tlane");
    row.appendChild(lane);
    timeline.appendChild(row);
    // As many whole-hour labels as fit the lane (a label is ~3.5 em wide): on a narrow board or a
    // long day they were drawn over each other ("02:00 PM|03:00").
    var room = Math.max(2, Math.floor(lane.clientWidth / 56));
    var step = Math.max(1, Math.ceil((s.hi - s.lo) / 3600e3 / Math.min(room, 12))) * 3600e3;
    var last = s.hi - 0.05 * (s.hi - s.lo);  // a label at the right edge would be cut off
    for (var t = Math.ceil(s.lo / step) * step; t < last; t += step) {
      var tick = el("span", "tick", hhmm(new Date(t).toISOString()));
      tick.style.left = pct(t, s);
      lane.appendChild(tick);
    }
    return lane;
  }
  // The room above is a guess from an average label width; fonts differ between machines (a
  // label 35 px wide was cut off by the lane's edge on one). Once drawn, labels that run past the
  // lane's right edge or into the label before them are taken out.
  function fitTicks(lane) {
    if (!lane) return;
    var right = lane.getBoundingClientRect().right;
    var prevEnd = -Infinity;
    Array.prototype.slice.call(lane.querySelectorAll(".tick")).forEach(function (tick) {
      var box = tick.getBoundingClientRect();
      if (box.right > right || box.left < prevEnd) { lane.removeChild(tick); return; }
      prevEnd = box.right;
    });
  }
  // An absence from late in the day sits near the lane's right edge, which cut its label
  // ("Absent (sickne"): then it reads "Absent" (the whole text in its tooltip and the lane's
  // accessible name), and if even that does not fit it is drawn inside the lane, against the edge.
  // A band with both ends (a late start, a gap) keeps its place: its words are shortened the same
  // way when the band is narrower than them, and cut with an ellipsis when even "Absent" is wider.
  function fitAbsent(lane) {
    var away = lane.querySelector(".absent");
    if (!away) return;
    if (away.classList.contains("band")) {
      if (away.scrollWidth > away.clientWidth) away.textContent = "Absent";
      return;
    }
    var right = lane.getBoundingClientRect().right;
    if (away.getBoundingClientRect().right <= right) return;
    away.textContent = "Absent";
    if (away.getBoundingClientRect().right <= right) return;
    away.style.left = "auto";
    away.style.right = "0";
  }
  var TRACK_PX = 28;  // a lane's height per track (app.css .tlane)
  // The ETA is what the route and the customer's notice say; the engine's earlier arrival, when
  // the engineer waits there (a visit kept by hand at 13:00, reached at 12:30), is said apart.
  function waits(st) { return st.arrival ? " (arrives " + hhmm(st.arrival) + ", waits)" : ""; }
  // What a visit's label says of it: once started, what happened ("arrived 01:35, done 01:36",
  // "on the way, ETA 09:10": app/planning/progress.py, drawn at those times) and the plan's slot it
  // had; before, its ETA and status. A visit done at 01:35 read "ETA 08:44, done" at 08:44.
  function when(st) {
    if (!st.progress) return "ETA " + hhmm(st.eta) + waits(st) + ", " + st.status;
    return st.progress + (st.planned ? " (planned " + hhmm(st.planned.start) + "–" + hhmm(st.planned.end) + ")" : "");
  }
  function pct(t, s) { return (100 * (t - s.lo) / (s.hi - s.lo)).toFixed(3) + "%"; }
  function width(a, b, s) { return (100 * Math.max(b - a, 60e3) / (s.hi - s.lo)).toFixed(3) + "%"; }
  function words(code) { return String(code || "").replace(/_/g, " "); }  // off_shift → off shift
  function el(tag, cls, text) { var n = document.createElement(tag); if (cls) n.className = cls; if (text) n.textContent = text; return n; }

  // The shift band; a gap ("training 13:00–15:00", shift.gap_start/gap_end) splits it in two, so
  // the shift shows before and after the absence and each part's tooltip gives its own hours (one
  // band "Shift 07:00–17:00" under the gap said they were working through it).
  // The stretches worked: a gap (training 13:00–15:00) splits the shift in two.
  function shiftParts(shift) {
    return shift.gap_start
      ? [[shift.start, shift.gap_start], [shift.gap_end, shift.end]]
      : [[shift.start, shift.end]];
  }
  function drawShift(lane, shift, s) {
    shiftParts(shift).forEach(function (p) {
      var sh = el("span", "shift"); sh.style.left = pct(ms(p[0]), s); sh.style.width = width(ms(p[0]), ms(p[1]), s);
      sh.title = "Shift " + hhmm(p[0]) + "–" + hhmm(p[1]); lane.appendChild(sh);
    });
  }
  // What a screen reader hears for a lane: the name, the absence, and for part of a day the hours
  // still worked, which sighted users read off the shift bands ("works 08:00–13:00, 15:00–17:00").
  function laneName(e) {
    if (!e.absent) return e.name;
    var works = e.shift
      ? "; works " + shiftParts(e.shift).map(function (p) { return hhmm(p[0]) + "–" + hhmm(p[1]); }).join(", ")
      : "";
    return e.name + " (absent: " + e.absent + works + ")";
  }
  // The hours an absence with an end takes (app/planning/board.py `_absent_band`): a late start
  // from where the shift would have started (absent_from; else the lane's start) to absent_until,
  // a gap from its start to its end, cut to the axis. null: none of it is on the axis, or it has
  // no end (the whole day, going home early: a label to the lane's end, as before).
  function absentSpan(e, s) {
    if (!e.absent_until) return null;
    var a = Math.max(e.absent_from ? ms(e.absent_from) : s.lo, s.lo), b = Math.min(ms(e.absent_until), s.hi);
    return b > a ? { a: a, b: b } : null;
  }
  // "Absent (dentist until 10:30)": the same words as the lane's accessible name, in the band's
  // tooltip too (fitAbsent may shorten what shows).
  function drawAbsent(lane, e, s) {
    var span = absentSpan(e, s);
    var away = el("span", span ? "absent band" : "absent", "Absent (" + e.absent + ")");
    away.title = away.textContent;
    if (span) {
      away.style.left = pct(span.a, s); away.style.width = width(span.a, span.b, s);
    } else if (e.absent_from && !(e.absent_until && ms(e.absent_until) <= s.lo)) {
      // from a time on (or a band starting past the axis' end: fitAbsent puts it against the edge);
      // an absence over before the axis begins stays at the lane's start
      away.style.left = pct(ms(e.absent_from), s);
    }
    lane.appendChild(away);
  }

  function drawRows() {
    var s = span();
    // a live refresh redraws the rows: a dispatcher scrolled to the afternoon on a phone stays there
    var scrolled = timeline.scrollLeft;
    timeline.innerHTML = "";
    // the day's length in hours: on a phone the lanes get a readable width per hour (app.css),
    // at least six (a short day still gets an hourly axis), at most sixteen (an unplanned day
    // spans a 24-hour shift: a metre of scrolling over empty lanes)
    var hours = Math.min(16, Math.max(6, Math.ceil((s.hi - s.lo) / 3600e3)));
    timeline.style.setProperty("--hours", String(hours));
    fitTicks(axis(s));
    data.engineers.forEach(function (e) {
      var row = el("div", "trow engineer");
      row.setAttribute("role", "listitem");
      row.dataset.engineer = e.id;
      var head = el("div", "tname", e.name);
      head.style.borderLeft = "6px solid " + e.colour;
      row.appendChild(head);
      var lane = el("div", "tlane");
      lane.setAttribute("aria-label", laneName(e));
      // Visits at the same time (two kept by hand at 17:00) are drawn one under the other, each on
      // its track (app/planning/board.py `_stack`): drawn over each other, one could not be clicked.
      var tracks = e.tracks || 1;
      if (tracks > 1) lane.style.height = (TRACK_PX * tracks) + "px";
      if (e.shift) {
        drawShift(lane, e.shift, s);
        if (e.shift.break_start) {
          var br = el("span", "brk"); br.style.left = pct(ms(e.shift.break_start), s); br.style.width = width(ms(e.shift.break_start), ms(e.shift.break_end), s);
          br.title = "Break"; lane.appendChild(br);
        }
      }
      if (e.absent) drawAbsent(lane, e, s);  // after the shift band, so it is drawn over it (it read "Abse… from 12:00)")
      e.stops.forEach(function (st) {
        var top = (st.track || 0) * TRACK_PX;
        if (st.travel_start) {
          // to the engine's arrival when the engineer waits there before the ETA given (`arrival`)
          var tr = el("span", "travel"); tr.style.left = pct(ms(st.travel_start), s); tr.style.width = width(ms(st.travel_start), ms(st.arrival || st.eta), s);
          if (top) tr.style.top = (top + 12) + "px";
          tr.title = "Travel"; lane.appendChild(tr);
        }
        if (st.kind === "break") return;
        if (st.planned) {
          // the plan's slot of a started visit, faint, for comparison (the block is where it happened)
          var was = el("span", "planned-slot"); was.style.left = pct(ms(st.planned.start), s); was.style.width = width(ms(st.planned.start), ms(st.planned.end), s);
          if (tracks > 1) { was.style.top = (top + 3) + "px"; was.style.bottom = "auto"; was.style.height = (TRACK_PX - 6) + "px"; }
          was.title = st.number + " planned " + hhmm(st.planned.start) + "–" + hhmm(st.planned.end);
          was.setAttribute("aria-hidden", "true");  // said in the block's accessible name
          lane.appendChild(was);
        }
        var b = el(st.work_order_id ? "button" : "span", "block " + st.kind + (st.at_risk || st.late_s > 0 ? " risk" : "") + (st.pinned ? " pinned" : "") + (st.outside_plan ? " outside" : ""));
        b.style.left = pct(ms(st.start), s); b.style.width = width(ms(st.start), ms(st.end), s);
        if (tracks > 1) { b.style.top = (top + 3) + "px"; b.style.bottom = "auto"; b.style.height = (TRACK_PX - 6) + "px"; }
        b.style.background = st.work_order_id ? e.colour : "";
        if (st.work_order_id) {
          b.type = "button";
          b.dataset.id = st.work_order_id;
          // The digits that differ ("2420", not "WO-0002…" cut off by a narrow block); the full
          // number and customer are in the label and the tooltip.
          b.textContent = st.number.replace(/^WO-0*/, "");
          // A pinned visit (the pin mark, app.css) says why in its tooltip and accessible name:
          // "pinned: scheduled by hand at 13:30 by Dana Dispatcher (…)"; re-plans keep it there.
          b.title = st.number + " · " + (st.customer || "") + (st.progress ? " · " + st.progress : "") + (st.pinned ? " · pinned: " + st.pin_note : "");
          b.setAttribute("aria-label", st.number + ", " + st.customer + ", " + when(st) +
            (st.at_risk ? ", at risk: " + st.at_risk : "") + (st.pinned ? ", pinned: " + st.pin_note : "") +
            (st.outside_plan ? ", scheduled outside the published plan" : ""));
          b.draggable = true;
          b.addEventListener("dragstart", function (ev) { ev.dataTransfer.setData("text/plain", String(st.work_order_id)); });
          b.addEventListener("click", function () { select(st.work_order_id); });
        } else {
          b.title = "Pick up at " + (st.warehouse || "warehouse");
        }
        lane.appendChild(b);
      });
      lane.addEventListener("dragover", function (ev) { ev.preventDefault(); lane.classList.add("drop"); });
      lane.addEventListener("dragleave", function () { lane.classList.remove("drop"); });
      lane.addEventListener("drop", function (ev) {
        ev.preventDefault(); lane.classList.remove("drop");
        var id = ev.dataTransfer.getData("text/plain");
        var from = id && timeline.querySelector('.block[data-id="' + id + '"]');
        var own = from && from.closest(".trow");
        if (own && own.dataset.engineer === String(e.id)) return;  // dropped back on its own row: no move
        if (id) window.location.href = "/board/visits/" + id + "/reassign?engineer_id=" + e.id + "&day=" + data.day;
      });
      row.appendChild(lane);
      timeline.appendChild(row);
      fitAbsent(lane);
    });
    timeline.scrollLeft = scrolled;
  }

  function drawMap() {
    var box = document.getElementById("board-map");
    if (!box || typeof window.L === "undefined") return;
    if (!map) {
      map = L.map(box, { zoomControl: true, attributionControl: false });
      box.classList.add("leaflet-ready");
    }
    if (layers) layers.remove();
    layers = L.layerGroup().addTo(map);
    markers = {};
    var all = [];
    data.engineers.forEach(function (e) {
      var pts = [[e.home.lat, e.home.lon]];
      e.stops.forEach(function (st) {
        if (st.lat == null) return;
        pts.push([st.lat, st.lon]);
        if (st.work_order_id) {
          var m = L.circleMarker([st.lat, st.lon], { radius: 7, color: e.colour, fillOpacity: 0.8 });
          m.bindTooltip(st.number + " · " + e.name);
          m.on("click", function () { select(st.work_order_id); });
          m.addTo(layers); markers[st.work_order_id] = m;
        }
      });
      if (pts.length > 1) L.polyline(pts, { color: e.colour, weight: 3, opacity: 0.8 }).addTo(layers);
      if (e.position) L.circleMarker([e.position.lat, e.position.lon], { radius: 5, color: "#000" }).bindTooltip(e.name + " (last position)").addTo(layers);
      all = all.concat(pts);
    });
    data.warehouses.forEach(function (w) {
      L.marker([w.lat, w.lon], { title: "Warehouse " + w.name, keyboard: true }).addTo(layers); all.push([w.lat, w.lon]);
    });
    data.unassigned.forEach(function (u) {
      var m = L.circleMarker([u.lat, u.lon], { radius: 7, color: "#555", dashArray: "3", fillOpacity: 0.2 });
      m.bindTooltip(u.number + " (unassigned)"); m.on("click", function () { select(u.work_order_id); });
      m.addTo(layers); markers[u.work_order_id] = m; all.push([u.lat, u.lon]);
    });
    if (all.length) map.fitBounds(L.latLngBounds(all).pad(0.1), { maxZoom: 13 });
  }

  function find(id) {
    var hit = null;
    data.engineers.forEach(function (e) { e.stops.forEach(function (st) { if (st.work_order_id === id) hit = { e: e, st: st }; }); });
    if (hit) return hit;
    data.unassigned.forEach(function (u) { if (u.work_order_id === id) hit = { e: null, st: u }; });
    return hit;
  }

  function select(id) {
    selected = id;
    document.querySelectorAll(".block.selected, #unassigned tr.selected").forEach(function (n) { n.classList.remove("selected"); });
    document.querySelectorAll('.block[data-id="' + id + '"], #unassigned tr[data-id="' + id + '"]').forEach(function (n) { n.classList.add("selected"); });
    Object.keys(markers).forEach(function (k) { markers[k].setStyle({ weight: Number(k) === id ? 6 : 3 }); });
    if (markers[id] && map) map.panTo(markers[id].getLatLng());
    var hit = find(id);
    var panel = document.getElementById("detail");
    if (!hit || !panel) return;
    panel.hidden = false;
    var st = hit.st;
    var body = document.getElementById("detail-body");
    body.innerHTML = "";
    var p = el("p", "", st.number + " · " + (st.customer || "") + " · " + st.priority + (hit.e ? " · " + hit.e.name + ", " + when(st) : " · not planned: " + words(st.reason)));
    body.appendChild(p);
    if (st.ticket_id) {  // the ticket page holds the visit's whole story (timeline, SLA, reports)
      var open = el("a", "small", "Open the ticket of " + st.number);
      open.href = "/desk/tickets/" + st.ticket_id;
      body.appendChild(el("p", "")).appendChild(open);
    }
    if (st.at_risk) body.appendChild(el("p", "alert", "At risk: " + st.at_risk));
    if (st.pinned) body.appendChild(el("p", "pin-note", "Pinned: " + st.pin_note));
    var move = document.getElementById("move-form");
    move.action = "/board/visits/" + id + "/reassign";
    // The engineer the visit is with is no choice: "moving" it to her re-planned her day.
    var to = document.getElementById("move-to");
    Array.prototype.forEach.call(to.options, function (o) {
      var mine = !!hit.e && o.value === String(hit.e.id);
      o.hidden = o.disabled = mine;
    });
    if (!to.value || to.options[to.selectedIndex].disabled) {
      var other = Array.prototype.find.call(to.options, function (o) { return !o.disabled; });
      if (other) to.value = other.value;
    }
    var pin = document.getElementById("pin-form");
    pin.hidden = !hit.e;
    if (hit.e) {
      pin.action = "/board/visits/" + id + "/pin";
      pin.querySelector("[name=version]").value = st.version;
      pin.querySelector("[name=pinned]").value = st.pinned ? "0" : "1";
      document.getElementById("pin-button").textContent = st.pinned ? "Unpin (let the planner choose again)" : "Pin to " + hit.e.name;
    }
    var explain = document.getElementById("explain");
    document.getElementById("explain-title").textContent = hit.e ? "Why this engineer" : "Why it is not planned";
    explain.innerHTML = "<p class='muted small'>Loading…</p>";
    fetch("/api/v1/work-orders/" + id + "/explain", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (x) {
        explain.innerHTML = "";
        if (!x) { explain.appendChild(el("p", "muted", "No explanation available.")); return; }
        var lines = [];
        if (x.reason) lines.push(x.reason + (x.unassigned_reason ? " (" + words(x.unassigned_reason) + ")" : ""));
        if (x.travel_added_m) lines.push("Adds " + (x.travel_added_m / 1000).toFixed(1) + " km of travel; the start can slip " + Math.round(x.slack_s / 60) + " min.");
        (x.alternatives || []).forEach(function (a) { lines.push("Instead " + (a.engineer_name || ("engineer " + a.engineer_id)) + ": " + (a.feasible ? cost(a.extra_cost) : "not feasible") + (a.note ? " — " + a.note : "")); });
        (x.candidates || []).forEach(function (c) { lines.push((c.engineer_name || ("engineer " + c.engineer_id)) + ": " + words(c.constraint) + (c.note ? " — " + c.note : "")); });
        if (!lines.length) lines.push(JSON.stringify(x).slice(0, 400));
        var ul = el("ul", "small");
        lines.filter(function (l, i) { return lines.indexOf(l) === i; })  // an engineer is listed once per reason
          .forEach(function (l) { ul.appendChild(el("li", "", l)); });
        explain.appendChild(ul);
      });
  }

  // An alternative's extra cost is in the planner's unit (a metre of travel): said in km, a
  // saving as one ("+-200000 cost" was the raw number).
  function cost(extra) {
    var km = (Math.abs(extra) / 1000).toFixed(1);
    return extra >= 0 ? "+" + km + " km equivalent" : "saves " + km + " km equivalent";
  }

  function bindSelect(root) {
    root.querySelectorAll(".select-visit").forEach(function (b) {
      b.addEventListener("click", function () { select(Number(b.dataset.id)); });
    });
  }
  bindSelect(document);

  // The same rows the server renders (board.html's loop, element for element), redrawn when a poll
  // brings new unassigned work. Texts come from the data as the server wrote them: the SLA due time
  // is `sla_due_local`, formatted on the region's clock by app/planning/board.py for both draws
  // (one source: formatting it here again drifted — "2026-12-11 09:38 UTC" beside "Fri 11 Dec 10:38").
  // desk/_macros.html priority_badge's classes:
  var PRIORITY_BADGE = { P1: "bad", P2: "warn", P3: "info", P4: "" };
  function label(code) { var t = words(code); return t.charAt(0).toUpperCase() + t.slice(1); }  // shared.label
  function drawUnassigned() {
    var tbody = document.querySelector("#unassigned tbody");
    if (!tbody) return;
    tbody.innerHTML = "";
    data.unassigned.forEach(function (u) {
      var tr = el("tr");
      tr.dataset.id = u.work_order_id; tr.dataset.number = u.number; tr.dataset.priority = u.priority;
      tr.dataset.reason = u.reason; tr.dataset.sla_due = u.sla_due || "9999";
      var b = el("button", "btn-link select-visit", u.number); b.type = "button"; b.dataset.id = u.work_order_id;
      var td = el("td"); td.appendChild(b); tr.appendChild(td);
      var badge = el("span", ("badge " + (PRIORITY_BADGE[u.priority] || "")).trim(), u.priority);
      badge.title = "Priority";
      td = el("td"); td.appendChild(badge); tr.appendChild(td);
      tr.appendChild(el("td", "", u.customer));
      var reason = el("td", "", label(u.reason) + " ");
      reason.appendChild(el("span", "small muted", u.detail));
      if (u.at_risk) { reason.appendChild(document.createTextNode(" ")); reason.appendChild(el("span", "badge bad", "At risk")); }
      tr.appendChild(reason);
      var due = el("td", "", u.sla_due ? "" : "—");
      if (u.sla_due) { var time = el("time", "", u.sla_due_local); time.setAttribute("datetime", u.sla_due); due.appendChild(time); }
      tr.appendChild(due);
      var form = el("form", "inline"); form.method = "get"; form.action = "/board/visits/" + u.work_order_id + "/reassign";
      var dayInput = el("input"); dayInput.type = "hidden"; dayInput.name = "day"; dayInput.value = data.day; form.appendChild(dayInput);
      // a visually hidden label, as on the first draw (screen readers read "Engineer for WO-…")
      var name = el("label", "visually-hidden", "Engineer for " + u.number); name.htmlFor = "assign-" + u.work_order_id;
      form.appendChild(name);
      var pick = el("select"); pick.name = "engineer_id"; pick.id = "assign-" + u.work_order_id;
      // its first choice, as on the first draw; filled when opened (openAssign)
      fillAssign(pick, u, false);
      form.appendChild(pick);
      var go = el("button", "btn small", "Preview"); go.type = "submit"; form.appendChild(go);
      // (the server's row also holds a <noscript> link to the list whole: nothing with a script)
      var last = el("td"); last.appendChild(form); tr.appendChild(last);
      tbody.appendChild(tr);
    });
    var title = document.getElementById("unassigned-title");
    if (title) title.textContent = "Unassigned work (" + data.unassigned.length + ")";
    bindSelect(tbody);
  }

  // The Assign lists (app/planning/board.py `_choices`): a visit's `u.choices` are groups of
  // engineer ids, in the order a dispatcher would pick, and each engineer's text is on their row
  // once (`assign_text`). A list is drawn with its first choice (the one preselected) and filled
  // when the dispatcher focuses or opens it: ~100 lists of 100 engineers were 10 000 options sent
  // and drawn up front at 100 engineers / 1 000 visits.
  function assignTexts(d) {
    var texts = {};
    d.engineers.forEach(function (e) { texts[e.id] = e.assign_text; });
    return texts;
  }
  // A list drawn with one choice is as narrow as that choice and would widen as it is filled,
  // moving the table's columns under the pointer. A hidden option with the list's widest text keeps the width
  // the whole list has (narrowing as before in a narrow window); the fill takes it out. Chromium
  // sizes a list by its widest option, one in a group indented by four spaces; the texts are
  // measured once per data with the lists' font.
  var widths = { data: null };
  function widthOf(id, grouped) {
    if (widths.data !== data) {
      var ctx = document.createElement("canvas").getContext("2d");
      var cs = window.getComputedStyle(document.getElementById("unassigned") || document.body);
      if (ctx) ctx.font = cs.fontStyle + " " + cs.fontWeight + " " + cs.fontSize + " " + cs.fontFamily;
      widths = { data: data, plain: {}, grouped: {} };
      data.engineers.forEach(function (e) {
        widths.plain[e.id] = ctx ? ctx.measureText(e.assign_text).width : e.assign_text.length;
        widths.grouped[e.id] = ctx ? ctx.measureText("    " + e.assign_text).width : e.assign_text.length + 4;
      });
    }
    return (grouped ? widths.grouped : widths.plain)[id] || 0;
  }
  function addSizer(pick, u, texts) {
    var widest = null;
    (u.choices || []).forEach(function (g) {
      g.ids.forEach(function (id) {
        var w = widthOf(id, !!g.label);
        if (!widest || w > widest.w) widest = { w: w, id: id, grouped: !!g.label };
      });
    });
    if (!widest) return;
    var sizer = el("option", "", texts[widest.id]); sizer.value = ""; sizer.hidden = sizer.disabled = true;
    var into = pick;
    if (widest.grouped) { into = el("optgroup"); into.label = ""; into.hidden = true; pick.appendChild(into); }
    into.appendChild(sizer);
  }
  function fillAssign(pick, u, whole) {
    var texts = assignTexts(data), keep = pick.value;
    pick.textContent = "";
    (u.choices || []).some(function (g) {
      var into = pick;
      if (g.label) { into = el("optgroup"); into.label = g.label; pick.appendChild(into); }
      (whole ? g.ids : g.ids.slice(0, 1)).forEach(function (id) {
        var o = el("option", "", texts[id]); o.value = id; into.appendChild(o);
      });
      return !whole;  // the first choice only: the first group's first id
    });
    if (!whole) addSizer(pick, u, texts);
    if (keep) pick.value = keep;
    if (pick.selectedIndex < 0 && pick.options.length) pick.selectedIndex = 0;
    pick.assignWhole = whole;
  }
  function rowOf(tr) {
    return tr && data.unassigned.filter(function (x) { return String(x.work_order_id) === tr.dataset.id; })[0];
  }
  // Before the browser acts on the event (focus by Tab or a click, the pointer that opens the
  // list, a key): the list it then shows or moves through is whole.
  function openAssign(ev) {
    var pick = ev.target;
    if (!pick || pick.tagName !== "SELECT" || pick.name !== "engineer_id" || pick.assignWhole) return;
    var u = rowOf(pick.closest("tr[data-id]"));
    if (u) fillAssign(pick, u, true);
  }
  (function () {
    var table = document.getElementById("unassigned");
    if (!table) return;
    ["focusin", "pointerdown", "mousedown", "keydown"].forEach(function (type) { table.addEventListener(type, openAssign); });
    table.addEventListener("touchstart", openAssign, { passive: true });
    // the server's rows as drawUnassigned draws them (its first choice and the width's option); a
    // list the server drew whole (?assign=, the way without JavaScript) stays whole
    table.querySelectorAll("tbody select[name=engineer_id]").forEach(function (pick) {
      var u = rowOf(pick.closest("tr[data-id]"));
      if (u) fillAssign(pick, u, pick.options.length > 1);
    });
  })();
  document.querySelectorAll("#unassigned [data-sort]").forEach(function (b) {
    b.addEventListener("click", function () {
      var key = b.dataset.sort, tbody = document.querySelector("#unassigned tbody");
      var rows = Array.prototype.slice.call(tbody.rows);
      rows.sort(function (x, y) { return (x.dataset[key] || "").localeCompare(y.dataset[key] || ""); });
      rows.forEach(function (r) { tbody.appendChild(r); });
    });
  });

  function refresh() {
    var q = "?region=" + data.region.id + "&day=" + data.day;
    fetch("/board/data" + q, { headers: { "If-None-Match": etag }, credentials: "same-origin" })
      .then(function (r) {
        document.getElementById("live-status").textContent = "live · checked " +
          new Date().toLocaleTimeString([], { hourCycle: "h23", timeZone: data.region.timezone });  // 24 h, like the axis
        if (r.status !== 200) return null;
        etag = r.headers.get("ETag") || etag;
        return r.json();
      })
      .then(function (fresh) {
        if (!fresh) return;
        // the Assign lists' texts are on the engineers' rows: a changed one redraws the lists too
        var unassignedChanged = JSON.stringify(fresh.unassigned) !== JSON.stringify(data.unassigned) ||
          JSON.stringify(assignTexts(fresh)) !== JSON.stringify(assignTexts(data));
        data = fresh;
        drawRows(); drawMap();
        if (unassignedChanged) drawUnassigned();
        document.getElementById("plan-info").textContent = data.run
          ? "Published plan: run " + data.run.id + " (" + data.run.kind + ")" : "No plan published for this day yet.";
        if (selected) select(selected);
      })
      .catch(function () { document.getElementById("live-status").textContent = "offline, retrying"; });
  }

  var progress = document.getElementById("plan-progress");
  function followRun() {
    var run = progress && progress.dataset.run;
    if (!run) return;
    fetch("/api/v1/plans/" + run, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (x) {
      document.getElementById("plan-bar").value = x.status === "published" || x.status === "unchanged" ? 100 : x.progress || 0;
      var text = x.status + (x.progress ? " · " + x.progress + " %" : "");
      if (x.summary && x.summary.served !== undefined) text += " · served " + x.summary.served;
      document.getElementById("plan-status").textContent = text;
      if (["queued", "running"].indexOf(x.status) >= 0) window.setTimeout(followRun, 700);
      else if (x.status === "proposed" && !document.getElementById("proposal-title")) window.location.reload();
      else refresh();
    });
  }

  drawRows();
  drawMap();
  followRun();
  window.setInterval(refresh, 3000);
})();
