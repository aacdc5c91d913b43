(function () {
  function cellValue(td) {
    var v = td.getAttribute('data-sort'); if (v === null) v = td.textContent.trim();
    return v;
  }
  function sortTable(table, col, th) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var desc = th.getAttribute('aria-sort') === 'ascending';
    var numeric = rows.every(function (r) { var v = cellValue(r.cells[col]); return v === '' || !isNaN(Number(v)); });
    rows.sort(function (a, b) {
      var x = cellValue(a.cells[col]), y = cellValue(b.cells[col]);
      if (x === '' && y !== '') return 1; if (y === '' && x !== '') return -1;
      var c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return desc ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', desc ? 'descending' : 'ascending');
  }
  document.querySelectorAll('table.data').forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener('click', function () { sortTable(table, col, th); });
    });
  });
  document.querySelectorAll('input[data-filter]').forEach(function (input) {
    var table = document.getElementById(input.getAttribute('data-filter'));
    var count = document.getElementById(input.getAttribute('data-filter') + '-count');
    input.addEventListener('input', function () {
      var terms = input.value.toLowerCase().split(/\s+/).filter(Boolean), shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var text = row.textContent.toLowerCase();
        var hit = terms.every(function (t) { return text.indexOf(t) >= 0; });
        row.hidden = !hit; if (hit) shown++;
      });
      if (count) count.textContent = shown + ' of ' + table.tBodies[0].rows.length + ' rows';
    });
  });
  function focusEvidence() {
    document.querySelectorAll('.seg.focus').forEach(function (s) { s.classList.remove('focus'); });
    var m = /^#ev-(.+)$/.exec(location.hash);
    if (!m) return;
    var id = decodeURIComponent(m[1]);
    document.querySelectorAll('.seg').forEach(function (s) {
      if ((' ' + s.getAttribute('data-ev') + ' ').indexOf(' ' + id + ' ') >= 0) s.classList.add('focus');
    });
  }
  window.addEventListener('hashchange', focusEvidence);
  focusEvidence();
  var pop = document.getElementById('popover');
  if (pop) {
    document.addEventListener('click', function (e) {
      var seg = e.target.closest ? e.target.closest('a.seg') : null;
      if (!seg) { if (!pop.contains(e.target)) pop.style.display = 'none'; return; }
      var ids = seg.getAttribute('data-ev').split(' ');
      if (ids.length < 2) return;
      e.preventDefault();
      pop.innerHTML = '';
      var head = document.createElement('div'); head.textContent = 'This passage supports:'; pop.appendChild(head);
      var list = document.createElement('ul'); pop.appendChild(list);
      ids.forEach(function (id) {
        var source = document.getElementById('evrow-' + id);
        var link = source ? source.querySelector('a.record') : null;
        if (!link) return;
        var li = document.createElement('li'), a = link.cloneNode(true); li.appendChild(a); list.appendChild(li);
      });
      var r = seg.getBoundingClientRect();
      pop.style.left = (window.scrollX + r.left) + 'px'; pop.style.top = (window.scrollY + r.bottom + 4) + 'px';
      pop.style.display = 'block';
    });
  }
})();
