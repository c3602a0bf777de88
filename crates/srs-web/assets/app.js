// Keyboard: "/" puts the cursor in the page's search box (as on many
// sites), unless the user is already typing somewhere. Pages work fully
// without this script.
document.addEventListener('keydown', function (event) {
  if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return;
  var target = event.target;
  if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
  var search = document.querySelector('input[type="search"], input[name="q"]');
  if (!search) return;
  event.preventDefault();
  search.focus();
  search.select();
});

// Times: the server writes them in UTC; shown here in the reader's own
// time zone and date format, with the UTC original kept as a tooltip.
(function () {
  var styles = {
    date: { year: 'numeric', month: '2-digit', day: '2-digit' },
    minute: { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' },
    second: { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' }
  };
  function localise() {
    document.querySelectorAll('time[data-local]').forEach(function (t) {
      var at = new Date(t.getAttribute('datetime'));
      var style = styles[t.getAttribute('data-local')];
      if (isNaN(at.getTime()) || !style || t.hasAttribute('data-localised')) return;
      try {
        var shown = new Intl.DateTimeFormat(undefined, style).format(at);
        t.title = t.textContent;
        t.textContent = shown;
        t.setAttribute('data-localised', '');
      } catch (e) { /* an unknown locale keeps the UTC text */ }
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', localise);
  else localise();
})();

// Keyboard: after a search the keyboard starts at the results (not 29
// tabs above them), and after a save at the message that says it was
// saved, so the next Tab goes on from there.
(function () {
  function place() {
    var flash = document.getElementById('flash');
    var count = document.getElementById('result-count');
    var searched = /[?&]q=[^&]/.test(window.location.search);
    var target = flash || (searched ? count : null);
    if (!target || document.activeElement && document.activeElement !== document.body) return;
    target.setAttribute('tabindex', '-1');
    target.focus({ preventScroll: !flash });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', place);
  else place();
})();

// The bulk panel says how many rows are ticked (without this script the
// review page is the first to count them).
(function () {
  function count() {
    var shown = document.getElementById('ticked-count');
    if (!shown) return;
    var n = document.querySelectorAll('input[name="ids"][form="bulk"]:checked').length;
    shown.textContent = '(' + n + ' ticked)';
  }
  document.addEventListener('change', function (event) {
    if (event.target && event.target.name === 'ids') count();
  });
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', count);
  else count();
})();
