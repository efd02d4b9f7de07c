// The position map (templates/_map.html): the places listed under it, over the configured
// tiles or, without them, the country outlines shipped with the site, and the MGRS grid the
// server computed (web/position_map.py) with its numbers along the map's top and left edges.
// Nothing here asks anything of another origin unless a tile source is configured.
(() => {
  "use strict";
  const L = window.L;
  if (!L) return;
  const colours = { claimed: "#b91c1c", file: "#1d4f91", telemetry: "#2f6b2f", osd: "#7a3e9d" };
  // A finer grid shows while its lines are at least this far apart on screen.
  const MIN_GAP_PX = 32;

  function label(text, className) {
    const el = document.createElement("span");
    el.textContent = text;  // text, never markup
    return L.marker([0, 0], {
      icon: L.divIcon({ html: el, className, iconSize: null }),
      interactive: false, keyboard: false,
    });
  }

  // Where a polyline crosses a latitude (for north-running lines) or a longitude (east-running).
  function crossing(points, axis, value) {
    const k = axis === "e" ? 0 : 1;
    for (let i = 1; i < points.length; i += 1) {
      const a = points[i - 1], b = points[i];
      if ((a[k] - value) * (b[k] - value) <= 0 && a[k] !== b[k]) {
        const t = (value - a[k]) / (b[k] - a[k]);
        return [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
      }
    }
    return null;
  }

  // The zoom buttons' corner, where a margin number would hide half under them.
  function underControls(point) {
    return point.x < 52 && point.y < 88;
  }

  function drawGrid(map, levels) {
    const drawn = levels.map((level) => {
      const group = L.layerGroup();
      level.lines.forEach((line) => {
        L.polyline(line.points, {
          color: "#334155", weight: Math.log10(level.step) - 2.2, opacity: 0.6, interactive: false,
        }).addTo(group);
      });
      const squares = level.squares.map((sq) => label(sq.label, "grid-square").setLatLng(sq.at));
      const edges = level.lines.filter((line) => line.label).map((line) => ({
        line, marker: label(line.label, `grid-label grid-label-${line.axis}`),
      }));
      return { level, group, squares, edges };
    });

    function place() {
      const view = map.getBounds();
      const size = map.getSize();
      // Margin numbers sit just inside the top edge (eastings) and the left edge (northings).
      const top = map.containerPointToLatLng([size.x / 2, 10]).lat;
      const left = map.containerPointToLatLng([12, size.y / 2]).lng;
      const metresPerPx = map.distance(map.containerPointToLatLng([0, size.y / 2]),
        map.containerPointToLatLng([size.x, size.y / 2])) / size.x;
      // Numbers only on the finest level shown: the coarser lines are among its own.
      const shown = drawn.filter(({ level }) => level.step / metresPerPx >= MIN_GAP_PX);
      const finest = shown.length ? Math.min(...shown.map(({ level }) => level.step)) : 0;
      drawn.forEach(({ level, group, squares, edges }) => {
        const show = shown.some((d) => d.level === level);
        if (show) group.addTo(map); else group.remove();
        squares.forEach((m) => (show && view.contains(m.getLatLng()) ? m.addTo(map) : m.remove()));
        edges.forEach(({ line, marker }) => {
          const at = level.step === finest && crossing(line.points, line.axis, line.axis === "e" ? top : left);
          if (at && view.contains(at) && !underControls(map.latLngToContainerPoint(at))) {
            marker.setLatLng(at).addTo(map);
          } else {
            marker.remove();
          }
        });
      });
    }
    map.on("moveend zoomend resize", place);
    place();
  }

  async function drawOutline(map, box) {
    map.attributionControl.addAttribution(box.dataset.credit || "");
    try {
      const response = await fetch(box.dataset.outline);
      if (!response.ok) return;
      L.geoJSON(await response.json(), {
        interactive: false,
        style: (f) => (f.properties.A3 === "UKR"
          ? { color: "#475569", weight: 1.6, fillColor: "#fbf7ea", fillOpacity: 1 }
          : { color: "#64748b", weight: 1, fillColor: "#eef0ea", fillOpacity: 1 }),
      }).addTo(map).bringToBack();
    } catch (e) {
      // No outline: the grid and the places still show, over the plain background.
    }
  }

  function start(box) {
    const list = box.closest(".position-map").querySelector(".map-places");
    const places = [...list.querySelectorAll("li[data-lat]")].map((li) => ({
      source: li.dataset.source,
      label: li.dataset.label,
      at: [Number(li.dataset.lat), Number(li.dataset.lon)],
    }));
    const map = L.map(box, { scrollWheelZoom: false, zoomControl: false });
    L.control.zoom({ zoomInTitle: box.dataset.zoomIn, zoomOutTitle: box.dataset.zoomOut }).addTo(map);
    map.attributionControl.setPrefix(false);
    if (box.dataset.tiles) {
      L.tileLayer(box.dataset.tiles, { maxZoom: 18 }).addTo(map);
    } else {
      box.classList.add("offline");
      drawOutline(map, box);
    }
    const claimed = places.find((p) => p.source === "claimed");
    places.forEach((p) => {
      const colour = colours[p.source] || "#333";
      if (claimed && p !== claimed) {
        L.polyline([claimed.at, p.at], { color: colour, dashArray: "4 4", interactive: false }).addTo(map);
      }
      const name = document.createElement("span");
      name.textContent = p.label;
      L.circleMarker(p.at, { radius: 7, color: colour, weight: 3, fillOpacity: 0.3 })
        .addTo(map).bindTooltip(name, { permanent: true, className: `place-label place-${p.source}` });
    });
    if (places.length) {
      map.fitBounds(L.latLngBounds(places.map((p) => p.at)).pad(0.4), { maxZoom: 13 });
    }
    drawGrid(map, JSON.parse(box.dataset.grid || "[]"));
  }

  document.querySelectorAll(".position-map .map").forEach((box) => {
    if (!box.dataset.started) {
      box.dataset.started = "1";
      start(box);
    }
  });
})();
