// Keeps the registers list and a register's page current while a register is in flight.
//
// Rows are marked by the admin (data-regsync-register, data-regsync-pending on the sync
// state). While any shown row is pending, this asks the admin's JSON endpoint for their
// sync cells every few seconds and puts them in place; once none is pending it stops.
// It never polls a page with nothing in flight, nor a hidden tab.
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script.dataset.url;
  var interval = parseInt(script.dataset.interval, 10) || 5000;
  var view = script.dataset.view;

  function marks() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-regsync-register]"));
  }

  function pendingIds() {
    return marks()
      .filter(function (el) { return el.dataset.regsyncPending === "1"; })
      .map(function (el) { return el.dataset.regsyncRegister; });
  }

  function scopeOf(mark) {
    return view === "list" ? mark.closest("tr") : mark.closest("form") || document;
  }

  function place(mark, cells) {
    var scope = scopeOf(mark);
    Object.keys(cells).forEach(function (name) {
      var cell = scope.querySelector(".field-" + name);
      if (!cell) { return; }
      var target = cell.tagName === "TD" ? cell : cell.querySelector(".readonly") || cell;
      target.innerHTML = cells[name];
    });
  }

  function setStatus(status) {
    document.body.dataset.regsyncLive = status;
  }

  function poll() {
    var ids = pendingIds();
    if (!ids.length) { setStatus("idle"); return; }
    if (document.hidden) { schedule(); return; }
    var query = "?view=" + encodeURIComponent(view) + "&ids=" + ids.join(",");
    fetch(url + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        marks().forEach(function (mark) {
          var row = data.registers[mark.dataset.regsyncRegister];
          if (row) { place(mark, row.cells); }
        });
        schedule();
      })
      .catch(function () {
        // Logged out, or the server is away: stop; a reload starts again.
        setStatus("stopped");
      });
  }

  function schedule() {
    setStatus("polling");
    window.setTimeout(poll, interval);
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (pendingIds().length) { schedule(); } else { setStatus("idle"); }
  });
})();
