// Copies `data-copy` of the clicked button to the clipboard; pages work without it.
document.addEventListener('click', function (e) {
  var b = e.target.closest('button[data-copy]');
  if (!b || !navigator.clipboard) return;
  navigator.clipboard.writeText(b.dataset.copy).then(function () {
    var t = b.textContent;
    b.textContent = b.dataset.done;
    setTimeout(function () { b.textContent = t; }, 1500);
  });
});
