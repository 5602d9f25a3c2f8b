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
    var icon = L.divIcon({
      className: "stop-pin " + p.kind,
      html: "<span>" + p.seq + "</span>",
      iconSize: [26, 26],
      iconAnchor: [13, 13],
    });
    var marker = L.marker([p.lat, p.lon], { icon: icon, title: p.seq + ". " + p.label, keyboard: true });
    if (p.href) {
      marker.on("click", function () { window.location.href = p.href; });
    }
    marker.addTo(map);
  });
  map.fitBounds(L.latLngBounds(latlngs).pad(0.15), { maxZoom: 15 });
})();
