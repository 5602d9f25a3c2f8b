// The engineer's route on a Leaflet map. The server already drew a plain sketch; it stays when
// Leaflet is not installed. Without network the tiles fail and the route shows on a plain
// background.
(function () {
  "use strict";
  var box = document.getElementById("route-map");
  var source = document.getElementById("route-data");
  if (!box || !source || typeof window.L === "undefined") return;
  var data = JSON.parse(source.textContent);
  if (!data.points.length) return;
  // The list's numbers (route.html works them out: visits 1, 2, …, a pickup "P"), by the point's
  // seq: the points' own seq counts the break and the pickups, so a visit read "3" of "2 visits".
  var marks = JSON.parse(box.getAttribute("data-marks") || "{}");

  box.innerHTML = "";
  box.classList.add("leaflet-ready");
  var map = L.map(box, { zoomControl: true, attributionControl: !!data.tiles });
  if (data.tiles) {
    L.tileLayer(data.tiles, {
      maxZoom: 19,
      attribution: "&copy; OpenStreetMap contributors",
    }).addTo(map);
  }
  var latlngs = data.points.map(function (p) { return [p.lat, p.lon]; });
  L.polyline(latlngs, { color: "#0b5cad", weight: 4, opacity: 0.8 }).addTo(map);
  data.points.forEach(function (p) {
    var mark = marks[String(p.seq)] || "";
    var pin = document.createElement("span");
    pin.textContent = mark;
    var icon = L.divIcon({
      className: "stop-pin " + p.kind,
      html: pin.outerHTML,
      iconSize: [26, 26],
      iconAnchor: [13, 13],
    });
    var title = p.kind === "pickup" ? "Pick up at " + p.label : (mark ? mark + ". " : "") + p.label;
    var marker = L.marker([p.lat, p.lon], { icon: icon, title: title, keyboard: true });
    if (p.href) {
      marker.on("click", function () { window.location.href = p.href; });
    }
    marker.addTo(map);
  });
  map.fitBounds(L.latLngBounds(latlngs).pad(0.15), { maxZoom: 15 });
})();
