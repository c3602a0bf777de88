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
